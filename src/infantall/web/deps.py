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

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from inspect import iscoroutinefunction
from typing import Annotated, Any, TypeVar

from anyio import CancelScope, to_thread
from argon2 import PasswordHasher
from fastapi import Depends, Request
from fastapi.concurrency import contextmanager_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Scope

from infantall.domain import IsoDate as DomainIsoDate
from infantall.registry.access import Principal
from infantall.registry.auth import authenticate
from infantall.registry.db import Database, scope_session
from infantall.registry.errors import AuthenticationError, PermissionDeniedError
from infantall.registry.evented import EventedEngines, evented_session
from infantall.registry.settings import RegistrySettings
from infantall.web.ratelimit import RateLimiter

__all__ = [
    "CurrentUser",
    "HasherDep",
    "IsoDate",
    "LimiterDep",
    "SessionDep",
    "SettingsDep",
    "close_read_session",
    "get_current_user",
    "get_database",
    "get_session",
    "get_settings",
    "inline_reads",
    "require_same_origin",
    "run_read",
]

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])
#: The attribute :func:`on_the_loop` sets on an endpoint.
_ON_THE_LOOP = "infantall_on_the_loop"

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


def _locked_writer_session(lock: threading.Lock, database: Database) -> Iterator[Session]:
    """A writer session held under this process's writer ``lock``."""
    with lock, database.write_sessions() as session:
        yield session


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for this request: a reader for GET/HEAD, a writer otherwise.

    A reader session is created on the event loop (creating one does no I/O: its connection
    is checked out by the first query, in the thread that runs it), which spares a read two
    hops to the thread pool (FastAPI runs a sync generator's entry and exit in threads).
    It is closed by :func:`close_read_session`. A writer session is also made on the event
    loop, on PostgreSQL and on a SQLite file: there it takes the cross-process writer lock
    only at ``BEGIN IMMEDIATE``, in the endpoint's thread, and drops it at
    ``COMMIT``/``ROLLBACK``, so making it waits for nothing. Once the endpoint has committed,
    closing it does no I/O and is done inline; a transaction left open (the endpoint
    raised) is rolled back in a thread on PostgreSQL (a round trip), inline on SQLite (a
    local call). A SQLite writer without the file lock waits for this process's lock when
    made, so it is opened and closed in threads (FastAPI's own helper, exit shielded from
    cancellation). For an endpoint marked :func:`on_the_loop` on PostgreSQL, the writer is
    an event-loop session (:func:`_evented_write`): its token check and write run on the
    loop, and a transaction left open is rolled back there, awaited and shielded.
    """
    database: Database = request.app.state.database
    if request.method not in ("GET", "HEAD"):
        writer = _evented_write(request)
        if writer is not None:
            request.state.evented_session = writer
            try:
                yield writer.sync_session
            finally:
                with CancelScope(shield=True):
                    await writer.close()  # ROLLBACK of a transaction left open, awaited
            return
        lock = database.process_write_lock
        if lock is not None:
            held = contextmanager(_locked_writer_session)(lock, database)
            async with contextmanager_in_threadpool(held) as s:
                yield s
            return
        session = database.write_sessions()
        try:
            yield session
        finally:
            if _on_sqlite(database) or not session.in_transaction():
                session.close()
            else:
                with CancelScope(shield=True):
                    await to_thread.run_sync(session.close)
        return
    evented = _evented_read(request)
    if evented is not None:
        request.state.evented_session = evented
        session = evented.sync_session
    else:
        session = database.read_sessions()
    request.state.read_session = session  # released early by the read audit
    try:
        yield session
    finally:
        await close_read_session(request.scope)


def evented_engine_of(scope: Scope) -> AsyncEngine | None:
    """The asyncio engine of the running loop, if the app made one (PostgreSQL, once its
    lifespan started in this loop)."""
    engines: EventedEngines | None = getattr(scope["app"].state, "evented_engines", None)
    return None if engines is None else engines.current()


def _evented_read(request: Request) -> AsyncSession | None:
    """A reader session doing its I/O on the event loop (:mod:`infantall.registry.evented`),
    for a GET/HEAD on PostgreSQL to an ``async def`` endpoint, which reaches the database
    through :func:`run_read` only; else ``None`` (every other read, and an app whose lifespan
    has not started: the engine is made at startup, in the loop that uses it)."""
    if not iscoroutinefunction(request.scope.get("endpoint")):
        return None
    database: Database = request.app.state.database
    return _loop_session(request, database.read_sessions)


def _loop_session(request: Request, sessions: sessionmaker[Session]) -> AsyncSession | None:
    """A session of ``sessions``' class on the running loop's engine, if the app made one."""
    engine = evented_engine_of(request.scope)
    return None if engine is None else evented_session(engine, sessions)


def on_the_loop(endpoint: _F) -> _F:
    """Mark an ``async def`` write endpoint whose database work all goes through
    :func:`run_write`: on PostgreSQL its writer session then does its I/O on the event loop
    (:func:`_evented_write`)."""
    setattr(endpoint, _ON_THE_LOOP, True)
    return endpoint


def _evented_write(request: Request) -> AsyncSession | None:
    """A writer session doing its I/O on the event loop, for a request to an endpoint marked
    :func:`on_the_loop` on PostgreSQL once the app's lifespan made the loop's engine; else
    ``None`` (SQLite, whose writers wait for a file lock, and every other endpoint)."""
    if not getattr(request.scope.get("endpoint"), _ON_THE_LOOP, False):
        return None
    database: Database = request.app.state.database
    return _loop_session(request, database.write_sessions)


async def run_write(request: Request, fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` for an endpoint marked :func:`on_the_loop`: with an event-loop writer
    session, in a greenlet on the loop, each query awaited; else in the thread pool, as a
    ``def`` endpoint would be run."""
    evented: AsyncSession | None = getattr(request.state, "evented_session", None)
    if evented is not None:
        return await evented.run_sync(_evented_call, fn, args)
    return await to_thread.run_sync(fn, *args)


def _evented_call(_session: Session, fn: Callable[..., _T], args: tuple[Any, ...]) -> _T:
    return fn(*args)


def _take_read_session(scope: Scope) -> Session | None:
    """The request's reader session, if still open; it is the caller's to close."""
    state = scope.get("state", {})
    session: Session | None = state.get("read_session")
    state["read_session"] = None
    return session


async def close_read_session(scope: Scope) -> None:
    """End the request's reader session, if it has one still open.

    The audit of a read (:mod:`infantall.web.read_audit`) calls this once the answer is
    built, before it waits for its audit commit, so that a read does not hold a pooled
    connection while it waits. Closing ends the read transaction: on SQLite a local call
    that never waits (WAL readers take no lock a writer holds), done inline; on PostgreSQL
    a round trip, awaited on the loop for an event-loop session, else done in a thread, both
    shielded from cancellation (a clean PostgreSQL read
    ends with ``COMMIT``: :class:`infantall.registry.db.ReadSession`).
    """
    session = _take_read_session(scope)
    if session is None:
        return
    evented: AsyncSession | None = scope.get("state", {}).get("evented_session")
    if evented is not None:
        with CancelScope(shield=True):
            await evented.close()
    elif session.get_bind().dialect.name == "sqlite":
        session.close()
    else:
        with CancelScope(shield=True):
            await to_thread.run_sync(session.close)


async def get_limiter(request: Request) -> RateLimiter:
    """The app's rate limiter."""
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


#: A date parameter that must be written ``YYYY-MM-DD``: pydantic's lax mode would read
#: ``0`` as 1970-01-01 (a Unix time), silently turning a typo into a filter. The domain's
#: one rule for every date a person gives (:data:`infantall.domain.IsoDate`).
IsoDate = DomainIsoDate

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


def _on_sqlite(database: Database) -> bool:
    return database.read_engine.dialect.name == "sqlite"


def _inline_token_check(request: Request) -> bool:
    """Whether a bearer token is checked on the event loop: on SQLite, for reads and
    writes alike (a write's token is checked through a reader session: a local indexed
    read that never waits)."""
    return _on_sqlite(request.app.state.database)


def inline_reads(request: Request) -> bool:
    """Whether this request's database work runs on the event loop rather than in a thread.

    True for a GET/HEAD on SQLite: its queries are local indexed reads of a WAL database,
    which never wait for a writer, and cost less than the thread hops they save (each hop
    wakes a pool thread and passes the GIL: about a fifth of the server's CPU per read when
    measured with py-spy). On PostgreSQL every query is a round trip, and any write may wait
    for a lock, so those run in the thread pool.
    """
    return request.method in ("GET", "HEAD") and _on_sqlite(request.app.state.database)


async def run_read(request: Request, fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` on the event loop when :func:`inline_reads`; on PostgreSQL, with the
    event loop's engine, in a greenlet on the loop, each query awaited (the request's session
    is then of :mod:`infantall.registry.evented`); else in the thread pool.

    ``fn`` must return the whole answer (no lazy loads after it): in the thread pool the
    request's reader session is closed right after it, in the same thread (the round trip
    of its COMMIT, or ROLLBACK after an error, without a hop of its own).
    """
    if inline_reads(request):
        return fn(*args)
    evented: AsyncSession | None = getattr(request.state, "evented_session", None)
    if evented is not None:  # on the event loop, each query awaited (no thread hop)
        return await evented.run_sync(_evented_then_release, request.scope, fn, args)
    return await to_thread.run_sync(_then_release, request.scope, fn, args)


def _evented_then_release(
    _session: Session, scope: Scope, fn: Callable[..., _T], args: tuple[Any, ...]
) -> _T:
    return _then_release(scope, fn, args)


def _then_release(scope: Scope, fn: Callable[..., _T], args: tuple[Any, ...]) -> _T:
    try:
        return fn(*args)
    finally:
        session = _take_read_session(scope)
        if session is not None:
            session.close()  # PostgreSQL: COMMIT for a clean read (db.ReadSession)


def _check_token(
    request: Request, session: Session, token: str, channel: str, *, slide: bool = True
) -> Principal:
    """``authenticate`` the token, on SQLite write requests through a reader session.

    On SQLite the request's writer session begins with ``BEGIN IMMEDIATE`` (the writer
    lock): checking the token there would hold every other writer off while the request
    hops to the endpoint's thread, and a session token's sliding expiry (written by its own
    short transaction) would wait on that very lock until "database is locked". A reader
    sees every committed revocation just the same; the endpoint's write begins after it.
    """
    settings: RegistrySettings = request.app.state.settings
    if request.method in ("GET", "HEAD") or session.get_bind().dialect.name != "sqlite":
        # On PostgreSQL the lookup also sets the row-level-security scope (one round trip).
        return authenticate(session, token, channel, settings, slide=slide, scope=True)
    database: Database = request.app.state.database
    with database.read_sessions() as reader:
        return authenticate(reader, token, channel, settings, slide=slide)


def _caller(
    request: Request,
    session: Session,
    settings: RegistrySettings,
    credentials: HTTPAuthorizationCredentials | None,
    slide: bool,
) -> Principal:
    if credentials is not None:
        principal = _check_token(request, session, credentials.credentials, "api", slide=slide)
    else:
        cookie = request.cookies.get(settings.session_cookie_name)
        if not cookie:
            raise AuthenticationError("missing credentials: send a bearer token or log in")
        principal = _check_token(request, session, cookie, "ui", slide=slide)
        if request.method not in _SAFE_METHODS:
            require_same_origin(request)
    # PostgreSQL row-level security: the token lookup set the caller's scope in this
    # transaction; the session's later transactions get it from here.
    scope_session(session, principal, applied=True)
    request.state.principal = principal
    return principal


async def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer`` or else the session cookie (401 if none).

    A bearer token on SQLite is checked on the event loop (:func:`_inline_token_check`),
    without sliding a session token's idle expiry (that is a write; the browser's cookie,
    which does slide, takes the thread pool). On PostgreSQL, a request with an event-loop
    session (:func:`_evented_read`; :func:`_evented_write` for an endpoint marked
    :func:`on_the_loop`) is checked through it, on the loop. Everything else is checked in
    a thread.
    """
    if credentials is not None and _inline_token_check(request):
        return _caller(request, session, settings, credentials, False)
    evented: AsyncSession | None = getattr(request.state, "evented_session", None)
    if evented is not None:  # on the event loop, the lookup awaited (no thread hop)
        return await evented.run_sync(_evented_caller, request, settings, credentials)
    return await to_thread.run_sync(_caller, request, session, settings, credentials, True)


def _evented_caller(
    session: Session,
    request: Request,
    settings: RegistrySettings,
    credentials: HTTPAuthorizationCredentials | None,
) -> Principal:
    return _caller(request, session, settings, credentials, True)


CurrentUser = Annotated[Principal, Depends(get_current_user)]
