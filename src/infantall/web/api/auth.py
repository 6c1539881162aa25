"""Login (bearer token or session cookie), logout, token revocation, who am I."""

from __future__ import annotations

import re

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel
from sqlalchemy import select

from infantall.registry import auth as auth_service
from infantall.registry.models import Site
from infantall.registry.schemas import LoginRequest, TokenPublic
from infantall.web.deps import CurrentUser, HasherDep, SessionDep, SettingsDep

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
    session: SessionDep, settings: SettingsDep, hasher: HasherDep, body: LoginRequest, kind: str
) -> auth_service.IssuedToken:
    username = body.username if _PRINTABLE.match(body.username) else repr(body.username)
    return auth_service.login(
        session,
        settings,
        hasher,
        username=username,
        password=body.password,
        kind=kind,
        channel="api" if kind == "bearer" else "ui",
    )


@router.post("/login", response_model=TokenPublic)
def login(
    body: LoginRequest, session: SessionDep, settings: SettingsDep, hasher: HasherDep
) -> TokenPublic:
    """Exchange a username and password for a bearer token (shown once).

    Repeated failures lock the account (429 with ``Retry-After``).
    """
    issued = _login(session, settings, hasher, body, "bearer")
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
    body: LoginRequest,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
) -> Me:
    """Log in for the web pages: sets an HttpOnly, SameSite=Lax session cookie."""
    issued = _login(session, settings, hasher, body, "session")
    response.set_cookie(
        settings.session_cookie_name,
        issued.token,
        max_age=settings.token_ttl_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
    )
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
    response.delete_cookie(settings.session_cookie_name)
    return Revoked(token_id=token_id)


@router.post("/tokens/{token_id}/revoke", response_model=Revoked)
def revoke(
    user: CurrentUser, session: SessionDep, token_id: int = Path(ge=1, le=2**31 - 1)
) -> Revoked:
    """Revoke one of your tokens (admins: any token). It fails on the next request."""
    return Revoked(token_id=auth_service.revoke_token(session, user, token_id))


@router.get("/me", response_model=Me)
def me(user: CurrentUser, session: SessionDep) -> Me:
    """Who the credentials belong to."""
    code = (
        session.scalar(select(Site.code).where(Site.id == user.site_id)) if user.site_id else None
    )
    return Me(username=user.username, role=user.role.value, site_code=code, token_id=user.token_id)
