"""The TOTP second factor: enrol (secret shown once), confirm, an admin's disable, and the
one-time enrolment codes admins issue for admin and coordinator accounts (production)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from infantall.registry import auth as auth_service
from infantall.registry import totp as totp_service
from infantall.registry.text import CODE_PATTERN, Reason
from infantall.web.deps import CurrentUser, HasherDep, LimiterDep, SessionDep, SettingsDep
from infantall.web.ratelimit import client_address

__all__ = ["router"]

router = APIRouter(tags=["auth"])
_STRICT = ConfigDict(extra="forbid", str_max_length=4000)
TotpCode = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="6-digit one-time code")]


class TotpEnrolRequest(BaseModel):
    """Your username and password."""

    model_config = _STRICT

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class TotpStartRequest(TotpEnrolRequest):
    """Your username and password; for an admin or coordinator account in production, also
    the one-time ``enrolment_code`` another administrator issued."""

    enrolment_code: Annotated[
        str | None, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")
    ] = None


class TotpConfirmRequest(TotpEnrolRequest):
    """Your username, password and a first code of the authenticator app."""

    code: TotpCode


class EnrolmentCodePublic(BaseModel):
    """A one-time enrolment code, shown only in this answer."""

    username: str
    enrolment_code: str
    expires_at: dt.datetime


_ENROL_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "``totp_enrolment_code_required`` / ``totp_enrolment_code_invalid``"
          " (admin and coordinator accounts in production)"},
    409: {"description": "``totp_already_enabled``"},
}  # fmt: skip


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


@router.post("/auth/totp/enrol", response_model=TotpEnrolment, responses=_ENROL_RESPONSES)
def enrol(
    request: Request,
    body: TotpStartRequest,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
) -> TotpEnrolment:
    """Start (or restart) an enrolment: a new secret, shown only in this answer and stored
    encrypted. Confirm it with a first code. 409 ``totp_already_enabled`` once enabled. In
    production an admin or coordinator account also sends ``enrolment_code`` (403
    ``totp_enrolment_code_required`` without, ``totp_enrolment_code_invalid`` for a wrong,
    expired or used one), so that a stolen password alone enrols nothing."""
    limiter.check_login(client_address(request), body.username)
    new = auth_service.enrol_totp(
        session, settings, hasher, body.username, body.password, body.enrolment_code
    )
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


@router.post(
    "/users/{username}/totp/enrolment-code",
    response_model=EnrolmentCodePublic,
    status_code=status.HTTP_201_CREATED,
    responses={403: {"description": "Not an admin, or ``totp_code_self_issued``"}},
)
def enrolment_code(
    user: CurrentUser,
    session: SessionDep,
    username: str = Path(pattern=CODE_PATTERN),
) -> EnrolmentCodePublic:
    """Issue a one-time code (valid 24 h, used once) with which ``username`` enrols its
    second factor (admin; not for your own account; audited ``totp_code_issued``). Earlier
    unused codes of the account stop working."""
    issued = totp_service.issue_enrolment_code(session, user, username)
    return EnrolmentCodePublic(
        username=issued.username, enrolment_code=issued.code, expires_at=issued.expires_at
    )
