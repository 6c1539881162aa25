"""``infantall registry backup`` / ``restore`` on SQLite (online backup API) and PostgreSQL
(pg_dump / pg_restore), with ``verify`` after each (issue 14, "Backup and restore")."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from typer.testing import CliRunner

from infantall.cli import app
from infantall.domain import LastContact
from infantall.registry.events import add_event
from infantall.registry.models import AuditEntry, Patient
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.registry.verify import verify_registry

from .test_registry_chain import _attacker


def _add(database: Any, who: Any, code: str) -> None:
    with database.write_sessions() as s:
        p = create_patient(
            s,
            who,
            PatientCreate(
                local_code=code,
                birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1),
                kmt2a="rearranged",
            ),
        )
        add_event(s, who, p.registry_id, LastContact(date=dt.date(2025, 2, 1)))


def _count(database: Any) -> tuple[int, int]:
    with database.read_sessions() as s:
        patients = s.scalar(select(func.count()).select_from(Patient)) or 0
        rows = s.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return int(patients), int(rows)


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["registry", *args])


def test_backup_then_restore_brings_back_the_verified_state(
    registry: Any, seeded: Any, tmp_path: Path
) -> None:
    settings, database = registry
    url = ["--database-url", settings.database_url]
    _add(database, seeded["editor_a"], "B-1")
    before = _count(database)
    target = tmp_path / "registry.backup"
    made = _cli("backup", str(target), *url, "--format", "json")
    assert made.exit_code == 0, made.output
    record = json.loads(made.output)[0]
    assert record["verify"] == "ok" and record["size_bytes"] == target.stat().st_size > 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # not world-readable
    # later writes, then the audit trail is tampered with: verify fails
    _add(database, seeded["editor_a"], "B-2")
    with _attacker(database) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == 2).values(reason="forged"))
    assert not verify_registry(database).ok
    database.dispose()
    refused = _cli("restore", str(target), *url)
    assert refused.exit_code != 0 and "--yes" in refused.output
    done = _cli("restore", str(target), "--yes", *url, "--format", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)[0]["verify"] == "ok"
    assert _count(database) == before
    assert verify_registry(database).ok


def test_backup_refuses_to_overwrite_and_restore_a_missing_file(
    registry: Any, tmp_path: Path
) -> None:
    settings, _ = registry
    url = ["--database-url", settings.database_url]
    existing = tmp_path / "exists.backup"
    existing.write_bytes(b"keep me")
    made = _cli("backup", str(existing), *url)
    assert made.exit_code != 0 and "already exists" in made.output
    assert existing.read_bytes() == b"keep me"
    missing = _cli("restore", str(tmp_path / "nope.backup"), "--yes", *url)
    assert missing.exit_code != 0 and "not a file" in missing.output
    # a folder that does not exist: a clear error (it was a FileNotFoundError traceback)
    nowhere = tmp_path / "no-such-folder" / "x.backup"
    lost = _cli("backup", str(nowhere), *url)
    assert lost.exit_code != 0 and lost.output.startswith("error: destination: cannot write")
    assert isinstance(lost.exception, SystemExit) and not nowhere.parent.exists()


def test_a_failed_backup_leaves_no_file_behind(
    registry: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """The destination is created first (owner-only, never over a file); if the copy then
    fails, the empty or partial file is removed, so a retry is not refused as "exists"."""
    from infantall.registry import db

    def broken(*_: Any) -> Any:
        raise db.InvalidInputError("database_url", "pg_dump failed: disk full", "backup_failed")

    settings, _ = registry
    target = tmp_path / "partial.backup"
    monkeypatch.setattr(db, "_write_backup", broken)
    failed = _cli("backup", str(target), "--database-url", settings.database_url)
    assert failed.exit_code != 0 and "disk full" in failed.output
    assert not target.exists()
    monkeypatch.undo()
    again = _cli("backup", str(target), "--database-url", settings.database_url)
    assert again.exit_code == 0, again.output


def test_restore_refuses_a_file_that_is_not_a_backup(
    registry: Any, tmp_path: Path, backend: str
) -> None:
    settings, database = registry
    before = _count(database)
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"this is not a backup" * 10)
    done = _cli("restore", str(junk), "--yes", "--database-url", settings.database_url)
    assert done.exit_code != 0
    assert done.output.startswith("error: source:")
    expected = "not a SQLite backup" if backend == "sqlite" else "not appear to be a valid archive"
    assert expected in done.output
    assert _count(database) == before  # nothing was changed
