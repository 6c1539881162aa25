"""Read audits of concurrent requests share one commit (issue 14, load figures).

Every successful read of a patient is an audit row, committed before the answer starts.
Under load the rows of requests that arrive while a commit is running are committed
together by the next request to get the lock; a failed commit answers every request whose
row it carried 503 ``audit_unavailable`` with none of the patient's data, and revoking a
token still takes effect on the very next request (tokens are not cached).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from infantall.registry.models import AuditEntry
from infantall.registry.verify import verify_registry
from infantall.web import read_audit

API = "/api/v1"
PATIENT = {
    "local_code": "GC-001",
    "birth_date": "2024-03-01",
    "diagnosis_date": "2024-06-15",
    "kmt2a": "germline",
}
N = 12


def _reads(database: Any) -> list[AuditEntry]:
    with database.read_sessions() as s:
        query = select(AuditEntry).where(AuditEntry.action == "read").order_by(AuditEntry.id)
        return list(s.scalars(query))


def _slow_batches(monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> list[list[Any]]:
    """Record each committed batch (after it is durable); slow, so that requests pile up."""
    batches: list[list[Any]] = []
    real = read_audit._commit_rows

    async def slow(database: Any, engine: Any, items: list[Any]) -> None:
        await asyncio.sleep(0.05)
        if fail:
            raise RuntimeError("disk full")
        await real(database, engine, items)
        batches.append(list(items))

    monkeypatch.setattr(read_audit, "_commit_rows", slow)
    return batches


#: How the reads are served: from threads, or (PostgreSQL) on the event loop once the app's
#: lifespan has made that loop's engine (:mod:`infantall.registry.evented`).
SERVED = ["threads", "event_loop"]


async def _concurrent_reads(
    app: Any, rid: str, headers: dict[str, str], served: str = "threads"
) -> list[Any]:
    if served == "event_loop":
        async with app.router.lifespan_context(app):
            assert app.state.evented_engines.current() is not None
            return await _concurrent_reads(app, rid, headers)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:

        async def one() -> Any:
            try:
                return await c.get(f"{API}/patients/{rid}", headers=headers)
            except RuntimeError as exc:
                return exc

        return await asyncio.gather(*(one() for _ in range(N)))


def _skip_sqlite_event_loop(backend: str, served: str) -> None:
    if served == "event_loop" and backend == "sqlite":
        pytest.skip("SQLite reads have no event-loop engine (they run inline)")


def _patient(client: Any, auth: dict[str, dict[str, str]]) -> str:
    r = client.post(f"{API}/patients", json=PATIENT, headers=auth["editor_a"])
    assert r.status_code == 201, r.text
    return str(r.json()["registry_id"])


def _run_in_own_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on a fresh event loop in a thread of its own: in the whole suite the
    browser tests' Playwright (sync API) keeps an event loop running in the main thread, where
    ``asyncio.run`` is refused."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.mark.parametrize("served", SERVED)
def test_concurrent_reads_are_all_audited_in_shared_commits(
    app: Any, client: Any, auth: dict[str, dict[str, str]], registry: Any,
    monkeypatch: pytest.MonkeyPatch, backend: str, served: str,
) -> None:  # fmt: skip
    _skip_sqlite_event_loop(backend, served)
    _, database = registry
    rid = _patient(client, auth)
    batches = _slow_batches(monkeypatch)
    answers = _run_in_own_loop(_concurrent_reads(app, rid, auth["viewer_a"], served))
    assert [a.status_code for a in answers] == [200] * N
    reads = _reads(database)
    assert [(r.actor_username, r.entity_id) for r in reads] == [("viewer_a", rid)] * N
    assert sum(len(b) for b in batches) == N
    assert max(len(b) for b in batches) > 1  # shared commits
    assert len(batches) < N
    assert verify_registry(database).ok


@pytest.mark.parametrize("served", SERVED)
def test_a_failed_commit_discloses_nothing_to_every_request_it_carried(
    app: Any, client: Any, auth: dict[str, dict[str, str]], registry: Any,
    monkeypatch: pytest.MonkeyPatch, backend: str, served: str,
) -> None:  # fmt: skip
    _skip_sqlite_event_loop(backend, served)
    _, database = registry
    rid = _patient(client, auth)
    _slow_batches(monkeypatch, fail=True)
    answers = _run_in_own_loop(_concurrent_reads(app, rid, auth["viewer_a"], served))
    assert [a.status_code for a in answers] == [503] * N
    for answer in answers:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.json()["code"] == "audit_unavailable"
        assert rid not in answer.text and "GC-001" not in answer.text
    assert _reads(database) == []


@pytest.mark.parametrize("served", SERVED)
def test_the_row_is_committed_before_the_answer_starts(
    app: Any, client: Any, auth: dict[str, dict[str, str]], registry: Any,
    monkeypatch: pytest.MonkeyPatch, backend: str, served: str,
) -> None:  # fmt: skip
    """The answer's first message goes out only after its row is durable: a keep-alive
    client cannot move on while its read is still unlogged."""
    _, database = registry
    rid = _patient(client, auth)
    seen: list[int] = []
    real = read_audit._commit_rows

    async def counting(db: Any, engine: Any, items: list[Any]) -> None:
        await real(db, engine, items)
        seen.append(len(_reads(database)))

    monkeypatch.setattr(read_audit, "_commit_rows", counting)
    committed_at_start: list[int] = []

    async def probe() -> None:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                committed_at_start.append(len(_reads(database)))
            sent.append(message)

        token = auth["viewer_a"]["Authorization"].encode()
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": f"{API}/patients/{rid}",
            "raw_path": f"{API}/patients/{rid}".encode(), "query_string": b"",
            "headers": [(b"host", b"testserver"), (b"authorization", token)],
            "client": ("127.0.0.1", 1), "server": ("testserver", 80), "root_path": "",
        }  # fmt: skip
        if served == "event_loop":
            async with app.router.lifespan_context(app):
                await app(scope, receive, send)
        else:
            await app(scope, receive, send)
        assert sent[0]["status"] == 200

    _skip_sqlite_event_loop(backend, served)
    _run_in_own_loop(probe())
    assert committed_at_start == [1] and seen == [1]


def test_a_revoked_token_fails_on_the_next_request(
    client: Any, auth: dict[str, dict[str, str]]
) -> None:
    rid = _patient(client, auth)
    headers = auth["viewer_a"]
    assert client.get(f"{API}/patients/{rid}", headers=headers).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=headers).status_code in (200, 204)
    assert client.get(f"{API}/patients/{rid}", headers=headers).status_code == 401
