"""Adjusted HSCT analyses against R, Simon–Makuch at-risk counts, and the CLI JSON contract.

R values: ``reference/hsct_adjusted.R`` (survival 3.5.3) on ``reference/hsct_adjusted_cohort.csv``
(a SYNTHETIC cohort written by ``reference/make_hsct_adjusted_csv.py``); R builds its
counting-process rows with ``tmerge``, independently of :func:`split_at`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _outcomes_ref import REFERENCE
from typer.testing import CliRunner

from infantall.cli import app
from infantall.cohort import generate_cohort
from infantall.cohort.io import write_json
from infantall.outcomes._validate import OutcomesWarning
from infantall.outcomes.hsct import mantel_byar
from infantall.outcomes.hsct_adjusted import (
    ASSUMPTION,
    hsct_frame,
    hsct_rule_mrd,
    landmark_hsct,
    split_at,
)
from infantall.outcomes.hsct_questions import histories_hsct_analysis, hsct_analysis
from infantall.reports.figures.survival import plot_simon_makuch

#: R prints 15 significant digits; both sides converge Newton to 1e-9 or better, so 1e-6
#: relative leaves room only for the last digits of the optimiser.
RTOL = 1e-6

runner = CliRunner()


@pytest.fixture(scope="module")
def rref() -> dict[str, Any]:
    with (REFERENCE / "hsct_adjusted_reference.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@pytest.fixture(scope="module")
def cohort_rows() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "hsct_adjusted_cohort.csv")


def _analysis(rows: pd.DataFrame, mode: str) -> Any:
    return hsct_analysis(
        rows, "time", "status", "hsct_day", strata="risk",
        switches={"mrd": "mrd_day"}, switch_mode=mode, horizon=3 * 365.25,  # type: ignore[arg-type]
    )  # fmt: skip


def _check(fit: Any, r: dict[str, Any]) -> None:
    coef = np.atleast_1d(r["coef"])
    np.testing.assert_allclose(fit.coef, coef, rtol=RTOL)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.variance)), np.atleast_1d(r["se"]), rtol=RTOL)
    np.testing.assert_allclose(fit.loglik, r["loglik"], rtol=RTOL)
    assert fit.n_events == r["nevent"]


def test_split_at_gives_the_rows_of_r_tmerge(cohort_rows, rref):
    cp = split_at(cohort_rows, "time", "status", {"hsct": "hsct_day", "mrd": "mrd_day"})
    assert len(cp) == rref["rows"]
    assert cp.groupby("id").event.sum().sum() == cohort_rows.status.sum()
    assert (cp.groupby("id").stop.max().to_numpy() == cohort_rows.time.to_numpy()).all()


def test_unadjusted_and_adjusted_cox_match_r_coxph(cohort_rows, rref):
    res = _analysis(cohort_rows, "covariate")
    _check(res.time_dependent, rref["unadjusted"])
    # coxph(Surv(start, stop, event) ~ hsct + mrd + strata(risk))
    assert res.adjusted is not None
    _check(res.adjusted, rref["covariate"])
    adj = res.to_dict()["adjusted"]
    assert adj["hazard_ratio"] == pytest.approx(rref["covariate"]["hr"][0], rel=RTOL)
    assert adj["ci_lower"] == pytest.approx(rref["covariate"]["lower"][0], rel=RTOL)
    assert adj["ci_upper"] == pytest.approx(rref["covariate"]["upper"][0], rel=RTOL)
    assert adj["p_value"] == pytest.approx(rref["covariate"]["p"][0], rel=RTOL)


def test_default_adjusted_model_is_r_strata_risk_and_mrd(cohort_rows, rref):
    res = _analysis(cohort_rows, "strata")
    assert res.adjusted is not None
    # coxph(Surv(start, stop, event) ~ hsct + strata(risk, mrd))
    _check(res.adjusted, rref["strata"])
    assert res.adjusted_estimate is not None
    assert res.adjusted_estimate.hazard_ratio == pytest.approx(rref["strata"]["hr"], rel=RTOL)


def test_landmark_hr_and_survival_match_r(cohort_rows, rref):
    res = _analysis(cohort_rows, "strata")
    assert res.landmark_time == rref["landmark_time"]
    plain, strat = res.landmarks
    for lm, r in ((plain, rref["landmark"]), (strat, rref["landmark_strata"])):
        assert lm.hazard_ratio == pytest.approx(r["hr"], rel=RTOL)
        assert lm.ci_lower == pytest.approx(r["lower"], rel=RTOL)
        assert lm.ci_upper == pytest.approx(r["upper"], rel=RTOL)
        assert lm.p_value == pytest.approx(r["p"], rel=RTOL)
        assert lm.events == r["nevent"]
    no, yes = rref["landmark_surv_3y"]  # survfit strata hsct=0, hsct=1
    assert plain.survival["no_hsct"] == pytest.approx(no, rel=RTOL)
    assert plain.survival["hsct"] == pytest.approx(yes, rel=RTOL)


def test_stratified_mantel_byar_sums_the_strata(cohort_rows):
    cp = split_at(cohort_rows, "time", "status", {"hsct": "hsct_day"}, keep=["risk"])
    whole = mantel_byar(cp, strata="risk")
    # a stratum without transplants adds nothing (n1 = 0 at every time)
    parts = [mantel_byar(g) for _, g in cp.groupby("risk") if g.hsct.any()]
    assert len(parts) == 2
    assert whole.observed == sum(p.observed for p in parts)
    assert whole.expected == pytest.approx(sum(p.expected for p in parts), rel=1e-12)
    assert whole.variance == pytest.approx(sum(p.variance for p in parts), rel=1e-12)
    assert whole.chisq == pytest.approx((whole.observed - whole.expected) ** 2 / whole.variance)


def test_landmark_arm_not_followed_to_the_horizon_is_null():
    df = pd.DataFrame(
        {"t": [50.0, 60.0, 200.0, 300.0, 400.0, 500.0], "e": [1, 0, 1, 0, 1, 1],
         "h": [np.nan, 20.0, np.nan, 30.0, np.nan, np.nan]}
    )  # fmt: skip
    with pytest.warns(OutcomesWarning, match="all_censored_group"):  # the HSCT arm: no events
        lm = landmark_hsct(df, "t", "e", "h", 40.0, 1000.0)
    assert lm.survival == {"hsct": None, "no_hsct": None}
    # no event after HSCT: the HR is infinite-likelihood territory, so not a number
    assert lm.hazard_ratio is None and lm.p_value is None and "not estimable" in lm.note
    d = json.loads(json.dumps(lm.to_dict(), allow_nan=False))
    assert d["survival_at_horizon"] == {"hsct": None, "no_hsct": None}


def test_interfant06_hsct_rule_reads_octadad_mrd():
    # "MRD after consolidation": end of consolidation, else start of OCTADAD (one reading)
    assert hsct_rule_mrd("interfant-06") == ("after_consolidation", 1e-4)
    assert hsct_rule_mrd("jilsg-mll96-98") is None


@pytest.fixture(scope="module")
def demo_histories() -> list[Any]:
    return generate_cohort(600, 18, 1).to_histories()


def test_demo_cohort_adjusted_ci_covers_one_and_counts_add_up(demo_histories):
    res = histories_hsct_analysis(demo_histories)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["adjusted"]["ci_lower"] < 1.0 < d["adjusted"]["ci_upper"]
    assert "confounded by indication" in d["unadjusted"]["label"]
    assert d["assumption"] == ASSUMPTION and "no unmeasured confounding" in ASSUMPTION
    assert d["n"] + sum(d["excluded"].values()) == len(demo_histories)
    assert d["excluded"]["no time at risk after diagnosis (event or censoring at day 0)"] > 0


def test_simon_makuch_hsct_row_starts_at_zero_at_risk(demo_histories):
    res = histories_hsct_analysis(demo_histories)
    fig = plot_simon_makuch(res.simon_makuch, counting=res.counting)
    table = fig.axes[1]
    hsct_row = [t for t in table.texts if t.get_position()[1] == 0]
    first = min(hsct_row, key=lambda t: t.get_position()[0])
    assert first.get_position()[0] == 0.0 and first.get_text() == "0"
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("After HSCT"))
    first_tx = res.counting.loc[res.counting.hsct == 1, "start"].min()
    assert line.get_xdata()[0] == pytest.approx(first_tx / 365.25)
    one_year = [t for t in hsct_row if t.get_position()[0] > 0]
    assert int(one_year[0].get_text()) == sum(
        1
        for _, r in res.counting.iterrows()
        if r.hsct == 1 and r.start <= one_year[0].get_position()[0] * 365.25 <= r.stop
    )


def test_cli_json_contract_on_a_cohort_file(tmp_path: Path):
    path = write_json(generate_cohort(600, 18, 1), tmp_path / "cohort.json")
    result = runner.invoke(app, ["analyze", "hsct", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    for key in ("unadjusted", "adjusted", "mantel_byar", "landmarks", "excluded"):
        assert key in d
    for key in ("hazard_ratio", "ci_lower", "ci_upper", "p_value", "adjusted_for"):
        assert key in d["adjusted"]
    assert d["adjusted"]["adjusted_for"][0].startswith("RISKGRP")
    assert d["protocol"] == "interfant-06"
    assert math.isfinite(d["landmarks"][0]["hazard_ratio"])


def test_cli_csv_with_strata_and_adjust(tmp_path: Path, cohort_rows):
    rows = cohort_rows.assign(mrd_pos=cohort_rows.mrd_day.notna().astype(int))
    path = tmp_path / "h.csv"
    rows.to_csv(path, index=False)
    args = ["analyze", "hsct", str(path), "--time", "time", "--event", "status",
            "--hsct-time", "hsct_day", "--strata", "risk", "--adjust", "mrd_pos",
            "--format", "json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    direct = hsct_analysis(rows, "time", "status", "hsct_day", strata="risk", adjust=["mrd_pos"])
    assert d["adjusted"]["hazard_ratio"] == direct.to_dict()["adjusted"]["hazard_ratio"]
    assert d["adjusted"]["adjusted_for"] == ["risk (strata)", "mrd_pos"]


def test_cli_csv_without_time_names_the_option(tmp_path: Path, cohort_rows):
    path = tmp_path / "h.csv"
    cohort_rows.to_csv(path, index=False)
    result = runner.invoke(app, ["analyze", "hsct", str(path)])
    assert result.exit_code == 1
    assert "--time" in result.output


def test_hsct_frame_uses_the_chosen_protocol(demo_histories):
    fr = hsct_frame(demo_histories, "interfant-06")
    assert set(fr.data.RISKGRP) <= {"LR", "MR", "HR", "indeterminate"}
    assert fr.mrd_rule == ("after_consolidation", 1e-4)
    # every positive MRD day is before the end of follow-up
    ok = fr.data.MRDPOSDY.notna()
    assert (fr.data.MRDPOSDY[ok] <= fr.data.time[ok]).all()
