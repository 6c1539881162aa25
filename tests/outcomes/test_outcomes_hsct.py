"""HSCT as a time-dependent exposure and landmark analyses against R (reference/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _outcomes_ref import RTOL_EXACT, RTOL_FIT, assert_close

from infantall.errors import InvalidInputError
from infantall.outcomes import (
    counting_process,
    kaplan_meier_by_group,
    landmark,
    mantel_byar,
    mrd_landmark,
    simon_makuch,
    time_dependent_cox,
)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_time_dependent_cox_heart(heart, ref, ties):
    fit = time_dependent_cox(heart, ["transplant"], ties=ties)
    r = ref[f"cox_td_heart_{ties}"]
    assert_close(fit.coef, r["coef"], RTOL_FIT)
    assert_close(fit.se, r["se"], RTOL_FIT)
    assert_close(fit.loglik, r["loglik"], RTOL_FIT)
    assert_close(fit.score_test, r["score"], RTOL_FIT)


def test_time_dependent_cox_three_covariates(heart, ref):
    fit = time_dependent_cox(heart, ["transplant", "age", "surgery"])
    assert_close(fit.coef, ref["cox_td_heart_multi"]["coef"], RTOL_FIT)
    assert_close(fit.se, ref["cox_td_heart_multi"]["se"], RTOL_FIT)
    # cox.zph on (start, stop] data: the km transform uses the delayed-entry Kaplan-Meier
    assert_close(fit.ph_test().chisq, ref["cox_td_heart_multi"]["zph_chisq"], RTOL_FIT)


def test_mantel_byar_heart(heart, ref):
    r = ref["mantel_byar_heart"]
    res = mantel_byar(heart, "transplant")
    assert_close(
        [res.observed, res.expected, res.variance, res.chisq, res.p_value],
        [r["observed"], r["expected"], r["variance"], r["chisq"], r["p"]],
        RTOL_EXACT,
    )


def test_simon_makuch_heart(heart, ref):
    r = ref["simon_makuch_heart"]
    curves = simon_makuch(heart, "transplant")
    rows = pd.concat([c.summary for c in curves.curves])
    rows = rows[rows.n_event > 0]
    assert_close(rows.time, r["time"], RTOL_EXACT)
    assert_close(rows.n_risk, r["n_risk"], RTOL_EXACT)
    assert_close(rows.survival, r["surv"], RTOL_EXACT)
    assert_close(rows.std_err, r["std_err"], RTOL_EXACT)


def test_landmark_jasa(jasa, ref):
    r = ref["landmark_jasa_30"]
    res = landmark(jasa, "futime", "fustat", 30, exposure_time="wait_time")
    assert res.n_at_risk == r["n"]
    assert len(res.curves["exposed"].time) and res.curves["exposed"].n == r["n_tx"]
    assert res.test is not None
    assert_close(res.test.chisq, r["chisq"], RTOL_EXACT)
    at = res.curves.at([100, 365])
    # R orders strata tx30=0, tx30=1; ours are sorted labels exposed, unexposed
    at = at.set_index(["group", "time"]).loc[
        [("unexposed", 100), ("unexposed", 365), ("exposed", 100), ("exposed", 365)]
    ]
    assert_close(at.survival, r["at_surv"], RTOL_EXACT)
    assert_close(at.std_err, r["at_std_err"], RTOL_EXACT)


def test_counting_process_splits_at_hsct():
    df = pd.DataFrame(
        {
            "t": [100.0, 50.0, 80.0, 30.0],
            "e": [1, 0, 1, 1],
            "h": [40.0, np.nan, 0.0, 45.0],
            "x": [1, 2, 3, 4],
        }
    )
    cp = counting_process(df, "t", "e", "h", covariates=["x"])
    assert cp[["id", "start", "stop", "event", "hsct", "x"]].values.tolist() == [
        [0, 0.0, 40.0, 0, 0, 1],
        [0, 40.0, 100.0, 1, 1, 1],
        [1, 0.0, 50.0, 0, 0, 2],
        [2, 0.0, 80.0, 1, 1, 3],
        [3, 0.0, 30.0, 1, 0, 4],
    ]
    # person-time and events are preserved
    assert (cp.stop - cp.start).sum() == df.t.sum()
    assert cp.event.sum() == df.e.sum()


def test_mrd_landmark_equals_km_on_the_landmark_population():
    rng = np.random.default_rng(7)
    n = 300
    mrd = rng.choice([1e-5, 5e-4, 2e-2, np.nan], size=n)
    t = rng.exponential(900, size=n).round() + 1
    e = rng.integers(0, 2, size=n)
    df = pd.DataFrame({"t": t, "e": e, "mrd": mrd})
    res = mrd_landmark(df, "t", "e", "mrd", 84)
    keep = (~np.isnan(mrd)) & (t > 84)
    cls = np.where(mrd < 1e-4, "<0.0001", np.where(mrd < 1e-3, "0.0001-<0.001", ">=0.001"))
    ref = kaplan_meier_by_group(t[keep] - 84, e[keep], cls[keep])
    for label in ref.labels:
        np.testing.assert_allclose(res.curves[label].survival, ref[label].survival)
    assert res.n_at_risk == keep.sum()
    assert res.n_excluded == n - keep.sum()
    assert res.curves.labels == ["<0.0001", "0.0001-<0.001", ">=0.001"]


def test_bad_hsct_inputs(heart):
    with pytest.raises(InvalidInputError, match="bad_horizon"):
        landmark(heart, "stop", "event", -1, group="transplant")
    with pytest.raises(InvalidInputError, match="empty_data"):
        landmark(heart, "stop", "event", 10_000, group="transplant")
    with pytest.raises(InvalidInputError, match="negative_time"):
        counting_process(pd.DataFrame({"t": [1.0], "e": [1], "h": [-1.0]}), "t", "e", "h")
    with pytest.raises(InvalidInputError, match="entry_after_exit"):
        mantel_byar(heart.assign(start=heart.stop), "transplant")


def test_time_zero_patients_are_left_out_with_a_warning(jasa):
    from infantall.outcomes import OutcomesWarning

    with pytest.warns(OutcomesWarning, match="time 0"):
        cp = counting_process(jasa, "futime", "fustat", "wait_time")
    assert (cp.stop > cp.start).all()
    assert cp.id.nunique() == (jasa.futime > 0).sum()
