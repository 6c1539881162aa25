"""``infantall design prior`` and ``design single-arm``: the issue's CLI contract and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infantall.cli import app

runner = CliRunner()
AS_CSV = "study,events,n\nA,23,107\nB,12,44\nC,19,51\nD,9,39\nE,39,139\nF,6,20\nG,9,78\nH,10,35\n"


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture()
def as_csv(tmp_path: Path) -> Path:
    path = tmp_path / "hist.csv"
    path.write_text(AS_CSV, encoding="utf-8")
    return path


def test_prior_contract(as_csv: Path) -> None:
    out = _json(
        [
            "design",
            "prior",
            "--data",
            str(as_csv),
            "--mu-prior",
            "normal:0:2",
            "--tau-prior",
            "halfnormal:1",
            "--robust-weight",
            "0.8",
        ]
    )
    assert set(out["map"]) >= {"mean", "sd", "quantiles"}
    assert set(out["map"]["quantiles"]) == {"0.025", "0.5", "0.975"}
    assert out["map"]["quantiles"]["0.5"] == pytest.approx(0.2486, abs=0.002)  # R reference
    assert all(set(c) == {"weight", "a", "b"} for c in out["mixture"])
    assert sum(c["weight"] for c in out["mixture"]) == pytest.approx(1.0)
    assert set(out["ess"]) == {"moment", "elir"}
    assert all(set(c) == {"weight", "a", "b"} for c in out["robust"])
    assert out["robust"][-1] == {"weight": pytest.approx(0.2), "a": 1.0, "b": 1.0}
    assert "sources" not in out


def test_prior_from_evidence_has_sources() -> None:
    out = _json(
        [
            "design",
            "prior",
            "--population",
            "kmt2a-r",
            "--endpoint",
            "efs",
            "--horizon",
            "2",
            "--robust-weight",
            "0.8",
        ]
    )
    used = [s for s in out["sources"] if s["used"]]
    assert len(used) >= 2
    assert {"interfant-06", "interfant-99"} <= {s["trial"] for s in used}
    assert all(s["source"] and s["conversion"] for s in used)
    assert 0 < out["map"]["quantiles"]["0.025"] < out["map"]["quantiles"]["0.975"] < 1


def test_single_arm_design_and_final_analysis(as_csv: Path) -> None:
    out = _json(
        [
            "design",
            "single-arm",
            "--data",
            str(as_csv),
            "--robust-weight",
            "0.8",
            "--n",
            "60",
            "--accrual",
            "30/y",
            "--threshold",
            "0.9",
            "--trials",
            "2000",
            "--observed",
            "30/60",
        ]
    )
    design = out["design"]
    assert len(design["scenarios"]) >= 9
    assert all(s["mc_se"] is not None for s in design["scenarios"])
    assert design["study_years"] == pytest.approx(60 / 30 + 2)
    assert out["analysis"]["events"] == 30
    assert 0 <= out["analysis"]["probability"] <= 1


@pytest.mark.parametrize(
    ("csv", "args", "message"),
    [
        ("study,events,n\nA,12,10\nB,3,10\n", [], "events_exceed_n"),
        ("study,events,n\nA,-2,10\nB,3,10\n", [], "negative_count"),
        ("study,events,n\nA,2,10\n", [], "too_few_studies"),
        (AS_CSV, ["--tau-prior", "halfnormal:0"], "bad_prior_scale"),
        (AS_CSV, ["--tau-prior", "halfnormal:-1"], "bad_prior_scale"),
        (AS_CSV, ["--mu-prior", "normal:0"], "bad_prior_spec"),
        ("study,n\nA,10\nB,10\n", [], "missing_columns"),
    ],
)
def test_prior_bad_input(tmp_path: Path, csv: str, args: list[str], message: str) -> None:
    path = tmp_path / "h.csv"
    path.write_text(csv, encoding="utf-8")
    result = runner.invoke(app, ["design", "prior", "--data", str(path), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_unknown_evidence_selector() -> None:
    result = runner.invoke(app, ["design", "prior", "--trial", "no-such-trial"])
    assert result.exit_code != 0
    assert "unknown_trial" in result.output
    result = runner.invoke(app, ["design", "prior", "--population", "martians"])
    assert result.exit_code != 0
    assert "unknown_population" in result.output


TTE_CSV = (
    "study,horizon,efs,n,se\nA,1,0.60,80,\nA,3,0.42,80,\nB,4,0.43,62,\n"
    "C,1.5,0.545,63,\nC,4,0.432,62,\nD,5,0.34,,0.04\n"
)


def test_prior_tte_contract(tmp_path: Path) -> None:
    path = tmp_path / "tte.csv"
    path.write_text(TTE_CSV, encoding="utf-8")
    out = _json(
        [
            "design",
            "prior",
            "--endpoint-type",
            "tte",
            "--intervals",
            "0,0.5,1,2",
            "--data",
            str(path),
            "--robust-weight",
            "0.8",
        ]
    )
    assert out["endpoint_type"] == "tte" and out["cuts"] == [0.0, 0.5, 1.0, 2.0]
    assert [iv["map"]["end"] for iv in out["intervals"]] == [0.5, 1.0, 2.0, None]
    for iv in out["intervals"]:
        assert set(iv["map"]["quantiles"]) == {"0.025", "0.5", "0.975"}
        assert all(set(c) == {"weight", "shape", "rate"} for c in iv["mixture"])
        assert sum(c["weight"] for c in iv["robust"]) == pytest.approx(1.0)
        assert set(iv["ess"]) == {"moment", "elir"}
    # study D: n from its SE, 0.34 * 0.66 / 0.04^2 = 140.25 patients; 1 - 0.34 of them fail by
    # 5 years, spread over the four intervals (constant hazard, rule 1)
    events_d = sum(
        s["events"] for iv in out["intervals"] for s in iv["studies"] if s["study"] == "D"
    )
    assert events_d == pytest.approx(140.25 * 0.66)
    assert set(out["ess"]) == {"moment", "elir"} and "robust_ess" in out


def test_prior_tte_bad_intervals(tmp_path: Path) -> None:
    path = tmp_path / "tte.csv"
    path.write_text(TTE_CSV, encoding="utf-8")
    args = ["design", "prior", "--endpoint-type", "tte", "--data", str(path)]
    result = runner.invoke(app, [*args, "--intervals", "0,1,8"])
    assert result.exit_code != 0 and "too_few_studies" in result.output
    result = runner.invoke(app, [*args, "--endpoint-type", "weibull"])
    assert result.exit_code != 0 and "unknown_endpoint_type" in result.output
