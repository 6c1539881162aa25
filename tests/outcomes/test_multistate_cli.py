"""``infantall analyze multistate`` (the CLI contract) and the report section."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.domain import HSCT, Death, LastContact, Patient, PatientHistory, Relapse, Response
from infantall.outcomes.multistate import aalen_johansen, multistate_data
from infantall.reports.multistate_section import disease_course_section

REF = Path(__file__).parent / "reference" / "multistate"
runner = CliRunner()


def test_csv_json_contract_matches_the_library_and_r() -> None:
    src = REF / "myeloid_ms.csv"
    res = runner.invoke(
        app,
        [
            "analyze",
            "multistate",
            str(src),
            "--id",
            "id",
            "--start",
            "tstart",
            "--stop",
            "tstop",
            "--state",
            "state",
            "--times",
            "100,500,1000",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["states"] == ["(s0)", "CR", "SCT", "death", "relapse"]
    occ = pd.DataFrame(out["occupation"])
    assert set(occ["time"]) == {100.0, 500.0, 1000.0}
    want = aalen_johansen(multistate_data(pd.read_csv(src))).at([100, 500, 1000])
    np.testing.assert_allclose(occ["probability"], want["probability"], rtol=1e-12)
    np.testing.assert_allclose(occ["std_err"], want["std_err"], rtol=1e-12)
    ref = json.loads((REF / "multistate_reference.json").read_text())["myeloid"]["aj"]
    i = int(np.searchsorted(ref["time"], 1000.0, "right")) - 1  # R survfit at t = 1000
    r = dict(zip(ref["states"], ref["pstate"][i], strict=True))
    got = occ[occ["time"] == 1000.0].set_index("state")["probability"]
    for state, p in r.items():
        assert got[state] == pytest.approx(p, abs=1e-10)
    counts = {(t["from"], t["to"]): t["n"] for t in out["transitions"]}
    assert counts[("(s0)", "CR")] == 443  # R survcheck's transition table


def test_histories_json_builds_the_infant_states(tmp_path: Path) -> None:
    d0 = dt.date(2016, 1, 1)
    hs = [
        PatientHistory(
            patient=Patient(patient_id=f"P{i}", age_days=60, diagnosis_date=d0),
            events=[
                Response(date=d0 + dt.timedelta(days=30), status="cr"),
                *([HSCT(date=d0 + dt.timedelta(days=150))] if i % 2 else []),
                *([Relapse(date=d0 + dt.timedelta(days=400))] if i % 3 == 0 else []),
                Death(date=d0 + dt.timedelta(days=700))
                if i % 5 == 0
                else LastContact(date=d0 + dt.timedelta(days=1500)),
            ],
        )
        for i in range(12)
    ]
    src = tmp_path / "cohort.json"
    src.write_text(json.dumps([h.to_dict() for h in hs]), encoding="utf-8")
    fig = tmp_path / "course.svg"
    res = runner.invoke(
        app, ["analyze", "multistate", str(src), "--format", "json", "--figure", str(fig)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["states"][0] == "diagnosis" and out["time_unit"] == "years"
    assert out["n_patients"] == 12
    two = {r["state"]: r["probability"] for r in out["occupation"] if r["time"] == 2.0}
    # at day 730: i = 3, 6, 9 relapsed (day 400); i = 0 relapsed then died (day 700);
    # i = 5 (transplanted) and 10 died in CR1
    assert two["relapse"] == pytest.approx(3 / 12)
    assert two["death"] == pytest.approx(1 / 12)
    assert two["death in CR1"] == pytest.approx(2 / 12)
    one = {r["state"]: r["probability"] for r in out["occupation"] if r["time"] == 1.0}
    assert sum(one.values()) == pytest.approx(1.0)
    assert fig.read_text().startswith("<?xml")


def test_bad_csv_is_a_clear_error_naming_id_and_row(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("id,tstart,tstop,state\n1,0,5,CR\n1,4,9,death\n", encoding="utf-8")
    res = runner.invoke(app, ["analyze", "multistate", str(src), "--format", "json"])
    assert res.exit_code != 0
    assert "id 1, row 2" in res.output and "overlapping_intervals" in res.output


def test_table_format_prints_occupation_and_transitions() -> None:
    res = runner.invoke(
        app,
        ["analyze", "multistate", str(REF / "mgus2_ms.csv"), "--times", "60,120", "--tau", "240"],
    )
    assert res.exit_code == 0, res.output
    assert "State occupation" in res.output and "Transitions" in res.output


def test_report_section_shows_the_course_and_the_hsct_contrast() -> None:
    from infantall.cohort import generate_cohort

    sec = disease_course_section(generate_cohort(300, seed=5).to_histories())
    assert sec.title == "The disease course"
    assert "<svg" in sec.html
    assert "Transplant in first remission" in sec.html and "HSCT in CR1" in sec.html
    assert "NaN" not in sec.html and ">nan<" not in sec.html
