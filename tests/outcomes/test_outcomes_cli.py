"""CliRunner tests of every documented ``infantall analyze`` / ``infantall endpoints`` example."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.domain import Death, LastContact, Patient, PatientHistory, Relapse, Response
from infantall.outcomes import cox_ph, kaplan_meier_by_group

runner = CliRunner()


@pytest.fixture
def cohort_csv(tmp_path):
    """A synthetic one-row-per-patient file with the columns used in the README examples."""
    rng = np.random.default_rng(2026)
    n = 400
    kmt2a_r = rng.integers(0, 2, n)
    age = rng.integers(1, 365, n)
    wbc = np.round(rng.lognormal(4, 1, n), 1)
    rate = 1 / 1500 * np.exp(0.7 * kmt2a_r)
    t_event = rng.exponential(1 / rate)
    t_cens = rng.uniform(300, 3650, n)
    days = np.round(np.minimum(t_event, t_cens)) + 1
    event = (t_event <= t_cens).astype(int)
    cause = np.where(event == 1, rng.choice([1, 2], n, p=[0.75, 0.25]), 0)
    hsct = np.where((rng.random(n) < 0.4) & (days > 150), rng.uniform(100, 150, n).round(), np.nan)
    df = pd.DataFrame(
        {
            "efs_days": days,
            "efs_event": event,
            "kmt2a": np.where(kmt2a_r == 1, "r", "g"),
            "kmt2a_r": kmt2a_r,
            "age_days": age,
            "wbc": wbc,
            "cir_days": days,
            "cir_status": cause,
            "hsct_days": hsct,
        }
    )
    path = tmp_path / "cohort.csv"
    df.to_csv(path, index=False)
    return path, df


def test_km_example(cohort_csv, tmp_path):
    path, df = cohort_csv
    fig = tmp_path / "km.svg"
    args = [
        "analyze",
        "km",
        str(path),
        "--time",
        "efs_days",
        "--event",
        "efs_event",
        "--group",
        "kmt2a",
        "--horizon",
        "5",
        "--figure",
        str(fig),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert fig.stat().st_size > 10_000
    out = runner.invoke(app, [*args[:-2], "--format", "json"])
    payload = json.loads(out.stdout)
    curves = kaplan_meier_by_group(df.efs_days, df.efs_event, df.kmt2a)
    expected = curves.at([5 * 365.25])
    got = {r["group"]: r["surv_5y_pct"] for r in payload["records"]}
    for row in expected.itertuples():
        assert got[row.group] == round(100 * row.survival, 2)
    (test,) = payload["tests"]
    assert test["test"] == "log-rank" and test["df"] == 1 and 0 <= test["p_value"] <= 1


def test_km_csv_and_peto(cohort_csv):
    path, _ = cohort_csv
    res = runner.invoke(
        app,
        [
            "analyze",
            "km",
            str(path),
            "--time",
            "efs_days",
            "--event",
            "efs_event",
            "--group",
            "kmt2a",
            "--test",
            "peto",
            "-f",
            "csv",
        ],
    )
    assert res.exit_code == 0
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in res.stdout.split("\n\n")}
    assert blocks["# records"][0].startswith("group,n,events,median")
    assert blocks["# tests"][0] == "test,cause,statistic,df,p_value"
    assert blocks["# tests"][1].startswith("Peto-Peto,,")


def test_cif_example(cohort_csv, tmp_path):
    path, _ = cohort_csv
    res = runner.invoke(
        app,
        [
            "analyze",
            "cif",
            str(path),
            "--time",
            "cir_days",
            "--status",
            "cir_status",
            "--group",
            "kmt2a",
            "--horizon",
            "5",
            "--figure",
            str(tmp_path / "cif.svg"),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert {r["cause"] for r in payload["records"]} == {1, 2}
    assert [(t["test"], t["cause"], t["df"]) for t in payload["tests"]] == [
        ("Gray", 1, 1),
        ("Gray", 2, 1),
    ]


def test_cox_example(cohort_csv, tmp_path):
    path, df = cohort_csv
    res = runner.invoke(
        app,
        [
            "analyze",
            "cox",
            str(path),
            "--time",
            "efs_days",
            "--event",
            "efs_event",
            "--covariates",
            "kmt2a_r,age_days,wbc",
            "--figure",
            str(tmp_path / "forest.png"),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    fit = cox_ph(df, "efs_days", "efs_event", ["kmt2a_r", "age_days", "wbc"])
    assert payload["records"][0]["hr"] == pytest.approx(fit.hazard_ratio[0], rel=1e-12)


def test_hsct_example(cohort_csv, tmp_path):
    path, _ = cohort_csv
    res = runner.invoke(
        app,
        [
            "analyze",
            "hsct",
            str(path),
            "--time",
            "efs_days",
            "--event",
            "efs_event",
            "--hsct-time",
            "hsct_days",
            "--figure",
            str(tmp_path / "sm.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Mantel-Byar" in res.stdout and "immortal" in res.stdout


def test_errors_go_to_stderr(cohort_csv, tmp_path):
    path, df = cohort_csv
    res = runner.invoke(app, ["analyze", "km", str(path), "--time", "nope", "--event", "efs_event"])
    assert res.exit_code == 1
    assert "error: nope" in res.stderr and "Traceback" not in res.output
    bad = tmp_path / "bad.csv"
    df.assign(efs_days=-df.efs_days).to_csv(bad, index=False)
    res = runner.invoke(
        app, ["analyze", "km", str(bad), "--time", "efs_days", "--event", "efs_event"]
    )
    assert res.exit_code == 1 and "negative_time" in res.stderr
    res = runner.invoke(
        app,
        [
            "analyze",
            "cox",
            str(path),
            "--time",
            "efs_days",
            "--event",
            "efs_event",
            "--covariates",
            "kmt2a + log(efs_event)",
        ],
    )
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "error: covariates:" in res.stderr


def test_endpoints_example(tmp_path):
    d0 = dt.date(2019, 3, 1)
    hs = [
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
            events=[
                Response(date=d0 + dt.timedelta(days=33), status="cr"),
                LastContact(date=d0 + dt.timedelta(days=1500)),
            ],
        ),
    ]
    src = tmp_path / "patients.json"
    src.write_text(json.dumps([h.to_dict() for h in hs]), encoding="utf-8")
    out = tmp_path / "adtte.csv"
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = runner.invoke(app, ["endpoints", "patients.json", "-o", "adtte.csv"])
    finally:
        os.chdir(cwd)
    assert res.exit_code == 0, res.output
    adtte = pd.read_csv(out)
    efs = adtte[adtte.PARAMCD == "EFS"].set_index("USUBJID")
    assert efs.loc["P1", "AVAL"] == 300 and efs.loc["P2", "CNSR"] == 1
    res = runner.invoke(app, ["endpoints", str(src), "-o", str(out), "--cutoff", "2019-13-01"])
    assert res.exit_code == 1 and "cutoff" in res.stderr


def _readme_commands() -> list[str]:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("## Survival analyses (`infantall.outcomes`)", 1)[1].split("\n## ", 1)[0]
    return [
        line.strip()
        for line in section.splitlines()
        if line.startswith(("infantall analyze", "infantall endpoints"))
    ]


def test_readme_examples_run(cohort_csv, tmp_path, monkeypatch):
    import shlex
    import shutil

    path, _ = cohort_csv
    work = tmp_path / "readme"
    work.mkdir()
    shutil.copy(path, work / "cohort.csv")
    d0 = dt.date(2020, 1, 1)
    hist = PatientHistory(
        patient=Patient(patient_id="R1", age_days=90, diagnosis_date=d0),
        events=[
            Response(date=d0 + dt.timedelta(days=30), status="cr"),
            LastContact(date=d0 + dt.timedelta(days=900)),
        ],
    )
    (work / "patients.json").write_text(json.dumps([hist.to_dict()]), encoding="utf-8")
    monkeypatch.chdir(work)
    commands = _readme_commands()
    assert len(commands) >= 5
    for cmd in commands:
        res = runner.invoke(app, shlex.split(cmd)[1:])
        assert res.exit_code == 0, (cmd, res.output)
    for name in ("km.png", "forest.png", "simon_makuch.png", "adtte.csv"):
        assert (work / name).stat().st_size > 0


#: the statistician's examples for the README (issue 15), each with the files it writes
NEW_README_EXAMPLES = [
    (
        "infantall analyze km cohort.csv --time efs_days --event efs_event --group kmt2a "
        "--horizon 60 --report-unit months --table km_steps.csv -o km.json --format json",
        ["km_steps.csv", "km.json"],
    ),
    (
        "infantall analyze km cohort.csv --time efs_days --event efs_event --group kmt2a "
        '--horizon 5 --figure efs.pdf --title "EFS by KMT2A" --ylabel "Event-free survival"',
        ["efs.pdf"],
    ),
    (
        "infantall analyze cif cohort.csv --time cir_days --status cir_status --group kmt2a "
        '--cause 1 --cause-label 1=Relapse --cause-label "2=Death in CR" --figure cir.svg',
        ["cir.svg"],
    ),
    (
        "infantall analyze cif cohort.csv --time cir_days --status cir_status --group kmt2a "
        "--stacked --figure cir_stacked.png",
        ["cir_stacked-g.png", "cir_stacked-r.png"],
    ),
    (
        "infantall analyze cox cohort.csv --time efs_days --event efs_event "
        '--covariates "C(kmt2a) + age_days + log(wbc)" --format csv -o cox.csv',
        ["cox.csv"],
    ),
    (
        "infantall analyze finegray cohort.csv --time cir_days --status cir_status --cause 1 "
        '--covariates "C(kmt2a) + age_days" --figure finegray.png',
        ["finegray.png"],
    ),
]


@pytest.mark.parametrize(("cmd", "files"), NEW_README_EXAMPLES)
def test_new_readme_examples_run(cohort_csv, tmp_path, monkeypatch, cmd, files):
    import shlex
    import shutil

    path, _ = cohort_csv
    work = tmp_path / "readme2"
    work.mkdir()
    shutil.copy(path, work / "cohort.csv")
    monkeypatch.chdir(work)
    res = runner.invoke(app, shlex.split(cmd)[1:])
    assert res.exit_code == 0, (cmd, res.output)
    for name in files:
        assert (work / name).stat().st_size > 0, name


def test_hsct_without_transplants_fails_clearly(cohort_csv, tmp_path):
    _, df = cohort_csv
    path = tmp_path / "none.csv"
    df.assign(hsct_days=np.nan).to_csv(path, index=False)
    res = runner.invoke(
        app,
        [
            "analyze",
            "hsct",
            str(path),
            "--time",
            "efs_days",
            "--event",
            "efs_event",
            "--hsct-time",
            "hsct_days",
        ],
    )
    assert res.exit_code == 1 and "nothing to compare" in res.stderr


def test_endpoints_missing_file_and_unwritable_output(tmp_path):
    res = runner.invoke(app, ["endpoints", str(tmp_path / "nope.json"), "-o", "x.csv"])
    assert res.exit_code == 1 and "file not found [file_not_found]" in res.stderr
    src = tmp_path / "patients.json"
    src.write_text("[]", encoding="utf-8")
    out = tmp_path / "missing-folder" / "adtte.csv"
    res = runner.invoke(app, ["endpoints", str(src), "-o", str(out)])
    assert res.exit_code == 1 and "[unwritable_path]" in res.stderr
    assert "Traceback" not in res.output
