"""PostgreSQL pool: a connection is pinged at checkout only after sitting idle
(``infantall.registry.db.IDLE_PING_SECONDS``), instead of at every checkout (SQLAlchemy's
``pool_pre_ping``, one round trip more per request). A connection the server dropped while
it sat idle is replaced without an error; one dropped within the window fails the query
that finds it, and the pool recovers on the next (SQLAlchemy invalidates it)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from infantall.registry import db
from infantall.registry.testing import postgres_url

_PID = text("SELECT pg_backend_pid()")


def _terminate(pids: set[int]) -> None:
    """End these server backends (as the server's admin) and wait until they are gone."""
    admin = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for pid in pids:
                assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
            query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:p)")
            for _ in range(100):
                if conn.execute(query, {"p": list(pids)}).scalar_one() == 0:
                    return
                time.sleep(0.02)
            raise AssertionError("the backends did not end")
    finally:
        admin.dispose()


def _pooled_pids(database: db.Database) -> set[int]:
    """The backend of every connection the pool holds (all checked in afterwards)."""
    sessions = [database.read_sessions() for _ in range(3)]
    pids = {int(s.execute(_PID).scalar_one()) for s in sessions}
    for s in sessions:
        s.close()
    return pids


@pytest.fixture
def pg(registry: Any, backend: str) -> db.Database:
    if backend != "postgresql":
        pytest.skip("the pool ping is PostgreSQL's (SQLite opens a local file)")
    return registry[1]


def test_a_connection_dropped_while_idle_is_replaced_without_an_error(
    pg: db.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped = _pooled_pids(pg)
    _terminate(dropped)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every reused connection is "idle"
    for _ in range(4):
        with pg.read_sessions() as s:
            assert int(s.execute(_PID).scalar_one()) not in dropped


def test_a_drop_inside_the_window_fails_once_and_the_pool_recovers(
    pg: db.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)  # no ping at all
    dropped = _pooled_pids(pg)
    _terminate(dropped)
    with pg.read_sessions() as s, pytest.raises(DBAPIError) as caught:
        s.execute(_PID)
    assert caught.value.connection_invalidated
    for _ in range(4):  # the pool was invalidated: every later checkout reconnects
        with pg.read_sessions() as s:
            assert int(s.execute(_PID).scalar_one()) not in dropped


def test_a_connection_in_steady_use_is_not_pinged(
    pg: db.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[Any] = []
    dialect = pg.engine.dialect
    monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(conn) or True)
    for _ in range(5):
        with pg.read_sessions() as s:
            s.execute(_PID)
    assert pings == []  # reused within IDLE_PING_SECONDS
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    with pg.read_sessions() as s:
        s.execute(_PID)
    assert len(pings) == 1


def test_a_loss_found_by_one_pool_gets_the_other_pools_connections_pinged(
    pg: db.Database, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web app has two pools on one server (threads and the event loop's engine,
    ``registry.evented``): once either finds a connection lost, the other's connections are
    pinged at checkout however briefly idle, so the loss fails one request, not one per pool."""
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)  # no idle ping: only the warning
    settings, _ = registry
    other = db.Database.from_settings(settings)  # a second pool on the same database
    try:
        theirs = _pooled_pids(other)
        _terminate(_pooled_pids(pg) | theirs)
        with pg.read_sessions() as s, pytest.raises(DBAPIError) as caught:
            s.execute(_PID)
        assert caught.value.connection_invalidated
        for _ in range(4):  # before: the other pool's first checkout failed too
            with other.read_sessions() as s:
                assert int(s.execute(_PID).scalar_one()) not in theirs
    finally:
        other.dispose()
