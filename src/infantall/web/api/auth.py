"""Login (bearer token or session cookie), logout, token revocation, who am I."""

from __future__ import annotations

import re

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from infantall.registry import auth as auth_service
from infantall.registry.models import Site
from infantall.registry.schemas import LoginRequest, PasswordChange, TokenPublic
from infantall.web.deps import (
    CurrentUser,
    HasherDep,
    LimiterDep,
    SessionDep,
    SettingsDep,
    require_same_origin,
)
from infantall.web.pages.security import delete_session_cookie, set_session_cookie
from infantall.web.ratelimit import client_address

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*$")


class Me(BaseModel):
    """The authenticated caller."""

    username: str
    role: str
    site_code: str | None
    token_id: int | None


class Revoked(BaseModel):
    """A revoked token."""

    token_id: int
    revoked: bool = True


def _login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
    body: LoginRequest,
    kind: str,
) -> auth_service.IssuedToken:
    limiter.check_login(client_address(request), body.username)
    username = body.username if _PRINTABLE.match(body.username) else repr(body.username)
    return auth_service.login(
        session,
        settings,
        hasher,
        username=username,
        password=body.password,
        kind=kind,
        channel="api" if kind == "bearer" else "ui",
        totp_code=body.totp_code,
    )


@router.post("/login", response_model=TokenPublic)
def login(
    request: Request,
    body: LoginRequest,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
) -> TokenPublic:
    """Exchange a username and password for a bearer token (shown once).

    Unknown users, wrong passwords and locked accounts get one answer (401). Too many
    attempts from one address or for one account answer 429 with ``Retry-After``.
    """
    issued = _login(request, session, settings, hasher, limiter, body, "bearer")
    return TokenPublic(
        access_token=issued.token,
        token_id=issued.token_id,
        expires_at=issued.expires_at,
        username=issued.username,
        role=issued.role,
        site_code=issued.site_code,
    )


@router.post("/session", response_model=Me)
def login_session(
    request: Request,
    body: LoginRequest,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
) -> Me:
    """Log in for the web pages: sets an HttpOnly, SameSite=Lax session cookie (``Secure``
    in production). The request must come from this site (``Origin``/``Referer``: 403
    ``origin_mismatch`` otherwise), so no other site can log a browser in."""
    require_same_origin(request)
    issued = _login(request, session, settings, hasher, limiter, body, "session")
    set_session_cookie(response, settings, issued.token, settings.token_ttl_minutes * 60)
    return Me(
        username=issued.username,
        role=issued.role,
        site_code=issued.site_code,
        token_id=issued.token_id,
    )


@router.post("/logout", response_model=Revoked)
def logout(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, response: Response
) -> Revoked:
    """Revoke the token (or session) used for this request."""
    token_id = auth_service.revoke_token(session, user)
    delete_session_cookie(response, settings)
    return Revoked(token_id=token_id)


@router.post("/tokens/{token_id}/revoke", response_model=Revoked)
def revoke(
    user: CurrentUser, session: SessionDep, token_id: int = Path(ge=1, le=2**31 - 1)
) -> Revoked:
    """Revoke one of your tokens (admins: any token). It fails on the next request."""
    return Revoked(token_id=auth_service.revoke_token(session, user, token_id))


class PasswordChanged(BaseModel):
    """A changed password: every token and session of the account was revoked."""

    revoked_tokens: int


@router.post("/password", response_model=PasswordChanged)
def change_password(
    request: Request,
    body: PasswordChange,
    user: CurrentUser,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
) -> PasswordChanged:
    """Change your own password: the current one re-entered (403 ``password_refused`` if
    wrong, counted towards the lockout), the new one under the password policy (422, field
    ``new_password``). Every token and session of your account ends, this one too: log in
    again with the new password."""
    limiter.check_login(client_address(request), user.username)
    revoked = auth_service.change_password(
        session, settings, hasher, user, body.current_password, body.new_password
    )
    delete_session_cookie(response, settings)
    return PasswordChanged(revoked_tokens=revoked)


@router.get("/me", response_model=Me)
def me(user: CurrentUser, session: SessionDep) -> Me:
    """Who the credentials belong to."""
    code = (
        session.scalar(select(Site.code).where(Site.id == user.site_id)) if user.site_id else None
    )
    return Me(username=user.username, role=user.role.value, site_code=code, token_id=user.token_id)
