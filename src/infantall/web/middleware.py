"""Request guards applied before any route (anchors-reliability B5, B6; OWASP API4).

* Bodies larger than the limit are refused with 413 before they are read in full.
* JSON bodies of the API must be ``application/json`` (415 otherwise, which also keeps
  cross-site HTML forms from riding on the session cookie) and must be strict JSON: no
  NaN/Infinity (RFC 8259), no duplicate keys, nesting no deeper than the limit, no NUL
  characters or lone surrogates in strings (400 with a stable code). The body is parsed
  once here and replayed to the route unchanged.
* Requests beyond ``request_rate_per_ip`` from one client address get 429 (``Retry-After``).
* Every API response carries ``Cache-Control: no-store`` and ``X-Content-Type-Options:
  nosniff``: patient data must not stay in a browser's or a proxy's cache (HIPAA
  §164.312(a); OWASP ASVS v5 14.3.2).
* Every successful read of patient-level data through the API (a patient, its events or
  history, the patient list, exports and the analysis dataset) is an audit row ``read``
  naming the caller, the record's id (when the path names one) and the path — never a
  patient value. The pages that show a patient's record (``/patients/<id>`` and its
  edit, events and history pages) are audited the same way. A rejected CSV import (any
  4xx answer to an authenticated ``POST /api/v1/import``) is an audit row
  ``import_rejected`` with the status. The read rows of concurrent requests share one
  commit (group commit); a request still ends only once its own row is committed.
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infantall.registry import audit
from infantall.registry.access import Principal
from infantall.registry.auth import authenticate
from infantall.registry.db import Database
from infantall.registry.errors import AuthenticationError
from infantall.registry.settings import RegistrySettings
from infantall.web.errors import problem
from infantall.web.ratelimit import RateLimiter

__all__ = ["API_RESPONSE_HEADERS", "AUDITED_READS", "PAGE_READS", "RequestGuard"]

#: Headers added to every response under ``/api/``.
API_RESPONSE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)
#: API paths whose successful GET reads patient-level data (audited); group 1 is the id.
AUDITED_READS = re.compile(
    r"^/api/v1/(?:patients(?:/([^/]+))?(?:/[a-z]+)?|export(?:/pooled)?|analysis/dataset)$"
)
#: Pages that show one patient's record (audited the same way); group 1 is the id.
PAGE_READS = re.compile(r"^/patients/(P-[0-9a-f]{16})(?:/(?:edit|events|history))?$")

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: API paths whose body is not JSON (the CSV import).
_RAW_BODY_SUFFIXES = ("/import",)


class _Reject(Exception):
    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code


def _duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Reject(400, f"duplicate key {key!r} in a JSON object", "duplicate_key")
        seen[key] = value
    return seen


def _no_constants(name: str) -> Any:
    raise _Reject(400, f"{name} is not valid JSON (RFC 8259)", "malformed_json")


def _check_tree(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise _Reject(400, f"JSON nested deeper than {max_depth} levels", "too_deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise _Reject(400, "NUL characters are not allowed", "invalid_character")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _Reject(400, "lone surrogate in a string", "invalid_encoding") from None


def check_json_body(body: bytes, max_depth: int) -> None:
    """Raise ``_Reject`` unless ``body`` is strict, shallow, clean JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Reject(400, "the body is not valid UTF-8", "invalid_encoding") from None
    try:
        value = json.loads(text, object_pairs_hook=_duplicate_keys, parse_constant=_no_constants)
    except RecursionError:
        raise _Reject(400, f"JSON nested deeper than {max_depth} levels", "too_deep") from None
    except json.JSONDecodeError as exc:
        raise _Reject(400, f"malformed JSON: {exc.msg} at {exc.pos}", "malformed_json") from None
    _check_tree(value, max_depth)


class RequestGuard:
    """Pure ASGI middleware: rate limit, size, media type, JSON hygiene, API cache headers
    and the audit of patient reads."""

    def __init__(self, app: ASGIApp, settings: RegistrySettings, limiter: RateLimiter) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        retry = self.limiter.request_allowed(str(client[0]) if client else "unknown")
        if retry is not None:
            response = problem(
                429, "too many requests", "rate_limited", headers={"Retry-After": str(retry)}
            )
            await response(scope, receive, send)
            return
        path: str = scope["path"]
        status: list[int] = []
        send = _watch(send, status, api=path.startswith("/api/"))
        scope.setdefault("state", {})
        if scope["method"] in _BODY_METHODS:
            await self._guard_body(scope, receive, send)
        else:
            await self.app(scope, receive, send)
        if status:
            await _audit_after(scope, status[0])

    async def _guard_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        raw = path.endswith(_RAW_BODY_SUFFIXES)
        limit = self.settings.max_import_bytes if raw else self.settings.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = await self._read(receive, headers, limit)
            if path.startswith("/api/") and not raw and body:
                media = headers.get("content-type", "").split(";")[0].strip().lower()
                if media != "application/json":
                    raise _Reject(
                        415, "send the body as application/json", "unsupported_media_type"
                    )
                check_json_body(body, self.settings.max_json_depth)
        except _Reject as rej:
            response = problem(rej.status, rej.detail, rej.code)
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _read(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _Reject(413, f"the body is larger than {limit} bytes", "body_too_large")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Reject(413, f"the body is larger than {limit} bytes", "body_too_large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _watch(send: Send, status: list[int], *, api: bool) -> Send:
    """``send`` that records the status and, for the API, adds the cache headers."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
            if not api:
                await send(message)
                return
            names = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in API_RESPONSE_HEADERS if k not in names]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def _audit_row(scope: Scope, status: int) -> tuple[str, str, str | None] | None:
    """(action, entity, record id) of the audit row this answer calls for, if any."""
    path: str = scope["path"]
    if scope["method"] == "GET" and status == 200:
        match = AUDITED_READS.match(path) or PAGE_READS.match(path)
        if match is not None:
            entity = "dataset" if path.startswith(("/api/v1/export", "/api/v1/analysis")) else None
            return ("read", entity or "patient", match[1])
    elif scope["method"] == "POST" and path == "/api/v1/import" and 400 <= status < 500:
        return ("import_rejected", "import", None)
    return None


def _page_principal(scope: Scope, database: Database) -> Principal | None:
    """The caller of a page, from its session cookie (pages do not go through the API's
    dependency that records it)."""
    settings: RegistrySettings = scope["app"].state.settings
    token = Request(scope).cookies.get(settings.session_cookie_name)
    if not token:
        return None
    with database.read_sessions() as session:
        try:
            return authenticate(session, token, "ui", settings)
        except AuthenticationError:
            return None


async def _audit_after(scope: Scope, status: int) -> None:
    row = _audit_row(scope, status)
    if row is None:
        return
    database: Database = scope["app"].state.database
    principal = scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        if not PAGE_READS.match(scope["path"]):
            return
        principal = await to_thread.run_sync(_page_principal, scope, database)
        if principal is None:
            return
    detail = {"path": scope["path"][:200], "status": status}
    await _group_commit(database, (principal, row, detail))


#: One audit row to write: the caller, (action, entity, record id) and the row's detail.
_Pending = tuple[Principal, tuple[str, str, str | None], dict[str, Any]]


class _Batch:
    """The audit rows waiting for a commit in one event loop, and the lock that lets one
    request at a time commit them."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting: list[tuple[_Pending, asyncio.Future[None]]] = []


_BATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch] = weakref.WeakKeyDictionary()


async def _group_commit(database: Database, item: _Pending) -> None:
    """Write ``item``'s audit row and return once it is committed (group commit).

    Requests queue on one lock per event loop; the holder commits, in one transaction, every
    row queued so far (its own and those of requests still waiting), and a request whose row
    a previous holder committed returns as soon as it gets the lock. So every request still
    ends only after its own row is durable, and under load many reads share one commit
    (one fsync on SQLite, one chain lock on PostgreSQL) instead of one commit each.
    """
    loop = asyncio.get_running_loop()
    batch = _BATCHES.get(loop)
    if batch is None:
        batch = _BATCHES[loop] = _Batch()
    done: asyncio.Future[None] = loop.create_future()
    batch.waiting.append((item, done))
    async with batch.lock:
        if not done.done():
            taken, batch.waiting = batch.waiting, []
            try:
                await to_thread.run_sync(_write_audit, database, [i for i, _ in taken])
            except Exception as exc:
                for _, fut in taken:
                    fut.set_exception(exc)
            else:
                for _, fut in taken:
                    fut.set_result(None)
    await done


def _write_audit(database: Database, items: list[_Pending]) -> None:
    if database.write_lock is None:
        _insert_rows(database, items)
    else:
        with database.write_lock:
            _insert_rows(database, items)


def _insert_rows(database: Database, items: list[_Pending]) -> None:
    with database.write_sessions() as session:
        for principal, (action, entity, record_id), detail in items:
            audit.record(
                session, principal, action, entity, record_id, site_id=principal.site_id, new=detail
            )
        session.commit()
