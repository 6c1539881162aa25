"""The schema: migrations agree with the models, the audit table is append-only in the
database itself, SQLite runs with the durable pragmas, settings refuse default secrets."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from infantall.domain import EVENT_KINDS as DOMAIN_KINDS
from infantall.domain import PATIENT_FIELDS as DOMAIN_PATIENT_FIELDS
from infantall.errors import InvalidInputError
from infantall.registry.db import HEAD_REVISION, current_revision, integrity_check
from infantall.registry.models import EVENT_KINDS, KIND_LENGTH, Base, Patient
from infantall.registry.settings import DEFAULT_SECRET, load_settings
from infantall.registry.validation import PATIENT_FIELDS


def test_migrations_create_exactly_the_models(registry: Any) -> None:
    _, database = registry
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert current_revision(database.engine) == HEAD_REVISION
    assert integrity_check(database.engine) == []


def _audit_row(database: Any) -> None:
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (at, action, entity, channel) VALUES (:at, 'x', 'y', 'api')"
            ),
            {"at": "2026-01-01 00:00:00"},
        )


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"],
)
def test_database_refuses_to_change_the_audit_trail(registry: Any, statement: str) -> None:
    _, database = registry
    _audit_row(database)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text(statement))
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_log")).scalars().all() == ["x"]


def test_postgres_refuses_truncate_of_the_audit_trail(registry: Any, backend: str) -> None:
    _, database = registry
    _audit_row(database)
    statement = "TRUNCATE audit_log" if backend == "postgresql" else "DELETE FROM audit_log"
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text(statement))


def test_sqlite_connections_are_durable(registry: Any, backend: str) -> None:
    _, database = registry
    if backend != "sqlite":
        with database.engine.connect() as conn:
            assert conn.execute(text("SHOW fsync")).scalar() == "on"
        return
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_event_kinds_follow_the_domain() -> None:
    assert EVENT_KINDS == DOMAIN_KINDS


def test_stored_values_fit_their_columns() -> None:
    """The kinds and choice codes of the domain fit the columns of migration 0001 (the ORM
    takes its kinds from the domain; a longer code would need a migration)."""
    assert max(map(len, EVENT_KINDS)) <= KIND_LENGTH
    columns = Patient.__table__.columns
    for name in PATIENT_FIELDS:
        spec = DOMAIN_PATIENT_FIELDS[name]
        length = getattr(columns[name].type, "length", None)
        if spec.choices:
            assert length is not None and max(map(len, spec.codes)) <= length, name


@pytest.mark.parametrize("environment", ["test", "production"])
def test_default_secret_is_refused_outside_development(environment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        load_settings(environment=environment)
    assert info.value.code == "default_secret_refused"
    with pytest.raises(InvalidInputError):
        load_settings(environment=environment, secret_key=DEFAULT_SECRET, pseudonym_key="x" * 20)
    ok = load_settings(environment=environment, secret_key="s" * 20, pseudonym_key="p" * 20)
    assert ok.environment == environment


def test_development_accepts_the_default_and_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INFANTALL_DATABASE_URL", "sqlite:///elsewhere.db")
    settings = load_settings()
    assert settings.database_url == "sqlite:///elsewhere.db"
    assert settings.secret_key.get_secret_value() == DEFAULT_SECRET
    with pytest.raises(InvalidInputError) as info:
        load_settings(lockout_threshold=0)
    assert info.value.code == "invalid_setting"
