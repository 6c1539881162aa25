"""Every ``--format json`` command of the CLI prints strict JSON (RFC 8259: no NaN/Infinity).

The commands are enumerated from the CLI itself (every command with a ``--format`` option);
each has one documented invocation below (the README's where it has one, with smaller
simulation sizes), and the test fails when a command is added without one. The README's own
``--format json`` lines are run as written. Output is parsed with ``json.loads(...,
parse_constant=...)`` raising on ``NaN``, ``Infinity`` and ``-Infinity``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from infantall.cli import app
from infantall.commands._output import strict_json
from infantall.domain import Death, LastContact, Patient, PatientHistory, Relapse, Response

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

PATIENT = {
    "patient_id": "P1",
    "birth_date": "2024-01-10",
    "diagnosis_date": "2024-05-01",
    "wbc": 350,
    "kmt2a": "rearranged",
    "fusion_partner": "AFF1",
    "cns": "CNS1",
    "day8_blasts": 1500,
}
REGISTRY_CSV = (
    "record_id,redcap_repeat_instrument,redcap_repeat_instance,birth_date,diagnosis_date,sex,"
    "kmt2a,fusion_partner,event_kind,event_date,event_status\n"
    "C-1,,,2024-01-05,2024-04-01,female,rearranged,AFF1,,,\n"
    "C-1,event,1,,,,,,response,2024-05-01,cr\n"
    "C-2,,,2024-02-05,2024-03-01,male,germline,none,,,\n"
)
ANALYZE = "analysis.csv --time efs_days"

#: one invocation per command with --format (run in order: the registry ones build on each
#: other). The README's examples where it has them; simulations made small.
INVOCATIONS: dict[str, list[str]] = {
    "stratify": ["stratify patient.json --protocol interfant-06 --explain"],
    "endpoints": ["endpoints patients.json -o adtte.csv"],
    "meta": [
        "meta --endpoint os --protocol-type infant-specific --by era",
        "meta --endpoint efs --protocol-type infant-specific --leave-one-out",
    ],
    "meta-regress": [
        "meta-regress --endpoint efs --on accrual_mid_year --protocol-type infant-specific"
    ],
    "meta-hsct": ["meta-hsct --by-study"],
    "trials list": ["trials list --era 2006-"],
    "trials show": ["trials show interfant-99", "trials show s004-t3-jilsg-mll96-98"],
    "trials statements": ["trials statements"],
    "trials export": [
        "trials export -o base.json",
        "trials export -o base.parquet --format parquet",
    ],
    "protocols list": ["protocols list"],
    "protocols show": ["protocols show interfant-06"],
    "analyze km": [
        f"analyze km {ANALYZE} --event efs_event --group kmt2a --horizon 5 --horizon 30"
    ],
    "analyze cif": [f"analyze cif {ANALYZE} --status cir_status --group kmt2a --horizon 5"],
    "analyze cox": [
        f"analyze cox {ANALYZE} --event efs_event --covariates kmt2a_r,age_days,wbc",
        f"analyze cox {ANALYZE} --event efs_event --covariates 'C(kmt2a) + wbc'",
    ],
    "analyze hsct": [f"analyze hsct {ANALYZE} --event efs_event --hsct-time hsct_days"],
    "analyze finegray": [
        f"analyze finegray {ANALYZE} --status cir_status --cause 1 "
        "--covariates 'C(kmt2a) + age_days'"
    ],
    "design sample-size": [
        "design sample-size --hr 0.6 --median-control 2y --accrual 30/y --follow-up 2y "
        "--dropout 0.05/y",
        "design sample-size --hr 0.6 --median-control 2y --accrual-duration 3y --follow-up 2y "
        "--looks 3",
    ],
    "design boundaries": ["design boundaries --looks 3 --spending obrien-fleming"],
    "design historical": [
        "design historical --trial interfant-06 --population kmt2a-r --endpoint efs "
        "--horizon 2 --target 0.65",
        "design historical --p0 0.494 --target 0.65 --accrual 20/y",
    ],
    "design accrual": ["design accrual --group Interfant"],
    "design simulate": [
        "design simulate examples/design/pick-a-winner-binary.yaml --trials 200 --seed 3",
        "design simulate examples/design/time-to-event.yaml --trials 100",
        "design simulate examples/design/interfant21-like.yaml --trials 50",
    ],
    "cohort generate": ["cohort generate --n 60 --sites 4 --seed 1 -o cohort.csv"],
    "cohort check": ["cohort check --n 300"],
    "cohort targets": ["cohort targets --calibration mll-10"],
    "registry init": ["registry init --admin root {db}"],
    "registry add-site": ["registry add-site NL-AMC Amsterdam --user root {db}"],
    "registry add-user": ["registry add-user ed --role site_editor --site NL-AMC --user root {db}"],
    "registry totp-code": ["registry totp-code ed {db}"],
    # ed changes the password to the one it has (the policy holds; nothing else changes)
    "registry password": ["registry password --user ed {db}"],
    "registry import": ["registry import registry.csv --user ed {db}"],
    "registry export": ["registry export export.csv --user ed {db}"],
    "registry quality": ["registry quality --user ed {db}"],
    "registry dictionary": ["registry dictionary"],
    "registry verify": ["registry verify {db}"],
    "registry backup": ["registry backup registry.bak {db}"],
    "registry restore": ["registry restore registry.bak --yes {db}"],
    # they need an investigator and a patient id: tests/registry/test_registry_signature_cli.py
    # runs both with --format json and parses their JSON
    "registry sign": [],
    "registry unlock": [],
    "analyze multistate": ["analyze multistate patients.json --times 1,2 --tau 2"],
    "design prior": [
        "design prior --population kmt2a-r --endpoint efs --horizon 2 --robust-weight 0.8",
        "design prior --endpoint-type tte --intervals 0,1,2 --population kmt2a-r --endpoint efs "
        "--robust-weight 0.8",
    ],
    "design simon": ["design simon --p0 0.1 --p1 0.3 --kind minimax"],
    "design futility": ["design futility --looks 3"],
    "design single-arm": [
        "design single-arm --population kmt2a-r --horizon 2 --robust-weight 0.8 --n 160 "
        "--accrual 53/y --trials 2000 --observed 95/160"
    ],
    # both need live nodes (servers on loopback): tests/federation runs them and parses their JSON
    "federated run": [],
    "federated demo": [],
    # a trial needs a registry with sites, accounts and eligible patients:
    # tests/trials/test_trial_cli.py runs each of these and parses their JSON
    "trial open": [],
    "trial enrol": [],
    "trial show": [],
    "trial interim": [],
    "trial replay": [],
    "trial run-due": [],
}
#: the password each registry command runs with (the editor's after add-user)
EDITOR = {"registry import", "registry export", "registry quality", "registry password"}
#: exits 1 by design when a small synthetic cohort misses a target; its JSON is still printed
CHECKS = ("cohort", "check")


def _refuse(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _format_commands() -> list[str]:
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    found: list[str] = []

    def walk(cmd: Any, path: list[str]) -> None:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])
        elif any("--format" in p.opts for p in cmd.params):
            found.append(" ".join(path))

    walk(root, [])
    return found


def _readme_json_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^infantall [^\n]*--format json[^\n]*$", text, re.M)
    # `analyze` examples read an endpoint table (efs_days, ...): tests/outcomes runs each of them
    # on one, and its JSON through the same strict emitter.
    return [
        " ".join(shlex.split(line, comments=True)[1:])
        for line in lines
        if not line.startswith("infantall analyze ")
    ]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the inputs the invocations name."""
    rng = np.random.default_rng(15)
    n = 300
    kmt2a_r = rng.integers(0, 2, n)
    t_event = rng.exponential(1500 / np.exp(0.7 * kmt2a_r))
    t_cens = rng.uniform(300, 3650, n)
    days = np.round(np.minimum(t_event, t_cens)) + 1
    event = (t_event <= t_cens).astype(int)
    hsct = np.where((rng.random(n) < 0.4) & (days > 150), rng.uniform(100, 150, n).round(), np.nan)
    wbc = np.round(rng.lognormal(4, 1, n), 1)
    wbc[:3] = np.nan  # rows dropped as complete cases
    pd.DataFrame(
        {
            "efs_days": days,
            "efs_event": event,
            "kmt2a": np.where(kmt2a_r == 1, "r", "g"),
            "kmt2a_r": kmt2a_r,
            "age_days": rng.integers(1, 365, n),
            "wbc": wbc,
            "cir_status": np.where(event == 1, rng.choice([1, 2], n, p=[0.75, 0.25]), 0),
            "hsct_days": hsct,
        }
    ).to_csv(tmp_path / "analysis.csv", index=False)
    (tmp_path / "patient.json").write_text(json.dumps(PATIENT), encoding="utf-8")
    d0 = dt.date(2019, 3, 1)
    hist = [
        PatientHistory(
            patient=Patient(patient_id="P1", age_days=40, diagnosis_date=d0),
            events=[
                Response(date=d0 + dt.timedelta(days=33), status="cr"),
                Relapse(date=d0 + dt.timedelta(days=300)),
                Death(date=d0 + dt.timedelta(days=420)),
            ],
        ),
        PatientHistory(
            patient=Patient(patient_id="P2", age_days=200, diagnosis_date=d0),
            events=[LastContact(date=d0 + dt.timedelta(days=1500))],
        ),
    ]
    (tmp_path / "patients.json").write_text(json.dumps([h.to_dict() for h in hist]))
    (tmp_path / "registry.csv").write_text(REGISTRY_CSV, encoding="utf-8")
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INFANTALL_ENVIRONMENT", "development")
    return tmp_path


def _run_json(args: list[str], env: dict[str, str]) -> Any:
    if "--format" not in args:
        args = [*args, "--format", "json"]
    res = runner.invoke(app, args, env=env)
    allowed = (0, 1) if tuple(args[:2]) == CHECKS else (0,)
    assert res.exit_code in allowed, (args, res.output)
    return json.loads(res.stdout, parse_constant=_refuse)


def test_every_format_command_prints_strict_json(workdir: Path) -> None:
    commands = _format_commands()
    assert "analyze finegray" in commands and "registry quality" in commands
    assert set(commands) <= set(INVOCATIONS), set(commands) - set(INVOCATIONS)
    db = f"--database-url sqlite:///{workdir / 'registry.db'}"
    for command in commands:
        for line in INVOCATIONS[command]:
            password = "editor-password" if command in EDITOR else "long-admin-password"
            env = {"INFANTALL_PASSWORD": password, "INFANTALL_NEW_PASSWORD": "editor-password"}
            payload = _run_json(shlex.split(line.format(db=db)), env)
            assert payload is not None


def test_readme_json_examples_print_strict_json(workdir: Path) -> None:
    lines = _readme_json_lines()
    assert len(lines) >= 5
    for line in lines:
        args = shlex.split(line)
        args = ["300" if a == "5000" else a for a in args]  # cohort check: a smaller cohort
        _run_json(args, {})


def test_strict_json_turns_nan_and_infinity_into_null() -> None:
    payload = {"a": float("nan"), "b": [np.float64("inf"), -np.inf, 1.5], "c": np.int64(3)}
    text = strict_json(payload)
    assert json.loads(text, parse_constant=_refuse) == {"a": None, "b": [None, None, 1.5], "c": 3}
