"""CLI: every documented example of ``infantall protocols`` and ``infantall stratify``
(README section "Protocols and risk stratification")."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.protocols import PROTOCOLS

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
COHORT = (
    "patient_id,age_days,wbc,kmt2a,cns,day8_blasts,mrd_start_of_octadad\n"
    "A,120,350,rearranged,CNS1,200,\n"
    "B,250,20,rearranged,CNS2,50,0.0002\n"
    "C,400,20,germline,CNS1,,\n"
    "D,30,-5,rearranged,CNS9,,2\n"
    "E,200,,germline,CNS1,,\n"
)


@pytest.fixture
def patient_json(tmp_path: Path) -> Path:
    path = tmp_path / "patient.json"
    path.write_text(json.dumps(PATIENT), encoding="utf-8")
    return path


@pytest.fixture
def cohort_csv(tmp_path: Path) -> Path:
    path = tmp_path / "cohort.csv"
    path.write_text(COHORT, encoding="utf-8")
    return path


def test_protocols_list_json() -> None:
    result = runner.invoke(app, ["protocols", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["id"] for r in rows] == list(PROTOCOLS)
    assert {r["id"]: r["version"] for r in rows}["interfant-06"] == "1.1.0"


def test_protocols_list_table() -> None:
    result = runner.invoke(app, ["protocols", "list"])
    assert result.exit_code == 0
    assert "interfant-06" in result.output


def test_protocols_show_csv() -> None:
    result = runner.invoke(app, ["protocols", "show", "interfant-06", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.output.splitlines()))
    assert [r["rule"] for r in rows] == [r.id for r in PROTOCOLS["interfant-06"].rules]
    assert "MLL-rearranged and age o6 months" in rows[1]["sources"]


def test_protocols_show_json_has_parameters() -> None:
    result = runner.invoke(app, ["protocols", "show", "jplsg-mll-10", "--format", "json"])
    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert payload["meta"]["parameters"] == {"cns_disease": ["CNS3"]}


def test_protocols_show_unknown() -> None:
    result = runner.invoke(app, ["protocols", "show", "interfant-77"])
    assert result.exit_code == 1
    assert "unknown protocol" in result.output
    assert "Traceback" not in result.output


def test_stratify_patient_one_protocol_explain(patient_json: Path) -> None:
    result = runner.invoke(
        app,
        [
            "stratify",
            str(patient_json),
            "--protocol",
            "interfant-06",
            "--explain",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.output)["records"]
    assert record["group"] == "HR"  # KMT2A-r, 112 days, WBC 350, PPR
    assert record["flags"] == "hsct_eligible"
    assert "age_days=112" in record["explanation"]
    assert "MLL-rearranged and age o6 months" in record["sources"]
    assert json.loads(record["conventions"])["six_months_days"] == 182.625


def test_stratify_patient_all_protocols(patient_json: Path) -> None:
    result = runner.invoke(app, ["stratify", str(patient_json), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = {r["protocol"]: r for r in csv.DictReader(result.output.splitlines())}
    assert list(rows) == list(PROTOCOLS)
    assert rows["cog-aall0631"]["group"] == "IR"
    assert rows["jplsg-mll-10"]["group"] == "HR"
    assert rows["interfant-99"]["group"] == "HR"


def test_stratify_invalid_patient(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"patient_id": "X", "age_days": 500, "wbc": -1}), encoding="utf-8")
    result = runner.invoke(app, ["stratify", str(path)])
    assert result.exit_code == 1
    assert "not_an_infant" in result.output and "negative_wbc" in result.output


def test_stratify_unknown_protocol(patient_json: Path) -> None:
    result = runner.invoke(app, ["stratify", str(patient_json), "-p", "nope"])
    assert result.exit_code == 1
    assert "unknown protocol" in result.output


def test_stratify_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stratify", str(tmp_path / "none.json")])
    assert result.exit_code == 1
    assert "no such file" in result.output


def test_stratify_cohort_csv(cohort_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "groups.csv"
    errors = tmp_path / "errors.csv"
    result = runner.invoke(
        app,
        [
            "stratify",
            str(cohort_csv),
            "-o",
            str(out),
            "--errors",
            str(errors),
            "-p",
            "interfant-06",
        ],
    )
    assert result.exit_code == 1  # two invalid rows
    groups = {r["patient_id"]: r for r in csv.DictReader(out.read_text("utf-8").splitlines())}
    assert {k: v["group"] for k, v in groups.items()} == {"A": "HR", "B": "MR", "E": "LR"}
    assert groups["B"]["flags"] == "hsct_eligible"  # MR with MRD 2e-4 at OCTADAD
    report = list(csv.DictReader(errors.read_text("utf-8").splitlines()))
    assert [(r["row"], r["patient_id"], r["field"], r["code"]) for r in report] == [
        ("3", "C", "age_days", "not_an_infant"),
        ("4", "D", "wbc", "negative_wbc"),
        ("4", "D", "cns", "invalid_choice"),
        ("4", "D", "mrd_start_of_octadad", "mrd_out_of_range"),
    ]
    assert "row 4 (patient_id D): wbc" in result.output


def test_stratify_cohort_to_stdout_all_valid(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("patient_id,age_days,kmt2a\nA,89,rearranged\nB,90,rearranged\n", "utf-8")
    result = runner.invoke(app, ["stratify", str(path), "-p", "cog-aall0631", "-f", "json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)["records"]
    assert [(r["patient_id"], r["group"]) for r in records] == [("A", "HR"), ("B", "IR")]


def test_stratify_cohort_unknown_column(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("patient_id,colour\nA,blue\n", "utf-8")
    result = runner.invoke(app, ["stratify", str(path)])
    assert result.exit_code == 1
    assert "unknown column(s) colour" in result.output
