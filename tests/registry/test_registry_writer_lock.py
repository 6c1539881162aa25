"""The SQLite cross-process writer lock (issue 14, load figures).

Writers of every process take an exclusive ``flock`` on ``<database>-writer.lock`` before
``BEGIN IMMEDIATE`` and drop it at ``COMMIT``/``ROLLBACK``, so they queue in the kernel
instead of sleeping in SQLite's busy handler. These tests check that the lock is held for
exactly the write transaction, that a writer waits for it *before* asking SQLite for the
write lock, and that two processes writing audited rows at once both succeed with one
unbroken, verifying audit chain.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from infantall.registry import audit
from infantall.registry.access import Principal
from infantall.registry.db import Database
from infantall.registry.models import AuditEntry
from infantall.registry.testing import make_test_settings
from infantall.registry.verify import verify_registry

ROWS_PER_PROCESS = 40


@pytest.fixture
def sqlite_db(templates: Any, tmp_path: Path) -> Any:
    with templates.database("sqlite", tmp_path, seeded=True) as (settings, database):
        yield settings, database, templates.seeds["sqlite"][0]


def _lock_file(settings: Any) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///") + "-writer.lock")


def _locked_elsewhere(path: Path) -> bool:
    """Whether some open file other than ours holds the lock (a fresh open file probes)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def test_lock_is_held_for_exactly_the_write_transaction(sqlite_db: Any) -> None:
    settings, database, principals = sqlite_db
    with database.write_sessions() as s:
        s.execute(text("SELECT 1"))
        path = _lock_file(settings)
        assert _locked_elsewhere(path)  # from BEGIN IMMEDIATE on
        audit.record(s, principals["editor_a"], "note", "patient", "P-1", new={"n": 1})
        s.commit()
        assert not _locked_elsewhere(path)  # released by COMMIT
        s.execute(text("SELECT 1"))
        assert _locked_elsewhere(path)
        s.rollback()
        assert not _locked_elsewhere(path)  # released by ROLLBACK
    with database.read_sessions() as s:  # readers never take it
        s.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
        assert not _locked_elsewhere(path)
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # like the database: owner only


def test_a_writer_waits_for_the_lock_before_it_asks_sqlite(sqlite_db: Any) -> None:
    settings, database, principals = sqlite_db
    path = _lock_file(settings)
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # as another process would
    fcntl.flock(holder, fcntl.LOCK_EX)
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            with database.write_sessions() as s:
                audit.record(s, principals["editor_a"], "note", "patient", "P-2", new={"n": 2})
                s.commit()
            outcome.append(None)
        except BaseException as exc:  # reported below
            outcome.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        writer.join(0.5)
        assert writer.is_alive() and not outcome  # queued on the lock file
        # ... and not inside SQLite: its write lock is still free for anyone else
        other = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), timeout=0)
        other.isolation_level = None
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
        writer.join(30)
    assert outcome == [None]
    with database.read_sessions() as s:
        assert s.scalar(select(func.count()).where(AuditEntry.entity_id == "P-2")) == 1


def _write_rows(url: str, principal: Principal, tag: str, barrier: Any) -> None:
    database = Database.from_settings(make_test_settings(url))
    try:
        barrier.wait(60)
        for i in range(ROWS_PER_PROCESS):
            with database.write_sessions() as s:
                audit.record(s, principal, "note", "patient", f"{tag}-{i}", new={"i": i})
                s.commit()
    finally:
        database.dispose()


def test_two_processes_write_at_once_and_the_chain_verifies(sqlite_db: Any) -> None:
    settings, database, principals = sqlite_db
    with database.read_sessions() as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(
            target=_write_rows,
            args=(settings.database_url, principals[user], tag, barrier),
        )
        for user, tag in (("editor_a", "A"), ("editor_b", "B"))
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with database.read_sessions() as s:
        after = s.scalar(select(func.count()).select_from(AuditEntry))
        per_process = [
            s.scalar(select(func.count()).where(AuditEntry.entity_id.like(f"{tag}-%")))
            for tag in ("A", "B")
        ]
    assert after == before + 2 * ROWS_PER_PROCESS
    assert per_process == [ROWS_PER_PROCESS, ROWS_PER_PROCESS]
    report = verify_registry(database)
    assert report.ok, report
