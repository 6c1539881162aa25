"""Migration 0002 chains the audit rows already written under 0001: a database upgraded in
place verifies, and its pre-existing rows are protected like new ones."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from infantall.registry.db import HEAD_REVISION, Database, current_revision, upgrade_database
from infantall.registry.models import AuditEntry
from infantall.registry.testing import (
    _admin_execute,
    _database_url,
    make_test_settings,
    postgres_url,
)
from infantall.registry.verify import verify_registry

from .test_registry_chain import _attacker


@pytest.fixture
def empty_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A database with no schema at all (not a copy of the migrated template)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        name = None
    else:
        name = f"infantall_m_{secrets.token_hex(5)}"
        _admin_execute(f'CREATE DATABASE "{name}"')
        url = _database_url(postgres_url(), name)
    database = Database.from_settings(make_test_settings(url))
    try:
        yield database
    finally:
        database.dispose()
        if name is not None:
            _admin_execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_upgrade_chains_existing_audit_rows(empty_database: Database) -> None:
    database = empty_database
    upgrade_database(database.engine, "0001")
    rows: list[dict[str, Any]] = [
        {
            "at": dt.datetime(2026, 11, 20 + i % 3, 8, i, tzinfo=dt.UTC),
            "action": "login",  # not a data change: replay has nothing to rebuild
            "entity": "user",
            "entity_id": f"S{i}",
            "new": {"note": f"row {i}", "value": i / 3},
            "reason": None if i % 2 else "because",
            "channel": "cli",
        }
        for i in range(7)
    ]
    with database.engine.begin() as conn:
        conn.execute(insert(AuditEntry), rows)
    upgrade_database(database.engine)
    assert current_revision(database.engine) == HEAD_REVISION
    report = verify_registry(database)
    assert report.ok, report.problems
    assert report.audit_rows == 7
    assert [a["day"] for a in report.anchors] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    with _attacker(database) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == 3).values(actor_username="x"))
    found = {(p["kind"], p["id"]) for p in verify_registry(database).problems}
    assert found == {("changed", "3")}
