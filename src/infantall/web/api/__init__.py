"""The JSON API (``/api/v1``): one router per resource."""

from fastapi import APIRouter

from infantall.web.api import admin, auth, data, patients, signatures, totp, trials

__all__ = ["router"]

router = APIRouter()
for _module in (auth, totp, admin, patients, signatures, data, trials):
    router.include_router(_module.router)
