"""infantall.synthesis against R metafor 3.8-1 on seed 004 Tables 2 and 3.

Reference values: ``reference/metafor_reference.json``, printed by
``reference/metafor_reference.R`` (R 4.2.2, metafor 3.8-1, iteration tolerances 1e-13) on
the hand-typed ``reference/seed004_table2_efs.csv`` and ``seed004_table3_hsct.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from infantall.synthesis import (
    effect_sizes,
    egger_test,
    influence,
    leave_one_out,
    meta_regression,
    pool_proportions,
    proportion_inputs,
    subgroup_analysis,
)
from infantall.synthesis.model import fit_model
from infantall.synthesis.transforms import back_transform

REFERENCE = Path(__file__).parent / "reference"
RTOL = 1e-6
"""Agreement required with metafor (issue 5): the R values are exact roots (tolerance 1e-13)."""
ATOL = 1e-9
"""Absolute floor for values that are 0 or nearly so (e.g. a lower τ² limit at 0)."""

R: dict[str, Any] = json.loads((REFERENCE / "metafor_reference.json").read_text())
EFS = pd.read_csv(REFERENCE / "seed004_table2_efs.csv")
EFS["mid"] = (EFS["accrual_start"] + EFS["accrual_end"]) / 2
EFS["era"] = np.where(EFS["mid"] < 1995, "1984-1994", "1995-2006")
HSCT = pd.read_csv(REFERENCE / "seed004_table3_hsct.csv")


def close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=RTOL, atol=ATOL
    )


def efs_inputs() -> Any:
    return proportion_inputs(
        EFS["study"], EFS["percent"], EFS["n"], horizon_years=EFS["horizon_years"]
    )


TRANSFORMS = ["logit", "arcsine", "freeman-tukey", "raw"]
METHODS = ["fe", "dl", "reml", "pm", "ml"]


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_effect_sizes_match_escalc(transform: str) -> None:
    es = effect_sizes(efs_inputs(), transform)
    close(es.yi, R["escalc"][transform]["yi"])
    close(es.vi, R["escalc"][transform]["vi"])


@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_pooling_matches_rma(transform: str, method: str, test: str) -> None:
    ref = R["pooling"][f"{transform}/{method}/{test}"]
    res = pool_proportions(efs_inputs(), transform=transform, method=method, knha=test == "knha")
    fit = res.fit
    close(fit.beta[0], ref["beta"])
    close(fit.se[0], ref["se"])
    close(fit.pvalues[0], ref["pval"])
    close([fit.ci_low[0], fit.ci_high[0]], [ref["ci_lb"], ref["ci_ub"]])
    close(fit.tau2, ref["tau2"])
    close([fit.qe, fit.qe_p], [ref["QE"], ref["QEp"]])
    close([fit.qm, fit.qm_p], [ref["QM"], ref["QMp"]])
    close([fit.i2, fit.h2], [ref["I2"], ref["H2"]])
    close(
        [res.estimate_pct, res.ci_low_pct, res.ci_high_pct, res.pi_low_pct, res.pi_high_pct],
        np.array(
            [ref["pred_bt"], ref["ci_lb_bt"], ref["ci_ub_bt"], ref["pi_lb_bt"], ref["pi_ub_bt"]]
        )
        * 100.0,
    )
    if method != "fe":
        close(res.tau2_ci, ref["tau2_ci"])
        close(res.i2_ci, ref["I2_ci"])
        close(res.h2_ci, ref["H2_ci"])


def test_study_level_miller_back_transformation_matches_transf_ipft() -> None:
    es = effect_sizes(efs_inputs(), "freeman-tukey")
    close(back_transform(es.yi, "freeman-tukey", es.effective_n), R["ipft_study"])


@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("method", METHODS)
def test_meta_regression_on_mid_year_matches_rma_mods(method: str, test: str) -> None:
    ref = R["metareg"][f"mid/{method}/{test}"]
    reg = meta_regression(
        efs_inputs(), EFS[["mid"]], transform="logit", method=method, knha=test == "knha"
    )
    fit = reg.fit
    close(fit.beta, ref["beta"])
    close(fit.se, ref["se"])
    close(fit.pvalues, ref["pval"])
    close(fit.ci_low, ref["ci_lb"])
    close(fit.ci_high, ref["ci_ub"])
    close(fit.tau2, ref["tau2"])
    close([fit.qe, fit.qe_p, fit.qm, fit.qm_p], [ref["QE"], ref["QEp"], ref["QM"], ref["QMp"]])
    close([fit.i2, fit.h2], [ref["I2"], ref["H2"]])
    close(reg.r2_pct, ref["R2"])
    if method != "fe":
        close(reg.tau2_ci, ref["tau2_ci"])
        close(reg.i2_ci, ref["I2_ci"])
    pred = reg.predict_percent(np.array([[1.0, 1985.0], [1.0, 2000.0]]))
    close(pred["pred_pct"], np.array(ref["pred_bt"]) * 100)
    close(pred["ci_low_pct"], np.array(ref["ci_lb_bt"]) * 100)
    close(pred["ci_high_pct"], np.array(ref["ci_ub_bt"]) * 100)
    close(pred["pi_low_pct"], np.array(ref["pi_lb_bt"]) * 100)
    close(pred["pi_high_pct"], np.array(ref["pi_ub_bt"]) * 100)


@pytest.mark.parametrize("method", METHODS)
def test_meta_regression_on_a_factor_matches_rma(method: str) -> None:
    ref = R["metareg"][f"era/{method}/z"]
    reg = meta_regression(efs_inputs(), EFS[["era"]], transform="logit", method=method)
    assert reg.terms == ("intercept", "era[1995-2006]")
    close(reg.fit.beta, ref["beta"])
    close(reg.fit.se, ref["se"])
    close(
        [reg.fit.tau2, reg.fit.qm, reg.fit.qm_p, reg.fit.qe],
        [ref["tau2"], ref["QM"], ref["QMp"], ref["QE"]],
    )
    close(reg.r2_pct, ref["R2"])


@pytest.mark.parametrize(("by", "method"), [("era", "reml"), ("era", "dl"), ("group", "reml")])
def test_subgroup_difference_test_matches_fe_model_over_subgroups(by: str, method: str) -> None:
    ref = R["subgroups"][f"{by}/{method}"]
    sub = subgroup_analysis(efs_inputs(), EFS[by], by=by, transform="logit", method=method)
    assert list(sub.table[by]) == ref["levels"]
    close(sub.table["theta"], ref["theta"])
    close(sub.table["theta_se"], ref["theta_se"])
    close(sub.table["estimate_pct"], np.array(ref["pooled_bt"]) * 100)
    close([sub.q_between, sub.p_between], [ref["QB"], ref["QBp"]])


def test_leave_one_out_matches_leave1out() -> None:
    ref = R["leave1out"]
    res = pool_proportions(efs_inputs(), transform="logit", method="reml")
    l1o = leave_one_out(res)
    close(l1o["theta"], ref["estimate"])
    close(l1o["theta_se"], ref["se"])
    close(l1o["q"], ref["Q"])
    close(l1o["q_p"], ref["Qp"])
    close(l1o["tau2"], ref["tau2"])
    close(l1o["i2_pct"], ref["I2"])
    close(l1o["h2"], ref["H2"])
    close(l1o["ci_low_pct"], 100 / (1 + np.exp(-np.asarray(ref["ci_lb"]))))
    close(l1o["ci_high_pct"], 100 / (1 + np.exp(-np.asarray(ref["ci_ub"]))))


def test_leave_one_out_with_knapp_hartung_matches_leave1out() -> None:
    ref = R["leave1out_knha"]
    res = pool_proportions(efs_inputs(), transform="logit", method="reml", knha=True)
    l1o = leave_one_out(res)
    close(l1o["theta"], ref["estimate"])
    close(l1o["theta_se"], ref["se"])
    close(l1o["ci_low_pct"], 100 / (1 + np.exp(-np.asarray(ref["ci_lb"]))))


@pytest.mark.parametrize(
    ("key", "mods", "knha"),
    [("influence", None, False), ("influence_mid", "mid", False), ("influence_knha", None, True)],
)
def test_influence_matches_metafor(key: str, mods: str | None, knha: bool) -> None:
    ref = R[key]
    es = effect_sizes(efs_inputs(), "logit")
    x = None if mods is None else np.column_stack([np.ones(len(EFS)), EFS[mods]])
    fit = fit_model(es.yi, es.vi, x, method="reml", knha=knha)
    diag = influence(fit, es.study).table
    for ours, theirs in [
        ("rstudent", "rstudent"),
        ("dffits", "dffits"),
        ("cook_d", "cook_d"),
        ("cov_r", "cov_r"),
        ("tau2_del", "tau2_del"),
        ("qe_del", "QE_del"),
        ("hat", "hat"),
        ("weight_pct", "weight"),
    ]:
        close(diag[ours], ref[theirs])
    dfbetas = influence(fit, es.study).dfbetas
    terms = [t for t in ref["dfbs"] if t not in ("slab", "digits")]
    assert len(terms) == fit.x.shape[1]
    for j, term in enumerate(terms):
        close(dfbetas[f"dfbetas_{j}"], ref["dfbs"][term])


@pytest.mark.parametrize("outcome", ["continued_cr1", "death_in_cr", "relapse"])
def test_hsct_counts_pooled_as_metafor_with_continuity_correction(outcome: str) -> None:
    ref = R["hsct"][outcome]
    inp = proportion_inputs(HSCT["study"], 100 * HSCT[outcome] / HSCT["n_hsct"], HSCT["n_hsct"])
    es = effect_sizes(inp, "logit")
    close(es.yi, ref["yi"])
    close(es.vi, ref["vi"])
    res = pool_proportions(inp, transform="logit", method="reml")
    close(res.fit.tau2, ref["tau2"])
    close(
        [res.estimate_pct, res.ci_low_pct, res.ci_high_pct, res.pi_low_pct, res.pi_high_pct],
        np.array(
            [ref["pred_bt"], ref["ci_lb_bt"], ref["ci_ub_bt"], ref["pi_lb_bt"], ref["pi_ub_bt"]]
        )
        * 100,
    )
    close([res.fit.i2, res.fit.qe, res.fit.qe_p], [ref["I2"], ref["QE"], ref["QEp"]])


@pytest.mark.parametrize("method", ["fe", "reml", "dl"])
def test_egger_test_matches_regtest(method: str) -> None:
    ref = R["regtest"][method]
    res = pool_proportions(efs_inputs(), transform="logit", method=method)
    egger = egger_test(res)
    close(
        [egger.statistic, egger.p, egger.limit_estimate, egger.slope],
        [ref["zval"], ref["pval"], ref["est"], ref["slope"]],
    )
