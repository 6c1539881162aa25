"""Every ``infantall design`` example of the README, run under Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.design import exact_binomial_design

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "design"
REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "rpact_reference.json").read_text(encoding="utf-8")
)
#: Patients and durations come from root finding (rpact stops at about 1e-7 relative).
PATIENTS_RTOL = 1e-5


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _rpact(case_id: str) -> dict[str, Any]:
    return next(c for c in REFERENCE["survival"] if c["id"] == case_id)


def test_sample_size_with_accrual_rate() -> None:
    out = _json(
        [
            "design",
            "sample-size",
            "--hr",
            "0.6",
            "--median-control",
            "2y",
            "--accrual",
            "30/y",
            "--follow-up",
            "2y",
            "--dropout",
            "0.05/y",
        ]
    )
    rec = out["records"][0]
    ref = _rpact("rate30_dropout")
    assert rec["events"] == pytest.approx(ref["max_events"], rel=1e-9)
    assert rec["patients"] == pytest.approx(ref["max_subjects"], rel=PATIENTS_RTOL)
    assert rec["accrual_years"] == pytest.approx(ref["accrual_end"], rel=PATIENTS_RTOL)


def test_sample_size_with_fixed_accrual_period_and_months() -> None:
    out = _json(
        [
            "design",
            "sample-size",
            "--hr",
            "0.6",
            "--median-control",
            "24m",
            "--accrual-duration",
            "3y",
            "--follow-up",
            "2y",
            "--method",
            "freedman",
        ]
    )
    ref = _rpact("freedman_uniform")
    assert out["records"][0]["patients"] == pytest.approx(ref["max_subjects"], rel=PATIENTS_RTOL)


def test_sample_size_group_sequential() -> None:
    out = _json(
        [
            "design",
            "sample-size",
            "--hr",
            "0.6",
            "--median-control",
            "2y",
            "--accrual-duration",
            "3y",
            "--follow-up",
            "2y",
            "--looks",
            "3",
        ]
    )
    ref = _rpact("group_sequential_of3")
    assert out["records"][0]["events"] == pytest.approx(ref["max_events"], rel=1e-6)


def test_sample_size_errors_go_to_stderr() -> None:
    result = runner.invoke(app, ["design", "sample-size", "--hr", "0.6", "--accrual", "30/y"])
    assert result.exit_code != 0
    assert "--median-control" in result.stderr
    result = runner.invoke(
        app,
        [
            "design",
            "sample-size",
            "--hr",
            "0.6",
            "--median-control",
            "two years",
            "--accrual",
            "30/y",
        ],
    )
    assert result.exit_code != 0
    assert "not a duration" in result.stderr
    assert "Traceback" not in result.output


def test_boundaries_match_rpact() -> None:
    out = _json(["design", "boundaries", "--looks", "3", "--spending", "obrien-fleming"])
    ref = REFERENCE["gsd"][0]
    got = [r["critical_value"] for r in out["records"]]
    assert got == pytest.approx(ref["critical_values"], abs=1e-6)


def test_historical_interfant06_from_the_evidence_base() -> None:
    out = _json(
        [
            "design",
            "historical",
            "--trial",
            "interfant-06",
            "--population",
            "kmt2a-r",
            "--endpoint",
            "efs",
            "--horizon",
            "2",
            "--target",
            "0.65",
        ]
    )
    meta = out["meta"]
    # seed 000 Table 1: Interfant-06, KMT2A-r, 6-year EFS 36.4%, 476 infants 2006–2016
    assert meta["p0"] == pytest.approx(0.364)
    assert meta["conversion"] == "bound"
    assert meta["accrual_per_year"] == pytest.approx(476 / 11)
    assert "Table 1" in meta["source"]
    exact = exact_binomial_design(0.364, 0.65, alpha=0.05, power=0.8)
    binom, logrank = out["records"]
    assert (binom["patients"], binom["reject_if_at_least"]) == (exact.n, exact.r)
    assert logrank["patients"] > 0
    assert logrank["accrual_years"] == pytest.approx(logrank["patients"] / (476 / 11))


def test_historical_with_a_given_rate_and_unknown_trial() -> None:
    out = _json(["design", "historical", "--p0", "0.494", "--target", "0.65", "--accrual", "20/y"])
    exact = REFERENCE["binomial"][1]  # R enumeration for p0 0.494, p1 0.65
    assert out["records"][0]["patients"] == exact["n"]
    result = runner.invoke(
        app, ["design", "historical", "--trial", "no-such-trial", "--target", "0.65"]
    )
    assert result.exit_code != 0
    assert "unknown trial" in result.stderr


def test_accrual_per_consortium() -> None:
    out = _json(["design", "accrual", "--group", "Interfant"])
    rows = {r["trial_id"]: r for r in out["records"]}
    assert rows["interfant-06"]["per_year"] == pytest.approx(476 / 11)


def test_simulate_example_is_reproducible() -> None:
    args = [
        "design",
        "simulate",
        str(EXAMPLES / "pick-a-winner-binary.yaml"),
        "--trials",
        "2000",
        "--seed",
        "3",
    ]
    first, second = _json(args), _json(args)
    assert first == second
    meta = first["meta"]
    assert meta["n_trials"] == 2000
    assert 0 <= meta["prob_superiority"] <= 1
    assert [r["arm"] for r in first["records"]] == ["control", "A", "B", "C"]


def test_simulate_table_and_csv() -> None:
    path = str(EXAMPLES / "time-to-event.yaml")
    table = runner.invoke(app, ["design", "simulate", path, "--trials", "1000"])
    assert table.exit_code == 0, table.output
    assert "Operating characteristics" in table.stdout
    csv = runner.invoke(app, ["design", "simulate", path, "--trials", "1000", "--format", "csv"])
    assert csv.stdout.splitlines()[0].startswith("arm,true_value,prob_select")


def test_simulate_calibrates_under_the_null() -> None:
    out = _json(
        [
            "design",
            "simulate",
            str(EXAMPLES / "pick-a-winner-binary.yaml"),
            "--trials",
            "2000",
            "--calibrate",
            "0.05",
            "--null",
        ]
    )
    meta = out["meta"]
    assert meta["calibration_type1_error"] <= 0.05
    assert meta["superiority_threshold"] == meta["calibrated_threshold"]


_BINARY_2000 = [
    "design",
    "simulate",
    str(EXAMPLES / "pick-a-winner-binary.yaml"),
    "--trials",
    "2000",
]


def test_simulate_on_a_dask_scheduler_gives_the_local_bits() -> None:
    from distributed import LocalCluster

    local = _json(_BINARY_2000)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
    ) as cluster:
        remote = _json([*_BINARY_2000, "--scheduler", cluster.scheduler_address])
    assert remote == local


def test_simulate_on_local_worker_processes_gives_the_local_bits() -> None:
    assert _json([*_BINARY_2000, "--workers", "2"]) == _json(_BINARY_2000)


def test_simulate_unreachable_scheduler_is_a_clear_error() -> None:
    result = runner.invoke(app, [*_BINARY_2000, "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code != 0
    assert "cannot reach a Dask scheduler" in result.stderr


def test_simulate_rejects_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "arms:\n  - {name: control, control: true, p: 0.4}\n  - {name: A, p: 1.4}\n"
        "analyses: {patients: [50, 100]}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["design", "simulate", str(bad), "--trials", "10"])
    assert result.exit_code != 0
    assert "arms[1].p" in result.stderr
    missing = runner.invoke(app, ["design", "simulate", str(tmp_path / "none.yaml")])
    assert missing.exit_code != 0
    assert "cannot read" in missing.stderr
