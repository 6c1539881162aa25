"""The e-signature forms of the patient page: sign (investigators) and unlock.

They call :mod:`infantall.registry.signatures`, as the JSON API does: a wrong password, a
record changed since it was shown (``stale_content``) or an unlock without a reason is an
error page with the service's message and status; nothing is signed or unlocked then.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from infantall.registry import signatures as signature_service
from infantall.registry.errors import NotFoundError
from infantall.registry.models import Role
from infantall.registry.signatures import SignRequest, UnlockRequest
from infantall.registry.text import ID_PATTERN
from infantall.web.deps import HasherDep, SessionDep, SettingsDep
from infantall.web.pages.forms import validate_model
from infantall.web.pages.rendering import CheckedForm, PageRoute, PageUser, redirect

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PatientId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.post("/patients/{pid}/sign")
def sign(
    pid: PatientId,
    user: PageUser,
    form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
) -> Response:
    """Sign the data set shown (its digest travels with the form) and lock it."""
    body = {
        "password": str(form.get("password") or ""),
        "meaning": str(form.get("meaning") or ""),
        "content_digest": str(form.get("content_digest") or "") or None,
    }
    data = validate_model(SignRequest, body)
    assert isinstance(data, SignRequest)
    signature_service.sign_patient(session, settings, hasher, user, pid, data)
    return redirect(f"/patients/{pid}?done=signed")


@router.post("/patients/{pid}/unlock")
def unlock(pid: PatientId, user: PageUser, form: CheckedForm, session: SessionDep) -> Response:
    """Unlock a signed patient with a reason."""
    data = validate_model(UnlockRequest, {"reason": str(form.get("reason") or "")})
    assert isinstance(data, UnlockRequest)
    signature_service.unlock_patient(session, user, pid, data)
    if user.role is Role.coordinator:  # no patient page for the pooled view (pooled_only)
        return redirect(f"/coordinator?done=unlocked&unlocked={pid}")
    return redirect(f"/patients/{pid}?done=unlocked")


@router.post("/coordinator/unlock")
def unlock_by_id(user: PageUser, form: CheckedForm, session: SessionDep) -> Response:
    """Unlock a signed patient named by its registry id (the coordinator's form: they have
    no patient page)."""
    pid = str(form.get("pid") or "").strip()
    if not re.fullmatch(ID_PATTERN, pid):
        raise NotFoundError("no such patient")
    return unlock(pid, user, form, session)
