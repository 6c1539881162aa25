"""The tamper-evident audit trail (issue 14, defect 3).

On the old code SQLite's ``INSERT OR REPLACE`` replaced an audit row despite the
UPDATE/DELETE triggers, and ``registry verify`` answered ok after rewrites of actor, time or
reason and after deleted rows. Here an attacker with the database's own rights (SQLite:
drops the triggers; PostgreSQL: the superuser's ``session_replication_role = replica``)
rewrites rows; verify must name each one by id and kind.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from infantall.cli import app
from infantall.domain import LastContact
from infantall.registry.audit import AUDIT_CHAIN, CHAINED_COLUMNS, GENESIS_HASH, link_hash
from infantall.registry.events import add_event
from infantall.registry.models import AuditEntry
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.registry.verify import verify_registry

_SQLITE_TRIGGERS = (
    "audit_log_no_update",
    "audit_log_no_delete",
    "audit_log_no_replace",
    "audit_chain_no_update",
    "audit_chain_no_delete",
    "audit_chain_no_replace",
)


def _writes(database: Any, who: Any, n: int = 3) -> None:
    with database.write_sessions() as s:
        for i in range(n):
            p = create_patient(
                s,
                who,
                PatientCreate(
                    local_code=f"CH-{i}",
                    birth_date=dt.date(2024, 1, 1),
                    diagnosis_date=dt.date(2024, 3, 1),
                    kmt2a="germline",
                ),
            )
            add_event(s, who, p.registry_id, LastContact(date=dt.date(2025, 1, 1)))


@contextmanager
def _attacker(database: Any) -> Iterator[Connection]:
    """A connection with the audit triggers out of the way (what the old app role could do)."""
    with database.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in _SQLITE_TRIGGERS:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn


def _problems(database: Any, **kw: Any) -> set[tuple[str, str, str | None]]:
    report = verify_registry(database, **kw)
    return {(p["check"], p["kind"], p["id"]) for p in report.problems}


def _audit_ids(database: Any) -> list[int]:
    with database.read_sessions() as s:
        return list(s.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def test_a_clean_trail_verifies(registry: Any, seeded: Any) -> None:
    _, database = registry
    _writes(database, seeded["editor_a"])
    report = verify_registry(database)
    assert report.ok, report.problems
    assert report.audit_rows == len(_audit_ids(database)) > 0
    assert report.anchors and report.anchors[-1]["seq"] == report.audit_rows
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["ok"] is True


def test_database_refuses_a_replacing_insert(registry: Any, seeded: Any, backend: str) -> None:
    _, database = registry
    first = _audit_ids(database)[0]
    statement = (
        "INSERT OR REPLACE INTO audit_log (id, at, action, entity, channel) "
        "VALUES (:id, '2026-01-01 00:00:00', 'forged', 'user', 'api')"
        if backend == "sqlite"
        else "INSERT INTO audit_log (id, at, action, entity, channel) "
        "VALUES (:id, '2026-01-01 00:00:00', 'forged', 'user', 'api') "
        "ON CONFLICT (id) DO UPDATE SET action = 'forged'"
    )
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text(statement), {"id": first})
    with database.read_sessions() as s:
        row = s.get(AuditEntry, first)
        assert row is not None and row.action != "forged"
    assert verify_registry(database).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor_username", "someone_else"), ("reason", "forged reason"), ("at", None)],
)
def test_verify_names_a_rewritten_row(registry: Any, seeded: Any, column: str, value: Any) -> None:
    _, database = registry
    _writes(database, seeded["editor_a"])
    target = _audit_ids(database)[3]
    new = value if value is not None else dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    with _attacker(database) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == target).values({column: new}))
    assert ("audit_chain", "changed", str(target)) in _problems(database)


def test_verify_names_deleted_and_inserted_rows(registry: Any, seeded: Any) -> None:
    _, database = registry
    _writes(database, seeded["editor_a"])
    ids = _audit_ids(database)
    gone = ids[2]
    with _attacker(database) as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.id == gone))
        conn.execute(
            insert(AuditEntry).values(
                id=ids[-1] + 100,
                at=dt.datetime.now(dt.UTC),
                action="create",
                entity="x",
                channel="api",
            )
        )
    problems = _problems(database)
    assert ("audit_chain", "missing", str(gone)) in problems
    assert ("audit_chain", "inserted", str(ids[-1] + 100)) in problems


def test_a_rewritten_chain_no_longer_matches_published_anchors(registry: Any, seeded: Any) -> None:
    _, database = registry
    _writes(database, seeded["editor_a"])
    published = [dict(a) for a in verify_registry(database).anchors]
    target = _audit_ids(database)[1]
    with _attacker(database) as conn:  # rewrite a row and re-hash the whole chain after it
        conn.execute(update(AuditEntry).where(AuditEntry.id == target).values(reason="x"))
        conn.execute(delete(AUDIT_CHAIN))
        table = AuditEntry.__table__
        rows = conn.execute(
            select(*(table.c[c] for c in CHAINED_COLUMNS)).order_by(table.c.id)
        ).mappings()
        prev = GENESIS_HASH
        for seq, row in enumerate(rows, start=1):
            digest = link_hash(prev, dict(row))
            conn.execute(
                insert(AUDIT_CHAIN).values(
                    seq=seq,
                    audit_id=row["id"],
                    day=row["at"].date(),
                    prev_hash=prev,
                    row_hash=digest,
                )
            )
            prev = digest
    assert _problems(database) == set()  # the chain alone is consistent again ...
    kinds = {k for _, k, _ in _problems(database, published_anchors=published)}
    assert kinds == {"changed"}  # ... but not with what was published


def test_cli_verify_fails_and_names_the_row(registry: Any, seeded: Any, tmp_path: Any) -> None:
    settings, database = registry
    _writes(database, seeded["editor_a"])
    runner = CliRunner()
    url = ["--database-url", settings.database_url]
    clean = runner.invoke(app, ["registry", "verify", *url, "--format", "json"])
    assert clean.exit_code == 0, clean.output
    anchors = tmp_path / "anchors.json"
    anchors.write_text(clean.output, encoding="utf-8")
    target = _audit_ids(database)[4]
    with _attacker(database) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == target).values(reason="x"))
    bad = runner.invoke(
        app, ["registry", "verify", *url, "--anchors", str(anchors), "--format", "json"]
    )
    assert bad.exit_code == 1
    found = json.loads(bad.output)["problems"]
    assert {"check": "audit_chain", "kind": "changed", "id": str(target)} in [
        {k: p[k] for k in ("check", "kind", "id")} for p in found
    ]
