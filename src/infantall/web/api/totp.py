"""The TOTP second factor: enrol (secret shown once), confirm, and an admin's disable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from infantall.registry import auth as auth_service
from infantall.registry import totp as totp_service
from infantall.registry.text import CODE_PATTERN, Reason
from infantall.web.api.auth import client_address
from infantall.web.deps import CurrentUser, HasherDep, LimiterDep, SessionDep, SettingsDep

__all__ = ["router"]

router = APIRouter(tags=["auth"])
_STRICT = ConfigDict(extra="forbid", str_max_length=4000)
TotpCode = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="6-digit one-time code")]


class TotpEnrolRequest(BaseModel):
    """Your username and password."""

    model_config = _STRICT

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class TotpConfirmRequest(TotpEnrolRequest):
    """Your username, password and a first code of the authenticator app."""

    code: TotpCode


class TotpEnrolment(BaseModel):
    """The new secret, shown once: scan ``otpauth_uri`` as a QR code or type ``secret``."""

    username: str
    issuer: str
    secret: str
    otpauth_uri: str


class TotpStatus(BaseModel):
    """Whether an account's second factor is enabled."""

    username: str
    totp_enabled: bool


class TotpDisableRequest(BaseModel):
    """Why the second factor is removed (audited)."""

    model_config = _STRICT

    reason: Reason


@router.post("/auth/totp/enrol", response_model=TotpEnrolment)
def enrol(
    request: Request,
    body: TotpEnrolRequest,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
) -> TotpEnrolment:
    """Start (or restart) an enrolment: a new secret, shown only in this answer and stored
    encrypted. Confirm it with a first code. 409 ``totp_already_enabled`` once enabled."""
    limiter.check_login(client_address(request), body.username)
    new = auth_service.enrol_totp(session, settings, hasher, body.username, body.password)
    return TotpEnrolment(
        username=new.username, issuer=new.issuer, secret=new.secret, otpauth_uri=new.otpauth_uri
    )


@router.post("/auth/totp/confirm", response_model=TotpStatus)
def confirm(
    request: Request,
    body: TotpConfirmRequest,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
) -> TotpStatus:
    """Enable the pending second factor with a first valid code; every later login needs a
    code (``totp_code``)."""
    limiter.check_login(client_address(request), body.username)
    auth_service.confirm_totp(session, settings, hasher, body.username, body.password, body.code)
    return TotpStatus(username=body.username, totp_enabled=True)


@router.post("/users/{username}/totp/disable", response_model=TotpStatus)
def disable(
    body: TotpDisableRequest,
    user: CurrentUser,
    session: SessionDep,
    username: str = Path(pattern=CODE_PATTERN),
) -> TotpStatus:
    """Remove an account's second factor (admin; audited with the reason)."""
    totp_service.disable_totp(session, user, username, body.reason)
    return TotpStatus(username=username, totp_enabled=False)
