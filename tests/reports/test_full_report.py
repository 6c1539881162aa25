"""The full report's cohort description: Table 1 and protocol concordance."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.cohort import generate_cohort
from infantall.outcomes import table_one
from infantall.protocols import protocol_concordance


def test_identical_protocols_agree_perfectly() -> None:
    groups = pd.DataFrame({"a": ["HR", "LR", "MR", "HR"], "b": ["HR", "SR", "IR", "HR"]})
    (res,) = protocol_concordance(groups, ("a", "b"))
    assert res.agreement == 1.0
    assert res.kappa == pytest.approx(1.0)


def test_kappa_matches_the_hand_computed_value() -> None:
    # 2x2 table [[2, 1], [0, 2]]: po = 4/5, pe = 3/5*2/5 + 2/5*3/5 = 0.48,
    # kappa = (0.8 - 0.48) / (1 - 0.48) (Cohen 1960).
    groups = pd.DataFrame(
        {"a": ["HR", "HR", "LR", "LR", "HR"], "b": ["HR", "LR", "LR", "LR", "HR"]}
    )
    (res,) = protocol_concordance(groups, ("a", "b"))
    assert res.n == 5
    assert res.agreement == pytest.approx(0.8)
    assert res.kappa == pytest.approx((0.8 - 0.48) / 0.52, rel=1e-12)
    assert (res.high_a_only, res.high_b_only) == (1, 0)


def test_concordance_result_is_json_safe_and_tabulated() -> None:
    groups = pd.DataFrame({"a": ["HR", "LR", "HR"], "b": ["LR", "LR", "HR"]})
    (res,) = protocol_concordance(groups, ("a", "b"))
    record = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert record["n"] == 3 and record["high_a_only"] == 1
    assert res.summary.iloc[0]["kappa"] == res.kappa


def test_indeterminate_patients_are_left_out_of_a_pair() -> None:
    groups = pd.DataFrame({"a": ["HR", "indeterminate", "LR"], "b": ["HR", "HR", "not_eligible"]})
    (res,) = protocol_concordance(groups, ("a", "b"))
    assert res.n == 1


def test_table_one_counts_match_the_histories() -> None:
    histories = generate_cohort(120, 3, 5).to_histories()
    groups = pd.Series({h.patient.patient_id: "X" for h in histories})
    table = table_one(histories, groups).summary
    assert table.loc["patients", "all"] == "120"
    rearranged = sum(h.patient.kmt2a.value == "rearranged" for h in histories)
    known = sum(h.patient.kmt2a.value != "unknown" for h in histories)
    assert table.loc["KMT2A rearranged", "all"].startswith(f"{rearranged} (")
    assert table.loc["KMT2A rearranged", "all"].endswith(f"({100 * rearranged / known:.0f}%)")


def test_report_from_a_cohort_file(tmp_path: Path) -> None:
    runner = CliRunner()
    cohort = tmp_path / "cohort.json"
    made = runner.invoke(
        app, ["cohort", "generate", "--n", "150", "--sites", "3", "--seed", "2", "-o", str(cohort)]
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert 'id="cohort-table1"' in page and "SYNTHETIC" in page


def test_registry_report_needs_an_account(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--registry", "--out", str(tmp_path / "r.html")])
    assert result.exit_code != 0
    assert "--user" in result.stderr
