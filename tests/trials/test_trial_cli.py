"""``infantall trial open / enrol / show / replay`` with CliRunner (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import text
from typer.testing import CliRunner

from infantall.cli import app
from infantall.registry.testing import SEED_PASSWORD
from infantall.services.trials import grant_trial_role

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "design" / "pick-a-winner-binary.yaml"


def _run(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, env={"INFANTALL_PASSWORD": SEED_PASSWORD})


def test_trial_commands_end_to_end(
    registry: Any, seeded: dict[str, Any], make_patients: Any, tmp_path: Path
) -> None:
    settings, database = registry
    url = ["--database-url", settings.database_url]
    opened = _run(
        [
            "trial",
            "open",
            str(EXAMPLE),
            "--code",
            "T1",
            "--method",
            "minimisation",
            "--factor",
            "age_under_6_months",
            "--factor",
            "site",
            "--user",
            "coord",
            *url,
            "--format",
            "json",
        ]
    )
    assert opened.exit_code == 0, opened.output
    info = json.loads(opened.output)[0]
    assert info["arms"] == ["control", "A", "B", "C"]
    assert len(info["spec_digest"]) == 64
    assert "seed" not in opened.output
    ids = make_patients(database, seeded["editor_a"], 12, "A")
    for pid in ids:
        r = _run(["trial", "enrol", "T1", pid, "--user", "editor_a", *url, "--format", "json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)[0]["arm"] in info["arms"]
    denied = _run(["trial", "enrol", "T1", ids[0], "--user", "viewer_a", *url])
    assert denied.exit_code == 1
    shown = _run(["trial", "show", "T1", "--user", "coord", *url, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert "by_arm" not in shown.output
    page = tmp_path / "open.html"
    r = _run(["trial", "report", "T1", "-o", str(page), "--user", "coord", *url])
    assert r.exit_code == 0, r.output
    assert "OPEN report" in page.read_text(encoding="utf-8")
    assert stat.S_IMODE(page.stat().st_mode) == 0o600  # trial data: owner-only, whatever umask
    refused = _run(["trial", "report", "T1", "-o", str(page), "--closed", "--user", "coord", *url])
    assert refused.exit_code == 1
    with database.write_sessions() as s:
        grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")
    early = _run(["trial", "interim", "T1", "--user", "dmc", *url])
    assert early.exit_code == 1
    assert "no interim is due (12 enrolled; next at 100 patients)" in early.output
    ok = _run(["trial", "replay", "T1", *url, "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["meta"]["identical"] is True
    assert json.loads(ok.output)["meta"]["allocations"] == 12
    with database.engine.begin() as conn:  # a different seed: replay must fail
        conn.execute(text("UPDATE trials SET seed = seed + 7"))
    bad = _run(["trial", "replay", "T1", *url, "--format", "json"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["meta"]["identical"] is False


def test_open_with_a_settings_file_and_run_due(
    registry: Any, seeded: dict[str, Any], make_patients: Any, tmp_path: Path
) -> None:
    """``trial open --settings FILE --auto-interims``: the file's settings (here unequal
    ratios and interims by events) are validated and stored; ``trial run-due`` answers how
    many interims ran, never their results; a settings file that is no mapping is refused."""
    settings, database = registry
    url = ["--database-url", settings.database_url]
    good = tmp_path / "settings.yaml"
    good.write_text("ratio: [2, 1, 1, 1]\ninterim_events: [5, 10, 15, 20, 25, 30]\n")
    opened = _run(["trial", "open", str(EXAMPLE), "--code", "T2", "--settings", str(good),
                   "--auto-interims", "--user", "coord", *url, "--format", "json"])  # fmt: skip
    assert opened.exit_code == 0, opened.output
    with database.read_sessions() as s:
        stored = s.execute(text("SELECT settings FROM trials WHERE code = 'T2'")).scalar()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored["ratio"] == [2, 1, 1, 1] and stored["auto_interims"] is True
    assert stored["interim_events"] == [5, 10, 15, 20, 25, 30]
    ran = _run(["trial", "run-due", "T2", "--user", "coord", *url, "--format", "json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.output) == [{"trial": "T2", "interims_run": 0}]
    refused = _run(["trial", "run-due", "T2", "--user", "editor_a", *url])
    assert refused.exit_code == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    r = _run(["trial", "open", str(EXAMPLE), "--code", "T3", "--settings", str(bad),
              "--user", "coord", *url])  # fmt: skip
    assert r.exit_code == 1 and "--settings" in r.output
    r = _run(["trial", "run-due", "T2", "--as-of", "soon", "--user", "coord", *url])
    assert r.exit_code == 1 and "--as-of" in r.output
