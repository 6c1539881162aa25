"""The audit of reads: no patient data leaves the server before its ``read`` row is durable.

Every successful read of patient-level data through the API (a patient, its events or
history, the patient list, exports and the analysis dataset) and every page that shows one
patient's record (``/patients/<id>`` and its edit, events and history pages) is an audit row
``read`` naming the caller, the record's id (when the path names one) and the path, never a
patient value. The row is committed **before** the answer's first byte is sent:
:func:`audited_send` holds the ``http.response.start`` of a 200 answer until the commit is
done. A read whose row cannot be committed is answered ``503 audit_unavailable`` and its
data is dropped, so a server that crashes, or whose disk fills, discloses nothing it has
not logged. (Sending first and logging afterwards, as before, let a keep-alive client move
on to its next request while its row still waited: under load the rows fell seconds behind
the answers, unbounded.)

The rows of concurrent reads share one commit (group commit): requests queue on one lock
per event loop; the holder commits every row queued so far (its own and those of requests
still waiting) and a request whose row a previous holder committed goes on as soon as it
gets the lock. A failed commit fails every request it carried.

A rejected CSV import (any 4xx answer to an authenticated ``POST /api/v1/import``) is an
audit row ``import_rejected`` with the status, written after the answer (it discloses
nothing).
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from typing import Any

from anyio import CancelScope, to_thread
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.types import Message, Scope, Send

from infantall.registry import audit
from infantall.registry.access import Principal
from infantall.registry.auth import authenticate
from infantall.registry.db import Database
from infantall.registry.errors import AuthenticationError
from infantall.registry.settings import RegistrySettings
from infantall.web.deps import close_read_session, evented_engine_of
from infantall.web.errors import problem

__all__ = ["AUDITED_READS", "PAGE_READS", "audit_rejected_import", "audited_send"]

_log = logging.getLogger(__name__)

#: API paths whose successful GET reads patient-level data (audited); group 1 is the id.
AUDITED_READS = re.compile(
    r"^/api/v1/(?:patients(?:/([^/]+))?(?:/[a-z]+)?|export(?:/pooled)?|analysis/dataset)$"
)
#: Pages that show one patient's record (audited the same way); group 1 is the id.
PAGE_READS = re.compile(r"^/patients/(P-[0-9a-f]{16})(?:/(?:edit|events|history))?$")

#: One audit row to write: the caller, (action, entity, record id) and the row's detail.
_Pending = tuple[Principal, tuple[str, str, str | None], dict[str, Any]]


def _read_row(scope: Scope) -> tuple[str, str, str | None] | None:
    """(action, entity, record id) of the ``read`` row a 200 answer to ``scope`` calls for."""
    path: str = scope["path"]
    if scope["method"] != "GET":
        return None
    match = AUDITED_READS.match(path) or PAGE_READS.match(path)
    if match is None:
        return None
    entity = "dataset" if path.startswith(("/api/v1/export", "/api/v1/analysis")) else "patient"
    return ("read", entity, match[1])


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


async def _principal(scope: Scope, database: Database) -> Principal | None:
    principal = scope.get("state", {}).get("principal")
    if isinstance(principal, Principal):
        return principal
    if not PAGE_READS.match(scope["path"]):
        return None
    return await to_thread.run_sync(_page_principal, scope, database)


async def _audit(scope: Scope, row: tuple[str, str, str | None], status: int) -> None:
    """Commit the audit row ``row`` of the answer ``status`` to ``scope`` (group commit)."""
    database: Database = scope["app"].state.database
    await close_read_session(scope)  # the answer is built: hold no connection while waiting
    principal = await _principal(scope, database)
    if principal is None:
        return
    detail = {"path": scope["path"][:200], "status": status}
    await _group_commit(database, evented_engine_of(scope), (principal, row, detail))


def audited_send(scope: Scope, send: Send) -> Send:
    """``send`` that commits a read's audit row before the answer starts (see the module).

    A 200 answer to an audited read is held at ``http.response.start`` until its row is
    committed; if the commit fails, a ``503 audit_unavailable`` problem goes out instead and
    the held answer's body is dropped. Any other answer passes unchanged.
    """
    row = _read_row(scope)
    if row is None:
        return send
    refused = False

    async def wrapped(message: Message) -> None:
        nonlocal refused
        if message["type"] == "http.response.start" and message["status"] == 200:
            try:
                await _audit(scope, row, 200)
            except Exception:  # the row is not durable: disclose nothing
                _log.exception("the audit row of a read could not be committed")
                refused = True
                await _send_unaudited(message, send)
                return
        elif refused:
            return  # the body of the answer replaced by the 503
        await send(message)

    return wrapped


async def _send_unaudited(start: Message, send: Send) -> None:
    answer = problem(
        503,
        "the read could not be written to the audit trail, so no data was sent; try again",
        "audit_unavailable",
    )
    kept = [(k, v) for k, v in start.get("headers", []) if k.lower() in _KEPT_HEADERS]
    headers = [*answer.raw_headers, *kept]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


#: Headers of the held answer that its 503 replacement keeps (the API's cache rules).
_KEPT_HEADERS = frozenset({b"cache-control", b"x-content-type-options"})


async def audit_rejected_import(scope: Scope, status: int) -> None:
    """An ``import_rejected`` row for a 4xx answer to ``POST /api/v1/import``."""
    if scope["method"] == "POST" and scope["path"] == "/api/v1/import" and 400 <= status < 500:
        await _audit(scope, ("import_rejected", "import", None), status)


class _Batch:
    """The audit rows waiting for a commit in one event loop, and the lock that lets one
    request at a time commit them."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting: list[tuple[_Pending, asyncio.Future[None]]] = []


_BATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch] = weakref.WeakKeyDictionary()


async def _group_commit(database: Database, engine: AsyncEngine | None, item: _Pending) -> None:
    """Write ``item``'s audit row and return once it is committed (group commit)."""
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
                await _commit_rows(database, engine, [i for i, _ in taken])
            except Exception as exc:
                for _, fut in taken:
                    fut.set_exception(exc)
            else:
                for _, fut in taken:
                    fut.set_result(None)
    await done


async def _commit_rows(
    database: Database, engine: AsyncEngine | None, items: list[_Pending]
) -> None:
    """Commit ``items``: on PostgreSQL with the event loop's engine, on the loop (no thread
    hop); elsewhere in a thread."""
    if engine is None:
        await to_thread.run_sync(_write_audit, database, items)
        return
    with CancelScope(shield=True):  # a connection is not left mid-statement
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.run_sync(_insert_linked, items)


def _write_audit(database: Database, items: list[_Pending]) -> None:
    """``items`` committed from a thread: on PostgreSQL as on the loop; on SQLite through a
    writer session, under this process's SQLite lock even where the file lock would do
    (unlike a request's writer session, :attr:`Database.process_write_lock`): without it,
    patient reads ran 5-10 % slower in alternating wrk runs (1,044/991 against 1,094/1,104
    reads/s); why was not found."""
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as conn:
            _insert_linked(conn.execution_options(isolation_level="AUTOCOMMIT"), items)
        return
    lock = database.write_lock
    if lock is None:
        _insert_rows(database, items)
    else:
        with lock:
            _insert_rows(database, items)


def _rows(items: list[_Pending]) -> list[dict[str, Any]]:
    return [
        audit.audit_row(principal, action, entity, record_id, site_id=principal.site_id, new=d)
        for principal, (action, entity, record_id), d in items
    ]


def _insert_linked(connection: Connection, items: list[_Pending]) -> None:
    """PostgreSQL: every row and its chain link in one statement, which in autocommit is
    its own transaction (:func:`infantall.registry.audit.insert_linked_postgresql`): one
    round trip per batch, where a session takes five."""
    audit.insert_linked_postgresql(connection, _rows(items))


def _insert_rows(database: Database, items: list[_Pending]) -> None:
    """SQLite: one Core insert of every row (:func:`infantall.registry.audit.record_many`),
    chained at commit: no ORM object per row, so the thread holding the batch needs the GIL
    for few steps while the event loop serves other requests."""
    with database.write_sessions() as session:
        audit.record_many(session, _rows(items))
        session.commit()
