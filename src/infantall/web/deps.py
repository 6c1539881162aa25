"""FastAPI dependencies: settings, database sessions and the authenticated caller.

``SessionDep`` opens a reader session for GET/HEAD and a writer session otherwise;
``CurrentUser`` accepts a bearer token (API) or the session cookie (pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from infantall.registry.access import Principal
from infantall.registry.auth import authenticate
from infantall.registry.db import Database
from infantall.registry.errors import AuthenticationError
from infantall.registry.settings import RegistrySettings

__all__ = [
    "CurrentUser",
    "HasherDep",
    "SessionDep",
    "SettingsDep",
    "get_current_user",
    "get_database",
    "get_session",
    "get_settings",
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


SettingsDep = Annotated[RegistrySettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer`` or else the session cookie (401 if none)."""
    if credentials is not None:
        return authenticate(session, credentials.credentials, "api")
    cookie = request.cookies.get(settings.session_cookie_name)
    if cookie:
        return authenticate(session, cookie, "ui")
    raise AuthenticationError("missing credentials: send a bearer token or log in")


CurrentUser = Annotated[Principal, Depends(get_current_user)]
