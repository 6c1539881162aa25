"""How a reader session ends on PostgreSQL (:func:`infantall.registry.read_session.end_read`, the
``close`` of :class:`infantall.registry.db.ReadSession`).

psycopg forgets a connection's prepared statements at every ``ROLLBACK``; a read that only
read is therefore committed, so its connection keeps them (the server then parses and plans
a request's queries once per connection, not once per request). Anything that may have
written (any statement but a SELECT, flushed or not), or that failed, is still rolled back.
PostgreSQL only: SQLite sessions close as before.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from infantall.registry.db import Database
from infantall.registry.models import Patient
from infantall.registry.patients import create_patient, get_patient
from infantall.registry.read_session import end_read
from infantall.registry.schemas import PatientCreate


@pytest.fixture
def pg(registry: Any, seeded: Any, backend: str) -> tuple[Database, Any, str]:
    if backend != "postgresql":
        pytest.skip("prepared statements and their loss at ROLLBACK are psycopg's")
    _, database = registry
    editor = seeded["editor_a"]
    with database.write_sessions() as s:
        created = create_patient(s, editor, PatientCreate(
            local_code="ER-1", birth_date=dt.date(2024, 1, 1), diagnosis_date=dt.date(2024, 3, 1)
        ))  # fmt: skip
    return database, editor, created.registry_id


def _endings(database: Database) -> list[str]:
    seen: list[str] = []
    event.listen(database.engine, "commit", lambda _c: seen.append("COMMIT"))
    event.listen(database.engine, "rollback", lambda _c: seen.append("ROLLBACK"))
    return seen


def test_a_clean_read_commits_and_the_connection_keeps_its_prepared_statements(
    pg: tuple[Database, Any, str],
) -> None:
    database, editor, pid = pg
    database.engine.dispose()  # one fresh connection, used by every read below in turn
    seen = _endings(database)
    for _ in range(8):  # psycopg prepares a query at its 5th execution on a connection
        session = database.read_sessions()
        assert get_patient(session, editor, pid).local_code == "ER-1"
        end_read(session)
    assert seen == ["COMMIT"] * 8
    with database.read_sessions() as s:
        names = s.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("FROM patients" in n for n in names), names


def test_a_read_that_flushed_a_change_is_rolled_back_not_committed(
    pg: tuple[Database, Any, str],
) -> None:
    database, _, pid = pg
    session = database.read_sessions()
    patient = session.execute(
        text("SELECT id FROM patients WHERE registry_id = :p"), {"p": pid}
    ).scalar_one()
    row = session.get(Patient, patient)
    assert row is not None
    row.notes = "written by a reader"
    session.flush()  # the change reached the server inside the read transaction
    seen = _endings(database)
    end_read(session)
    assert seen == ["ROLLBACK"]
    with database.read_sessions() as s:
        stored = s.execute(text("SELECT notes FROM patients WHERE id = :i"), {"i": patient})
        assert stored.scalar_one() != "written by a reader"
    unflushed = database.read_sessions()
    row = unflushed.get(Patient, patient)
    assert row is not None
    seen.clear()
    row.notes = "pending in a reader"
    end_read(unflushed)  # pending changes: rolled back, never flushed by a commit
    assert seen == ["ROLLBACK"]
    with database.read_sessions() as s:
        stored = s.execute(text("SELECT notes FROM patients WHERE id = :i"), {"i": patient})
        assert stored.scalar_one() != "pending in a reader"


def test_a_read_whose_statement_failed_is_rolled_back(pg: tuple[Database, Any, str]) -> None:
    database, _, _ = pg
    seen = _endings(database)
    session = database.read_sessions()
    with pytest.raises(DBAPIError):
        session.execute(text("SELECT 1 / 0"))
    end_read(session)
    assert seen == ["ROLLBACK"]
    with database.read_sessions() as s:  # the pool hands out a working connection afterwards
        assert s.execute(text("SELECT 1")).scalar_one() == 1


def test_a_reader_closed_by_its_context_manager_commits_a_clean_read(
    pg: tuple[Database, Any, str],
) -> None:
    database, editor, pid = pg
    seen = _endings(database)
    with database.read_sessions() as session:
        assert get_patient(session, editor, pid).local_code == "ER-1"
    assert seen == ["COMMIT"]


def test_a_statement_that_may_write_is_rolled_back_even_without_a_flush(
    pg: tuple[Database, Any, str],
) -> None:
    """A Core or text statement writes without an ORM flush; any statement but a SELECT
    marks the transaction, and the reader's close rolls it back."""
    database, _, pid = pg
    seen = _endings(database)
    with database.read_sessions() as session:
        session.execute(
            text("UPDATE patients SET notes = 'raw write by a reader' WHERE registry_id = :p"),
            {"p": pid},
        )
    assert seen == ["ROLLBACK"]
    seen.clear()
    with database.read_sessions() as session:
        stored = session.execute(
            text("SELECT notes FROM patients WHERE registry_id = :p"), {"p": pid}
        ).scalar_one()
    assert stored != "raw write by a reader"
    assert seen == ["COMMIT"]  # the mark ended with the transaction that made it


def test_a_session_level_setting_is_never_committed_by_a_reader(
    pg: tuple[Database, Any, str],
) -> None:
    """``set_config(..., false)`` lasts for the connection once committed: a reader that ran
    one is rolled back, so the pooled connection does not carry it to the next caller."""
    database, _, _ = pg
    database.engine.dispose()  # one connection, reused below
    seen = _endings(database)
    with database.read_sessions() as session:
        session.execute(text("SELECT set_config('infantall.probe', 'leaked', false)"))
    assert seen == ["ROLLBACK"]
    with database.read_sessions() as session:
        probe = session.execute(text("SELECT current_setting('infantall.probe', true)"))
        assert probe.scalar_one() in (None, "")
