"""The database sessions of API requests (issue 14, load figures).

A read's session is opened on the event loop and closed after the answer (inline on
SQLite, in a thread on PostgreSQL); on SQLite a write's token is checked on a reader
session, before the endpoint's write begins. Neither may leak a pooled connection, leave
SQLite's writer lock (or the cross-process writer lock file) held, or let a revoked token
through on the next request.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import time
from typing import Any

from sqlalchemy import select, text, update

from infantall.registry.models import ApiToken
from infantall.registry.testing import SEED_PASSWORD

API = "/api/v1"
PATIENT = {
    "local_code": "RS-001",
    "birth_date": "2024-03-01",
    "diagnosis_date": "2024-06-15",
    "kmt2a": "germline",
}


def _lock_free(settings: Any) -> bool:
    """SQLite: whether the writer lock file can be taken by someone else right now."""
    path = settings.database_url.removeprefix("sqlite:///") + "-writer.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_requests_leave_no_connection_checked_out(
    client: Any, auth: Any, registry: Any, backend: str
) -> None:
    settings, database = registry
    created = client.post(f"{API}/patients", json=PATIENT, headers=auth["editor_a"])
    assert created.status_code == 201
    pid = created.json()["registry_id"]
    for _ in range(5):
        assert client.get(f"{API}/patients/{pid}", headers=auth["editor_a"]).status_code == 200
        assert client.get(f"{API}/patients/{pid}", headers=auth["editor_b"]).status_code == 404
        assert client.get(f"{API}/patients/{pid}", headers={}).status_code == 401
    event = {"kind": "last_contact", "date": "2025-01-01"}
    added = client.post(f"{API}/patients/{pid}/events", json=event, headers=auth["editor_a"])
    assert added.status_code == 201
    assert database.read_engine.pool.checkedout() == 0
    assert database.engine.pool.checkedout() == 0
    for evented in client.app.state.evented_engines.all():  # PostgreSQL: the loop's pool
        assert evented.sync_engine.pool.checkedout() == 0
    if backend == "sqlite":
        assert _lock_free(settings)
        with database.engine.connect() as conn:  # SQLite's own writer lock is free too
            conn.execute(text("SELECT 1"))  # BEGIN IMMEDIATE would wait 10 s if it were held
            conn.rollback()


def test_a_revoked_token_fails_on_the_next_read_and_write(client: Any, auth: Any) -> None:
    created = client.post(f"{API}/patients", json=PATIENT, headers=auth["editor_a"])
    pid = created.json()["registry_id"]
    assert client.get(f"{API}/patients/{pid}", headers=auth["editor_a"]).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=auth["editor_a"]).status_code in (200, 204)
    assert client.get(f"{API}/patients/{pid}", headers=auth["editor_a"]).status_code == 401
    event = {"kind": "last_contact", "date": "2025-01-01"}
    answer = client.post(f"{API}/patients/{pid}/events", json=event, headers=auth["editor_a"])
    assert answer.status_code == 401


def test_a_cookie_write_whose_session_expiry_slides_succeeds(client: Any, registry: Any) -> None:
    """The sliding idle expiry of a session token is written by a short transaction of its
    own; on a write request it must not wait for the request's own writer lock (on SQLite
    it used to, until "database is locked" ten seconds later)."""
    _, database = registry
    origin = {"Origin": "http://testserver"}
    login = {"username": "editor_a", "password": SEED_PASSWORD}
    assert client.post(f"{API}/auth/session", json=login, headers=origin).status_code == 200
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    with database.write_sessions() as s:  # due to slide: it moves by more than a minute
        s.execute(update(ApiToken).where(ApiToken.kind == "session").values(expires_at=soon))
        s.commit()
    answer = client.post(f"{API}/patients", json=PATIENT, headers=origin)
    assert answer.status_code == 201, answer.text
    with database.read_sessions() as s:
        expires = s.scalar(select(ApiToken.expires_at).where(ApiToken.kind == "session"))
    assert expires is not None and expires.replace(tzinfo=dt.UTC) > soon


def _drop_every_connection(settings: Any) -> None:
    """End every server backend connected to the test database but this one (the pool's
    connections all die while they sit checked in), and wait until they are gone."""
    from sqlalchemy import create_engine

    admin = create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    others = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    try:
        with admin.connect() as conn:
            pids = list(conn.execute(others).scalars())
            assert pids, "the app's pool holds no connection"
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            for _ in range(100):
                if not list(conn.execute(others).scalars()):
                    return
                time.sleep(0.02)
            raise AssertionError("the backends did not end")
    finally:
        admin.dispose()


def test_a_connection_lost_under_a_request_is_a_503_and_the_next_request_works(
    client: Any, auth: Any, registry: Any, backend: str, monkeypatch: Any
) -> None:
    """A pooled PostgreSQL connection dropped by the server within the idle-ping window
    fails the request that finds it: ``503 database_unavailable`` with ``Retry-After``
    (not a 500), and the pool reconnects for the next one."""
    if backend != "postgresql":
        import pytest

        pytest.skip("SQLite opens a local file: no connection to lose")
    from infantall.registry import db

    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)  # no ping: the drop is found by use
    settings, _ = registry
    created = client.post(f"{API}/patients", json=PATIENT, headers=auth["editor_a"])
    pid = created.json()["registry_id"]
    event = {"kind": "last_contact", "date": "2025-01-01"}
    for method, path, body in (
        ("GET", f"{API}/patients/{pid}", None),
        ("POST", f"{API}/patients/{pid}/events", event),
    ):
        assert client.get(f"{API}/patients/{pid}", headers=auth["editor_a"]).status_code == 200
        _drop_every_connection(settings)
        db._LOST_AT.clear()  # no loss known yet: the request itself finds this one
        lost = client.request(method, path, json=body, headers=auth["editor_a"])
        assert lost.status_code == 503, (method, lost.text)
        assert lost.json()["code"] == "database_unavailable"
        assert lost.headers["retry-after"] == "1"
        assert lost.headers["content-type"] == "application/problem+json"
        again = client.request(method, path, json=body, headers=auth["editor_a"])
        assert again.status_code in (200, 201), (method, again.text)
    # The GET's audit row went through the other pool (the event loop's, on PostgreSQL),
    # whose connection also died: the loss the POST found gets it pinged and replaced.
    events = client.get(f"{API}/patients/{pid}/events", headers=auth["editor_a"]).json()
    assert isinstance(events, list), events
    assert len(events) == 1  # the write that met the lost connection stored nothing


def _ac(conn: Any) -> str:
    autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    return " in autocommit" if autocommit else ""


def _postgresql_patient(client: Any, auth: Any, backend: str, why_not_sqlite: str) -> str:
    """A new patient of site A on PostgreSQL (the test is skipped on SQLite)."""
    if backend != "postgresql":
        import pytest

        pytest.skip(why_not_sqlite)
    created = client.post(f"{API}/patients", json=PATIENT, headers=auth["editor_a"])
    assert created.status_code == 201, created.text
    registry_id: str = created.json()["registry_id"]
    return registry_id


def _endings(client: Any, database: Any) -> list[str]:
    """A list that records each COMMIT and ROLLBACK from now on, with the engine it ran on:
    ``loop`` (the event loop's, PostgreSQL) or ``thread`` (the threaded pool)."""
    from sqlalchemy import event

    seen: list[str] = []
    (evented,) = client.app.state.evented_engines.all()
    for engine in (database.engine, evented.sync_engine):
        name = "loop" if engine is evented.sync_engine else "thread"
        event.listen(engine, "commit", lambda _c, n=name: seen.append(f"COMMIT {n}"))
        event.listen(engine, "rollback", lambda c, n=name: seen.append(f"ROLLBACK {n}{_ac(c)}"))
    return seen


def test_a_successful_read_ends_with_commit(
    client: Any, auth: Any, registry: Any, backend: str
) -> None:
    """PostgreSQL: an API read that answered 200 ends its transaction with COMMIT, not
    ROLLBACK, so psycopg keeps the connection's prepared statements (a read that failed or
    flushed is rolled back: tests/registry/test_end_read.py)."""
    pid = _postgresql_patient(
        client, auth, backend, "SQLite sessions close as before (no prepared statements to keep)"
    )
    _, database = registry
    # The read and its audit row go through the event loop's engine (registry.evented).
    seen = _endings(client, database)
    assert client.get(f"{API}/patients/{pid}", headers=auth["editor_a"]).status_code == 200
    # The read commits. Its audit row is one statement in autocommit: SQLAlchemy reports
    # the closing "rollback" of that connection, which psycopg skips (nothing is open).
    assert seen == ["COMMIT loop", "ROLLBACK loop in autocommit"]


def test_an_event_is_written_on_the_loops_engine(
    client: Any, auth: Any, registry: Any, backend: str
) -> None:
    """PostgreSQL: ``POST .../events`` (``web.deps.on_the_loop``) checks the token and writes
    through the event loop's engine, not from threads: an accepted event commits there; a
    refused one (a death before diagnosis) rolls back there and stores nothing; neither
    leaves a connection checked out."""
    pid = _postgresql_patient(
        client, auth, backend, "SQLite writers wait for a file lock: they stay in threads"
    )
    _, database = registry
    seen = _endings(client, database)
    (evented,) = client.app.state.evented_engines.all()
    url = f"{API}/patients/{pid}/events"
    ok = client.post(url, json={"kind": "last_contact", "date": "2025-01-01"},
                     headers=auth["editor_a"])  # fmt: skip
    assert ok.status_code == 201, ok.text
    assert seen == ["COMMIT loop"]
    seen.clear()
    refused = client.post(url, json={"kind": "death", "date": "2024-01-01"},
                          headers=auth["editor_a"])  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert seen == ["ROLLBACK loop"]
    other = client.post(
        url, json={"kind": "last_contact", "date": "2025-02-01"}, headers=auth["editor_b"]
    )  # another site's editor: not in scope
    assert other.status_code == 404
    listed = client.get(url, headers=auth["editor_a"]).json()
    assert [e["date"] for e in listed] == ["2025-01-01"]
    assert evented.sync_engine.pool.checkedout() == 0
    assert database.engine.pool.checkedout() == 0
