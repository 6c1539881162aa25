"""Least privilege on PostgreSQL (issue 14, defect 3): the app role made by
``registry init --app-role`` cannot UPDATE, DELETE or TRUNCATE audit rows, cannot disable
the triggers and cannot switch them off with ``session_replication_role``; yet the
registry's own writes work through it, and they form a valid chain.

On the old code the app connected as the table owner (a superuser): every statement below
succeeded.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from infantall.cli import app
from infantall.domain import LastContact
from infantall.registry.db import Database
from infantall.registry.events import add_event
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.registry.testing import make_test_settings
from infantall.registry.verify import verify_registry

#: SQLSTATE 42501 (insufficient_privilege): "permission denied", "must be owner", ...
INSUFFICIENT_PRIVILEGE = "42501"
FORBIDDEN = (
    "UPDATE audit_log SET reason = 'forged'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "UPDATE audit_chain SET row_hash = 'x'",
    "DELETE FROM audit_chain",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "SET session_replication_role = replica",
    "DELETE FROM patients",
    "CREATE ROLE intruder SUPERUSER",
)


@pytest.fixture
def app_database(registry: Any, seeded: Any, backend: str) -> Iterator[tuple[Any, Any, str]]:
    """The registry as the app role: (settings, database, role name)."""
    if backend != "postgresql":
        pytest.skip("roles exist on PostgreSQL only (SQLite: see test_sqlite_has_no_roles)")
    settings, database = registry
    role = f"infantall_app_{secrets.token_hex(4)}"
    runner = CliRunner()
    done = runner.invoke(
        app,
        [
            "registry",
            "init",
            "--app-role",
            role,
            "--database-url",
            settings.database_url,
            "--format",
            "json",
        ],
    )
    assert done.exit_code == 0, done.output
    url = make_url(settings.database_url).set(username=role)
    as_app = make_test_settings(url.render_as_string(hide_password=False))
    app_db = Database.from_settings(as_app)
    try:
        yield as_app, app_db, role
    finally:
        app_db.dispose()
        with database.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def test_app_role_is_not_superuser_nor_owner(app_database: Any) -> None:
    _, db, role = app_database
    with db.engine.connect() as conn:
        flags = conn.execute(
            text("SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = :r"),
            {"r": role},
        ).one()
        owners = (
            conn.execute(
                text(
                    "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = current_schema()"
                )
            )
            .scalars()
            .all()
        )
    assert tuple(flags) == (False, False, False)
    assert role not in owners


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_app_role_cannot_rewrite_the_audit_trail(app_database: Any, statement: str) -> None:
    _, db, _ = app_database
    with pytest.raises(DBAPIError) as caught, db.engine.begin() as conn:
        conn.execute(text(statement))
    assert getattr(caught.value.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE


def test_registry_works_through_the_app_role(app_database: Any, seeded: Any) -> None:
    _, db, _ = app_database
    who = seeded["editor_a"]
    with db.write_sessions() as s:
        p = create_patient(
            s,
            who,
            PatientCreate(
                local_code="ROLE-1",
                birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1),
                kmt2a="germline",
            ),
        )
        add_event(s, who, p.registry_id, LastContact(date=dt.date(2025, 1, 1)))
    report = verify_registry(db)
    assert report.ok, report.problems


def test_sqlite_has_no_roles(registry: Any, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the SQLite answer")
    settings, _ = registry
    done = CliRunner().invoke(
        app, ["registry", "init", "--app-role", "app", "--database-url", settings.database_url]
    )
    assert done.exit_code != 0
    assert "app_role: roles exist on PostgreSQL only" in done.output
