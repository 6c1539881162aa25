"""Every documented ``infantall meta*`` example (README, command help) run under CliRunner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.synthesis import pool_proportions
from infantall.synthesis.evidence_inputs import select_estimates

runner = CliRunner()
REFERENCE = Path(__file__).parent / "reference"
R = json.loads((REFERENCE / "metafor_reference.json").read_text())
RTOL = 1e-6
"""Agreement with metafor (see test_meta_metafor.py)."""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_meta_efs_table() -> None:
    result = runner.invoke(app, ["meta", "--endpoint", "efs"])
    assert result.exit_code == 0, result.output
    assert "Pooled (reml, logit)" in result.stdout
    assert "Variance from effective counts" in result.stdout


def test_meta_kmt2a_r_json_matches_the_python_api() -> None:
    payload = _json(
        [
            "meta",
            "--endpoint",
            "efs",
            "--population",
            "kmt2a-r",
            "--method",
            "reml",
            "--transform",
            "logit",
        ]
    )
    meta = payload["meta"]
    assert isinstance(meta, dict)
    expected = pool_proportions(select_estimates(endpoint="efs", population="kmt2a-r").inputs())
    assert meta["estimate_pct"] == pytest.approx(expected.estimate_pct, rel=1e-12)
    assert meta["k"] == expected.k
    assert any("Horizon 5 years" in n for n in meta["notes"])
    assert "treatment recommendation" in meta["disclaimer"]
    assert 0.0 <= meta["egger_p"] <= 1.0


def test_meta_by_group_reports_the_test_of_subgroup_differences() -> None:
    payload = _json(
        ["meta", "--endpoint", "efs", "--protocol-type", "infant-specific", "--by", "group"]
    )
    meta = payload["meta"]
    assert isinstance(meta, dict)
    assert meta["df_between"] == len(payload["records"]) - 1  # type: ignore[arg-type]
    assert 0.0 <= meta["p_between"] <= 1.0


def test_meta_from_a_csv_reproduces_metafor(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "meta",
            "--csv",
            str(REFERENCE / "seed004_table2_efs.csv"),
            "--method",
            "pm",
            "--transform",
            "freeman-tukey",
            "--knha",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    last = list(csv.reader(io.StringIO(result.stdout)))[-1]
    ref = R["pooling"]["freeman-tukey/pm/knha"]
    assert last[0] == "Pooled (pm, freeman-tukey)"
    # CSV cells carry 6 significant digits.
    np.testing.assert_allclose(float(last[1]), 100 * ref["pred_bt"], rtol=1e-5)


def test_meta_figures_are_written(tmp_path: Path) -> None:
    forest, funnel = tmp_path / "forest.png", tmp_path / "funnel.png"
    result = runner.invoke(
        app,
        [
            "meta",
            "--endpoint",
            "efs",
            "--population",
            "kmt2a-r",
            "--figure",
            str(forest),
            "--funnel",
            str(funnel),
        ],
    )
    assert result.exit_code == 0, result.output
    for path in (forest, funnel):
        assert path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize("flag", ["--leave-one-out", "--influence"])
def test_meta_diagnostics(flag: str) -> None:
    payload = _json(["meta", "--endpoint", "efs", "--protocol-type", "infant-specific", flag])
    records = payload["records"]
    assert isinstance(records, list) and len(records) == 9


def test_meta_regress_on_accrual_mid_year() -> None:
    payload = _json(["meta-regress", "--endpoint", "efs", "--on", "accrual_mid_year"])
    terms = [r["term"] for r in payload["records"]]  # type: ignore[union-attr, index]
    assert terms == ["intercept", "accrual_mid_year"]


def test_meta_regress_on_hsct_share_drops_trials_without_it_and_says_so() -> None:
    payload = _json(
        ["meta-regress", "--endpoint", "efs", "--population", "kmt2a-r", "--on", "hsct_share"]
    )
    meta = payload["meta"]
    assert isinstance(meta, dict)
    assert meta["k"] >= 3


def test_meta_regress_figures(tmp_path: Path) -> None:
    bubble, timeline = tmp_path / "bubble.png", tmp_path / "efs_time.png"
    result = runner.invoke(
        app,
        [
            "meta-regress",
            "--endpoint",
            "efs",
            "--on",
            "accrual_mid_year",
            "--protocol-type",
            "infant-specific",
            "--figure",
            str(bubble),
            "--timeline",
            str(timeline),
        ],
    )
    assert result.exit_code == 0, result.output
    for path in (bubble, timeline):
        assert path.read_bytes()[:8] == PNG_MAGIC


def test_meta_hsct() -> None:
    payload = _json(["meta-hsct"])
    outcomes = [r["outcome"] for r in payload["records"]]  # type: ignore[union-attr, index]
    assert outcomes == ["Continued first CR", "Death in CR", "Relapse"]
    per_study = _json(["meta-hsct", "--by-study"])
    assert len(per_study["records"]) == 6  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["meta", "--endpoint", "pfs"], "[no_estimates]"),
        (
            [
                "meta",
                "--endpoint",
                "efs",
                "--group",
                "Interfant",
                "--population",
                "kmt2a-r",
                "--horizon",
                "6",
            ],
            "[too_few_studies]",
        ),
        (["meta-regress", "--endpoint", "efs", "--on", "weather"], "unknown moderator"),
        (
            ["meta-regress", "--endpoint", "efs", "--on", "group", "--figure", "x.png"],
            "one numeric moderator",
        ),
    ],
)
def test_errors_go_to_stderr_without_a_traceback(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_bad_csv_values_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("study,percent,n\nA,130,20\nB,40,30\n")
    result = runner.invoke(app, ["meta", "--csv", str(bad)])
    assert result.exit_code != 0
    assert "percent[A]" in result.stderr and "[percent_out_of_range]" in result.stderr
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("study,percent,n,horizon_years\nA,30,20,5\nB,40,30,4\n")
    refused = runner.invoke(app, ["meta", "--csv", str(mixed)])
    assert "[mixed_horizons]" in refused.stderr
    allowed = runner.invoke(app, ["meta", "--csv", str(mixed), "--mix-horizons", "-f", "json"])
    assert allowed.exit_code == 0
    assert "pooled together at the user's request" in allowed.stdout


def test_meta_by_a_column_of_a_user_csv() -> None:
    payload = _json(["meta", "--csv", str(REFERENCE / "seed004_table2_efs.csv"), "--by", "group"])
    meta = payload["meta"]
    assert isinstance(meta, dict)
    ref = R["subgroups"]["group/reml"]
    np.testing.assert_allclose(meta["q_between"], ref["QB"], rtol=RTOL)
    bad = runner.invoke(
        app, ["meta", "--csv", str(REFERENCE / "seed004_table2_efs.csv"), "--by", "colour"]
    )
    assert bad.exit_code != 0 and "[unknown_subgroup]" in bad.stderr
    bad = runner.invoke(app, ["meta", "--endpoint", "efs", "--by", "colour"])
    assert bad.exit_code != 0 and "[unknown_subgroup]" in bad.stderr


def test_meta_by_population_warns_that_subgroups_overlap() -> None:
    payload = _json(
        [
            "meta",
            "--endpoint",
            "efs",
            "--population",
            "all,kmt2a-r",
            "--protocol-type",
            "infant-specific",
            "--by",
            "population",
        ]
    )
    meta = payload["meta"]
    assert isinstance(meta, dict)
    assert [r["population"] for r in payload["records"]] == ["all", "kmt2a_r"]  # type: ignore[union-attr, index]
    assert any("subgroups overlap" in n for n in meta["notes"])


def test_fixed_effect_json_is_strict_json() -> None:
    result = runner.invoke(
        app,
        [
            "meta",
            "--csv",
            str(REFERENCE / "seed004_table2_efs.csv"),
            "--method",
            "fe",
            "-f",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert payload["meta"]["tau2_ci_low"] is None
