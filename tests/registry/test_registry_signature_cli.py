"""``infantall registry sign`` and ``unlock`` (issue 14) with CliRunner, on SQLite and
PostgreSQL: the JSON manifestation, the lock they put on the record, verify afterwards."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.registry.errors import ConflictError
from infantall.registry.patients import create_patient, update_patient
from infantall.registry.schemas import PatientCreate, PatientUpdate
from infantall.registry.testing import SEED_PASSWORD


def _run(args: list[str], password: str = SEED_PASSWORD) -> Any:
    return CliRunner().invoke(app, args, env={"INFANTALL_PASSWORD": password})


def test_sign_and_unlock_from_the_command_line(registry: Any, seeded: Any) -> None:
    settings, database = registry
    url = ["--database-url", settings.database_url]
    with database.write_sessions() as s:
        rid = create_patient(
            s,
            seeded["editor_a"],
            PatientCreate(
                local_code="CLI-1",
                birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1),
            ),
        ).registry_id
    denied = _run(["registry", "sign", rid, "--user", "editor_a", *url])
    assert denied.exit_code == 1 and "may not sign patients" in denied.output
    signed = _run(
        [
            "registry",
            "sign",
            rid,
            "--meaning",
            "author",
            "--user",
            "inv_a",
            *url,
            "--format",
            "json",
        ]
    )
    assert signed.exit_code == 0, signed.output
    (record,) = json.loads(signed.stdout)
    assert record["patient"] == rid and record["status"] == "active"
    assert record["meaning"] == "author" and len(record["content_digest"]) == 64
    assert record["manifestation"].startswith("Signed electronically by inv_a (inv_a) on ")
    with database.write_sessions() as s, pytest.raises(ConflictError, match="locked"):
        update_patient(s, seeded["editor_a"], rid, PatientUpdate(version=1, reason="r", wbc=4))
    no_reason = _run(["registry", "unlock", rid, "--reason", " ", "--user", "inv_a", *url])
    assert no_reason.exit_code == 1
    unlocked = _run(
        [
            "registry",
            "unlock",
            rid,
            "--reason",
            "query",
            "--user",
            "coord",
            *url,
            "--format",
            "json",
        ]
    )
    assert unlocked.exit_code == 0, unlocked.output
    assert [r["status"] for r in json.loads(unlocked.stdout)] == ["superseded"]
    verify = _run(["registry", "verify", *url, "--format", "json"])
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["summary"]["signatures"] == "ok"
