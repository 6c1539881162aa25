"""The documented command-line examples (README "Registry"), run with CliRunner on both
databases."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.domain import LastContact
from infantall.domain.quality import QUALITY_QUERIES, check_quality
from infantall.registry.events import add_event
from infantall.registry.export import pseudonym
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.registry.testing import SEED_PASSWORD
from infantall.services.datasets import scoped_histories

PASSWORD = "long-chief-password-7"
CSV = (
    "record_id,redcap_repeat_instrument,redcap_repeat_instance,birth_date,diagnosis_date,sex,"
    "kmt2a,fusion_partner,event_kind,event_date,event_status\n"
    "C-1,,,2024-01-05,2024-04-01,female,rearranged,AFF1,,,\n"
    "C-1,event,1,,,,,,response,2024-05-01,cr\n"
    "C-2,,,2024-02-05,2024-03-01,male,germline,none,,,\n"
)


def _run(runner: CliRunner, args: list[str], password: str = PASSWORD, **env: str) -> Any:
    result = runner.invoke(app, args, env={"INFANTALL_PASSWORD": password, **env})
    return result


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which a plain write makes a world-readable file."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_registry_commands_end_to_end(registry: Any, tmp_path: Path, umask_022: None) -> None:
    settings, _ = registry
    url = ["--database-url", settings.database_url]
    runner = CliRunner()
    init = _run(runner, ["registry", "init", "--admin", "root", *url, "--format", "json"])
    assert init.exit_code == 0, init.output
    assert json.loads(init.output)[0]["admin_created"] is True
    again = _run(runner, ["registry", "init", *url, "--format", "json"])
    assert json.loads(again.output)[0]["admin_created"] is False
    assert (
        _run(
            runner, ["registry", "add-site", "NL-AMC", "Amsterdam", "--user", "root", *url]
        ).exit_code
        == 0
    )
    new_pw = {"INFANTALL_NEW_PASSWORD": "editor-password"}
    for name, role, site in (("ed", "site_editor", "NL-AMC"), ("co", "coordinator", None)):
        extra = ["--site", site] if site else []
        r = _run(
            runner,
            ["registry", "add-user", name, "--role", role, *extra, "--user", "root", *url],
            **new_pw,
        )
        assert r.exit_code == 0, r.output
    data = tmp_path / "patients.csv"
    data.write_text(CSV)
    imported = _run(
        runner,
        ["registry", "import", str(data), "--user", "ed", *url, "--format", "json"],
        password="editor-password",
    )
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output)[0] == {"file": "patients.csv", "patients": 2, "events": 1}
    out = tmp_path / "export.parquet"
    exported = _run(
        runner, ["registry", "export", str(out), "--user", "ed", *url], password="editor-password"
    )
    assert exported.exit_code == 0, exported.output
    assert sorted(pd.read_parquet(out).record_id.unique()) == ["C-1", "C-2"]
    assert _owner_only(out)  # a site's identifiable data is not left world-readable
    nowhere = tmp_path / "missing" / "export.csv"
    unwritable = _run(
        runner, ["registry", "export", str(nowhere), "--user", "ed", *url],
        password="editor-password",
    )  # fmt: skip
    assert unwritable.exit_code != 0 and "[unwritable_path]" in unwritable.output
    assert "Traceback" not in unwritable.output and not nowhere.parent.exists()
    pooled = tmp_path / "pooled.csv"
    r = _run(
        runner,
        ["registry", "export", str(pooled), "--pooled", "--user", "co", *url],
        password="editor-password",
    )
    assert r.exit_code == 0, r.output
    assert "birth_date" not in pd.read_csv(pooled).columns
    assert _owner_only(pooled) and _owner_only(tmp_path / "pooled.manifest.json")
    denied = _run(
        runner,
        ["registry", "export", str(pooled), "--pooled", "--user", "ed", *url],
        password="editor-password",
    )
    assert denied.exit_code != 0 and "may not export pooled data" in denied.output
    identified = tmp_path / "identified.csv"
    refused = _run(  # the coordinator reads the pooled view only, on the CLI too (issue 14)
        runner, ["registry", "export", str(identified), "--user", "co", *url],
        password="editor-password",
    )  # fmt: skip
    assert refused.exit_code != 0 and "pooled_only" in refused.output
    assert not identified.exists()
    verify = _run(runner, ["registry", "verify", *url, "--format", "json"])
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.output)["summary"]["audit_replay"] == "ok"
    bad = _run(
        runner, ["registry", "import", str(data), "--user", "ed", *url], password="wrong-password"
    )
    assert bad.exit_code != 0 and "invalid username or password" in bad.output
    rejected = _run(
        runner,
        ["registry", "import", str(data), "--user", "ed", *url, "--format", "csv"],
        password="editor-password",
    )
    assert rejected.exit_code != 0
    assert "duplicate_patient" in rejected.output and "nothing was imported" in rejected.output


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_dictionary_command(fmt: str) -> None:
    result = CliRunner().invoke(app, ["registry", "dictionary", "--format", fmt])
    assert result.exit_code == 0
    assert "record_id" in result.output and "event_hla_match" in result.output


def test_serve_starts_uvicorn_on_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append({"target": target, **kw}))
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    monkeypatch.setenv("INFANTALL_DATABASE_URL", url)  # restored after the test (serve sets it)
    production = CliRunner().invoke(
        app,
        ["serve", "--database-url", url],
        env={
            "INFANTALL_ENVIRONMENT": "",
            "INFANTALL_SECRET_KEY": "",
            "INFANTALL_PSEUDONYM_KEY": "",
        },
    )
    assert production.exit_code != 0 and "--dev" in production.output  # no secrets: refused
    empty = CliRunner().invoke(app, ["serve", "--dev", "--database-url", url])
    assert empty.exit_code != 0 and "run `infantall registry init` first" in empty.output
    assert calls == []
    init = CliRunner().invoke(
        app, ["registry", "init", "--database-url", url], env={"INFANTALL_PASSWORD": PASSWORD}
    )
    assert init.exit_code == 0, init.output
    result = CliRunner().invoke(app, ["serve", "--dev", "--port", "8123", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "target": "infantall.web.app:serve_app",
            "factory": True,
            "host": "127.0.0.1",
            "port": 8123,
            "workers": 1,
            "log_level": "info",
            "access_log": True,
            "proxy_headers": False,
            "forwarded_allow_ips": "127.0.0.1",
        }
    ]
    refused = CliRunner().invoke(app, ["serve"], env={"INFANTALL_ENVIRONMENT": "production"})
    assert refused.exit_code != 0 and "default is refused" in refused.output


def _quality_patients(database: Any, principals: dict[str, Any]) -> dict[str, str]:
    """SITE-A: KMT2A unknown; SITE-B: follow-up overdue on 2026-01-01."""
    out = {}
    for code, editor, kmt2a, last in (
        ("A-1", "editor_a", "unknown", dt.date(2025, 12, 1)),
        ("B-1", "editor_b", "germline", dt.date(2024, 6, 1)),
    ):
        with database.write_sessions() as s:
            p = create_patient(
                s,
                principals[editor],
                PatientCreate(
                    local_code=code,
                    birth_date=dt.date(2024, 1, 1),
                    diagnosis_date=dt.date(2024, 3, 1),
                    kmt2a=kmt2a,
                ),
            )
            add_event(s, principals[editor], p.registry_id, LastContact(date=last))
        out[code] = p.registry_id
    return out


def test_quality_command_formats_the_domain_result(registry: Any, seeded: dict[str, Any]) -> None:
    settings, database = registry
    ids = _quality_patients(database, seeded)
    key = settings.pseudonym_key.get_secret_value()
    runner = CliRunner()
    base = ["registry", "quality", "--database-url", settings.database_url, "--as-of", "2026-01-01"]

    as_json = _run(
        runner,
        [*base, "--user", "coord", "--format", "json"],
        password=SEED_PASSWORD,
        INFANTALL_PSEUDONYM_KEY=key,
    )
    assert as_json.exit_code == 0, as_json.output
    with database.read_sessions() as s:
        expected = check_quality(scoped_histories(s, seeded["coord"], key), dt.date(2026, 1, 1))
    assert json.loads(as_json.output) == expected.to_dict()
    assert {f["patient_id"] for f in json.loads(as_json.output)["findings"]} == {
        pseudonym(key, rid) for rid in ids.values()
    }

    as_csv = _run(runner, [*base, "--user", "viewer_b", "--format", "csv"], password=SEED_PASSWORD)
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [(r["query"], r["site"], r["patient_id"]) for r in rows] == [
        ("follow_up_overdue", "SITE-B", ids["B-1"])
    ]
    later = _run(
        runner,
        [*base, "--user", "viewer_b", "--format", "csv", "--overdue-days", "1000"],
        password=SEED_PASSWORD,
    )
    assert later.exit_code == 0 and later.output.strip() == "query,site,patient_id,detail"

    table = _run(runner, [*base, "--user", "editor_a"], password=SEED_PASSWORD)
    assert table.exit_code == 0, table.output
    assert all(code in table.output for code in QUALITY_QUERIES)
    assert ids["A-1"] in table.output and ids["B-1"] not in table.output

    denied = _run(runner, [*base, "--user", "admin"], password=SEED_PASSWORD)
    assert denied.exit_code != 0 and "may not read patients" in denied.output
    zero = _run(runner, [*base, "--user", "coord", "--overdue-days", "0"], password=SEED_PASSWORD)
    assert zero.exit_code != 0
