"""FastAPI dependencies: settings, database sessions and the authenticated caller.

``SessionDep`` opens a reader session for GET/HEAD and a writer session otherwise;
``CurrentUser`` accepts a bearer token (API) or the session cookie (pages). A request that
changes state with the session cookie (not a bearer token) must come from this site: its
``Origin`` (or, without one, its ``Referer``) must name this host, else 403
``origin_mismatch`` (OWASP CSRF Prevention Cheat Sheet, "verifying origin with standard
headers"); a browser cannot forge either header. The caller is kept in ``request.state``
for the audit of reads (:mod:`infantall.web.middleware`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from infantall.registry.access import Principal
from infantall.registry.auth import authenticate
from infantall.registry.db import Database, scope_session
from infantall.registry.errors import AuthenticationError, PermissionDeniedError
from infantall.registry.settings import RegistrySettings
from infantall.web.ratelimit import RateLimiter

__all__ = [
    "CurrentUser",
    "HasherDep",
    "IsoDate",
    "LimiterDep",
    "SessionDep",
    "SettingsDep",
    "get_current_user",
    "get_database",
    "get_session",
    "get_settings",
    "require_same_origin",
]

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/login")


# The trivial dependencies are ``async``: FastAPI runs a sync dependency in its thread pool,
# and a thread hop per dependency per request is measurable under load.
async def get_settings(request: Request) -> RegistrySettings:
    """The settings the app was created with."""
    settings: RegistrySettings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    """The app's database."""
    database: Database = request.app.state.database
    return database


async def get_hasher(request: Request) -> PasswordHasher:
    """The app's argon2 password hasher."""
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


def get_session(request: Request) -> Iterator[Session]:
    """A session for this request: a reader for GET/HEAD, a writer otherwise."""
    database: Database = request.app.state.database
    if request.method in ("GET", "HEAD"):
        with database.read_sessions() as session:
            yield session
    elif database.write_lock is None:
        with database.write_sessions() as session:
            yield session
    else:
        with database.write_lock, database.write_sessions() as session:
            yield session


async def get_limiter(request: Request) -> RateLimiter:
    """The app's rate limiter."""
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: object) -> object:
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("use a calendar date YYYY-MM-DD")
    if isinstance(value, int | float):
        raise ValueError("use a calendar date YYYY-MM-DD, not a number")
    return value


#: A date parameter that must be written ``YYYY-MM-DD``: pydantic's lax mode would read
#: ``0`` as 1970-01-01 (a Unix time), silently turning a typo into a filter.
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_only)]

SettingsDep = Annotated[RegistrySettings, Depends(get_settings)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
SessionDep = Annotated[Session, Depends(get_session)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin_host(value: str) -> str | None:
    if "://" not in value:
        return None
    return value.split("://", 1)[1].split("/", 1)[0].lower()


def require_same_origin(request: Request) -> None:
    """Raise 403 ``origin_mismatch`` unless ``Origin`` (else ``Referer``) names this host."""
    host = request.headers.get("host", "").lower()
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null" or _origin_host(claimed) != host:
        raise PermissionDeniedError(
            "a state-changing request with the session cookie must come from this site "
            "(Origin or Referer header)",
            "origin_mismatch",
        )


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer`` or else the session cookie (401 if none)."""
    if credentials is not None:
        principal = authenticate(session, credentials.credentials, "api", settings)
    else:
        cookie = request.cookies.get(settings.session_cookie_name)
        if not cookie:
            raise AuthenticationError("missing credentials: send a bearer token or log in")
        principal = authenticate(session, cookie, "ui", settings)
        if request.method not in _SAFE_METHODS:
            require_same_origin(request)
    scope_session(session, principal)  # PostgreSQL row-level security: the caller's site
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]
