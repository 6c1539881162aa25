"""Edge cases of issue 22, each against R's value (reference/edges.json, make_edges.R) or a
coded error."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _outcomes_ref import REFERENCE, RTOL_EXACT, RTOL_FIT, assert_close

from infantall.errors import InvalidInputError
from infantall.outcomes import (
    OutcomesWarning,
    concordance_index,
    cox_ph,
    cumulative_incidence,
    fine_gray,
    kaplan_meier,
    kaplan_meier_by_group,
    logrank_test,
)


@pytest.fixture(scope="module")
def edges() -> dict[str, Any]:
    """Values R printed (make_edges.R)."""
    with (REFERENCE / "edges.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@pytest.fixture(scope="module")
def weighted_lung(lung: pd.DataFrame) -> pd.DataFrame:
    # the weights make_edges.R used: 1 + (row %% 3) / 2, rows numbered from 1
    return lung.assign(w=1 + (np.arange(1, len(lung) + 1) % 3) / 2)


@pytest.fixture(scope="module")
def monotone() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "monotone.csv")


# 1. weighted concordance ---------------------------------------------------------------


def test_weighted_cox_reports_the_weighted_concordance_of_r(weighted_lung, edges):
    fit = cox_ph(weighted_lung, "time", "event", ["age", "sex"], weights="w")
    assert_close(fit.coef, edges["weighted_coef"], RTOL_FIT)
    # R: coxph(..., weights = w)$concordance, pairs weighted w_i * w_j
    assert_close(fit.concordance, edges["weighted_concordance"], RTOL_EXACT)
    assert abs(fit.concordance - edges["unweighted_concordance"]) > 1e-3


def test_unit_weights_give_the_unweighted_concordance(lung, edges):
    fit = cox_ph(lung, "time", "event", ["age", "sex"])
    assert_close(fit.concordance, edges["unweighted_concordance"], RTOL_EXACT)
    lp = lung[["age", "sex"]].to_numpy() @ fit.coef
    t, e = lung.time.to_numpy(float), lung.event.to_numpy(float)
    plain = concordance_index(t, e, lp)
    ones = concordance_index(t, e, lp, weights=np.ones(len(lung)))
    doubled = concordance_index(t, e, lp, weights=np.full(len(lung), 2.0))
    assert plain == ones == doubled  # a common weight cancels in the ratio


def _brute_weighted_c(t: np.ndarray, e: np.ndarray, r: np.ndarray, w: np.ndarray) -> float:
    num = den = 0.0
    for i in range(len(t)):
        if not e[i]:
            continue
        for j in range(len(t)):
            if t[j] > t[i] or (t[j] == t[i] and not e[j]):
                ww = w[i] * w[j]
                den += ww
                num += ww * (1.0 if r[i] > r[j] else 0.5 if r[i] == r[j] else 0.0)
    return num / den


def test_weighted_concordance_equals_the_pairwise_definition():
    rng = np.random.default_rng(3)
    t = rng.integers(1, 15, 120).astype(float)  # many ties in time
    e = (rng.random(120) < 0.6).astype(float)
    r = rng.integers(0, 6, 120).astype(float)  # many ties in the score
    w = rng.uniform(0.2, 3.0, 120)
    got = concordance_index(t, e, r, weights=w)
    assert got == pytest.approx(_brute_weighted_c(t, e, r, w), rel=1e-12)


# 2. survival before the first observed time ----------------------------------------------


def test_at_before_first_time_is_one_with_ci_one_one(lung, edges):
    km = kaplan_meier(lung.time, lung.event, conf_type="log-log")
    tab = km.at(edges["at_times"])
    assert_close(tab.survival, edges["at_surv"], RTOL_EXACT)
    assert_close(tab.lower, edges["at_lower"], RTOL_EXACT)
    assert_close(tab.upper, edges["at_upper"], RTOL_EXACT)
    assert_close(tab.std_err, edges["at_std_err"], RTOL_EXACT, atol=1e-15)


# 3. monotone likelihood in Cox -------------------------------------------------------------


def test_monotone_likelihood_is_not_converged_and_warned(monotone, edges):
    assert edges["monotone_warned"] is True  # R warns on these data
    with pytest.warns(OutcomesWarning, match="monotone_likelihood") as rec:
        fit = cox_ph(monotone, "time", "event", ["z", "x"])
    assert any(getattr(w.message, "code", "") == "monotone_likelihood" for w in rec)
    assert fit.converged is False
    # R's coefficient also runs off (-22 where R stopped); no SE is shown for it
    assert fit.coef[0] < -10 and edges["monotone_coef_z"] < -10
    assert np.isnan(fit.se[0]) and np.isfinite(fit.se[1]) and fit.se[1] > 0
    row = fit.summary.iloc[0]
    assert np.isnan(row.se) and np.isnan(row.p)


def test_an_ordinary_fit_stays_converged_without_warning(lung):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = cox_ph(lung, "time", "event", ["age", "sex"])
    assert fit.converged is True


# 4. Fine-Gray in the same situation ---------------------------------------------------------


def test_fine_gray_monotone_is_a_coded_error(monotone):
    d = monotone.assign(
        status=np.where(monotone.event == 1, 1, np.where(np.arange(20) % 4 == 1, 2, 0))
    )
    with pytest.raises(InvalidInputError, match="not_estimable") as exc:
        fine_gray(d, "time", "status", ["z", "x"])
    assert exc.value.code == "not_estimable"


# 5. Cox case weights validated ---------------------------------------------------------------


@pytest.mark.parametrize(
    "weights, why",
    [(-1.0, "> 0"), (0.0, "> 0"), (np.nan, "missing"), ("heavy", "numbers")],
)
def test_cox_rejects_bad_weights(lung, edges, weights, why):
    assert "must be >0" in edges["negative_weight_error"]  # R refuses them too
    d = lung.assign(w=1.0)
    d["w"] = d["w"].astype(object)
    d.loc[3, "w"] = weights
    with pytest.raises(InvalidInputError, match=why) as exc:
        cox_ph(d, "time", "event", ["age"], weights="w")
    assert exc.value.code == "bad_weight"
    assert exc.value.field == "w"


# 6. labels 1 and "1" ---------------------------------------------------------------------------


def test_labels_one_and_text_one_are_one_group():
    t = [1, 2, 3, 4, 5, 6, 7, 8]
    e = [1, 0, 1, 1, 0, 1, 1, 0]
    mixed = [1, "1", 1, "1", 2, "2", 2, 2]
    same = [1, 1, 1, 1, 2, 2, 2, 2]
    got = logrank_test(t, e, mixed)
    ref = logrank_test(t, e, same)
    assert got.groups == ("1", "2")
    assert got.chisq == ref.chisq
    assert kaplan_meier_by_group(t, e, mixed).labels == ["1", "2"]
    cif = cumulative_incidence(t, e, mixed)
    assert cif.groups == ("1", "2")


# 7. warnings for all-censored and one-patient groups in KM ------------------------------------


def test_km_by_group_warns_about_all_censored_and_single_patient_groups():
    t = [1, 2, 3, 4, 5]
    with pytest.warns(OutcomesWarning, match="all_censored_group"):
        kaplan_meier_by_group(t, [1, 1, 0, 0, 1], ["a", "a", "b", "b", "a"])
    with pytest.warns(OutcomesWarning, match="single_patient_group"):
        kaplan_meier_by_group(t, [1, 1, 0, 1, 1], ["a", "a", "a", "a", "b"])


# cox.zph(transform = "rank") -------------------------------------------------------------------


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_ph_test_rank_transform_matches_r(lung, edges, ties):
    d = lung.dropna(subset=["ph_ecog"])
    fit = cox_ph(d, "time", "event", ["age", "sex", "ph_ecog"], ties=ties)
    assert_close(fit.ph_test("rank").chisq, edges[f"zph_rank_lung_{ties}"], RTOL_FIT)


def test_ph_test_rank_transform_stratified_and_counting_process(lung, edges):
    d = lung.dropna(subset=["ph_ecog"])
    fit = cox_ph(d, "time", "event", ["age", "ph_ecog"], strata="sex")
    assert_close(fit.ph_test("rank").chisq, edges["zph_rank_lung_strata"], RTOL_FIT)
    heart = pd.read_csv(REFERENCE / "heart.csv")
    fit = cox_ph(heart, "stop", "event", ["transplant", "age", "surgery"], entry="start")
    assert_close(fit.ph_test("rank").chisq, edges["zph_rank_heart"], RTOL_FIT)


# robust (sandwich) variance, clusters, robust score test ------------------------------------------


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cluster_robust_variance_matches_r(weighted_lung, edges, ties):
    d = weighted_lung.assign(cl=np.arange(1, len(weighted_lung) + 1) % 20)
    fit = cox_ph(d, "time", "event", ["age", "sex"], ties=ties, cluster="cl")
    assert_close(fit.variance.ravel(), edges[f"robust_{ties}_var"], RTOL_FIT)
    assert fit.naive_variance is not None
    assert_close(fit.naive_variance.ravel(), edges[f"robust_{ties}_naive"], RTOL_FIT)
    assert_close(fit.robust_score_test, edges[f"robust_{ties}_rscore"], RTOL_FIT)
    plain = cox_ph(d, "time", "event", ["age", "sex"], ties=ties)
    assert plain.naive_variance is None and plain.robust_score_test is None
    assert_close(plain.variance, fit.naive_variance, RTOL_EXACT)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_weighted_robust_variance_matches_r(weighted_lung, edges, ties):
    fit = cox_ph(
        weighted_lung, "time", "event", ["age", "sex"], ties=ties, weights="w", robust=True
    )
    assert_close(fit.variance.ravel(), edges[f"robust_w_{ties}_var"], RTOL_FIT)
    assert_close(fit.robust_score_test, edges[f"robust_w_{ties}_rscore"], RTOL_FIT)
    assert np.all(np.isfinite(fit.se)) and fit.se[0] != np.sqrt(fit.naive_variance[0, 0])


def test_unknown_cluster_column_is_a_coded_error(lung):
    with pytest.raises(InvalidInputError, match="unknown_column"):
        cox_ph(lung, "time", "event", ["age"], cluster="inst")


# baseline hazard and predicted survival -----------------------------------------------------------


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_baseline_hazard_and_predicted_survival_match_r(lung, edges, ties):
    fit = cox_ph(lung, "time", "event", ["age", "sex"], ties=ties)
    base = fit.baseline_hazard()
    assert_close(base.time, edges[f"basehaz_{ties}_time"], RTOL_EXACT)
    assert_close(base.cumhaz, edges[f"basehaz_{ties}_cumhaz"], RTOL_FIT)
    new = pd.DataFrame({"age": [50, 70], "sex": [1, 2]})
    pred = fit.predict_survival(new, [100, 300, 500])
    # R: summary(survfit(fit, newdata), times)$surv, a times x subjects matrix
    assert_close(pred.to_numpy().T.ravel(), edges[f"predict_{ties}_surv"], RTOL_FIT)


def test_predicted_survival_is_one_before_the_first_event_and_decreasing(lung):
    fit = cox_ph(lung, "time", "event", ["age", "sex"])
    pred = fit.predict_survival(lung.head(3), [0, 1, 200, 400, 800])
    assert (pred[0.0] == 1.0).all()
    assert (np.diff(pred.to_numpy(), axis=1) <= 0).all()
    with pytest.raises(InvalidInputError, match="bad_horizon"):
        fit.predict_survival(lung.head(3), [-1])
