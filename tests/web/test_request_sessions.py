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
