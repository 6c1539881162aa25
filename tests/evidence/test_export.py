"""The complete export: `trials list --format json|csv` and `trials export` carry every field
of every record and read back to the same base; disagreements between the seeds are flagged."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.errors import InvalidInputError
from infantall.evidence import Disagreement, Evidence
from infantall.evidence.disagreements import detect_disagreements, unflagged
from infantall.evidence.export import EXPORT_COLUMNS, records_from_rows
from infantall.evidence.schema import Statement

runner = CliRunner()


def _list(fmt: str) -> str:
    result = runner.invoke(app, ["trials", "list", "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_json_round_trips_the_whole_base(evidence: Evidence) -> None:
    payload = json.loads(_list("json"))
    assert records_from_rows(payload["records"]) == evidence.records
    assert payload["meta"]["records"] == len(evidence.records)
    assert payload["meta"]["numbers"] == sum(len(r.results) for r in evidence.records)


def test_list_csv_round_trips_the_whole_base(evidence: Evidence) -> None:
    rows = list(csv.DictReader(io.StringIO(_list("csv"))))
    assert records_from_rows(rows) == evidence.records


def test_list_carries_hsct_components_and_records_without_numbers(evidence: Evidence) -> None:
    rows = json.loads(_list("json"))["records"]
    t3 = [r for r in rows if r["record_id"] == "s004-t3-jilsg-mll96-98"]
    assert {
        (r["hsct_n"], r["hsct_continued_cr1"], r["hsct_death_in_cr"], r["hsct_relapse"]) for r in t3
    } == {(47, 27, 8, 12)}  # seed 004 Table 3 row
    combined = [r for r in rows if r["components"]]
    assert combined and all(isinstance(r["components"], list) for r in combined)
    without = {r.record_id for r in evidence.records if not r.results}
    assert without  # ongoing trials and dash-only rows
    listed = {r["record_id"] for r in rows if r["result_index"] is None}
    assert listed == without


def test_export_json_has_provenance_and_round_trips(tmp_path: Path, evidence: Evidence) -> None:
    out = tmp_path / "base.json"
    result = runner.invoke(app, ["trials", "export", "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text(encoding="utf-8"))
    prov = payload["provenance"]
    assert set(prov["seeds"]) == {"000_2f48a84a65020b3f.txt", "004_1b9a3d5192e595c7.txt"}
    assert "seed004_table3.yaml" in prov["data_files"]
    assert all(len(h) == 64 for h in prov["data_files"].values())
    rebuilt = tuple(type(evidence.records[0]).model_validate(r) for r in payload["records"])
    assert rebuilt == evidence.records
    assert len(payload["totals"]) == len(evidence.totals)
    assert tuple(Statement.model_validate(s) for s in payload["statements"]) == (
        evidence.statements
    )
    assert tuple(Disagreement.model_validate(d) for d in payload["disagreements"]) == (
        evidence.disagreements
    )
    summary = json.loads(result.stdout)  # stdout: what was written, strict JSON
    assert summary["output"] == str(out)
    assert summary["counts"]["statements"] == len(evidence.statements) > 0


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_flat_formats_round_trip(tmp_path: Path, evidence: Evidence, fmt: str) -> None:
    out = tmp_path / f"base.{fmt}"
    result = runner.invoke(app, ["trials", "export", "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = (
        pd.read_csv(out, dtype=str, keep_default_na=False)
        if fmt == "csv"
        else (pd.read_parquet(out))
    )
    assert list(frame.columns) == list(EXPORT_COLUMNS)
    rows = [
        {k: (None if pd.isna(v) else v) if not isinstance(v, str) else v for k, v in r.items()}
        for r in frame.to_dict(orient="records")
    ]
    for row in rows:  # parquet stores integers of columns with gaps as floats
        for key, value in row.items():
            if isinstance(value, float) and value.is_integer() and key != "horizon_years":
                row[key] = int(value)
    assert records_from_rows(rows) == evidence.records
    assert (tmp_path / f"base.{fmt}.provenance.json").exists()


def test_every_detected_disagreement_is_flagged(evidence: Evidence) -> None:
    detected = detect_disagreements(evidence.records)
    assert detected  # the seeds do disagree (MLL03 N 62 vs 63, ...)
    assert unflagged(detected, evidence.disagreements) == []


def test_mll96_98_hsct_47_vs_49_is_flagged(evidence: Evidence) -> None:
    (flag,) = [d for d in evidence.disagreements if d.trial_id == "jilsg-mll96-98"]
    assert flag.quantity == "hsct.n"
    assert flag.values["s000-t1-jilsg-mll96-98"] == 49  # seed 000 Table 1
    assert flag.values["s004-t3-jilsg-mll96-98"] == 47  # seed 004 Table 3
    for rid, value in flag.values.items():
        rec = evidence.get(rid)
        assert rec.hsct is not None and rec.hsct.n == value
    rows = json.loads(_list("json"))["records"]
    assert all(
        "jilsg-mll96-98-hsct-n" in r["disagreements"]
        for r in rows
        if r["record_id"] in flag.records
    )


def test_bad_rows_are_named() -> None:
    with pytest.raises(InvalidInputError, match="record_id"):
        records_from_rows([{"record_id": ""}])
