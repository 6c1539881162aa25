"""Cox models and the PH test against R survival::coxph / cox.zph (reference/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _outcomes_ref import RTOL_EXACT, RTOL_FIT, assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

from infantall.errors import InvalidInputError
from infantall.outcomes import concordance_index, cox_ph

# cox.zph's chi-squares depend on the fitted beta, which R has to its own tolerance.
RTOL_ZPH = 1e-6


def _check(fit, r):
    assert_close(fit.coef, r["coef"], RTOL_FIT)
    assert_close(fit.se, r["se"], RTOL_FIT)
    assert_close(fit.loglik, r["loglik"], RTOL_FIT)
    assert_close(fit.score_test, r["score"], RTOL_FIT)
    assert_close(fit.wald_test, r["wald"], RTOL_FIT)
    assert_close(fit.lr_test, r["lrt"], RTOL_FIT)
    assert fit.n == r["n"] and fit.n_events == r["nevent"]


@pytest.mark.parametrize(
    ("key", "ties"), [("cox_lung_efron", "efron"), ("cox_lung_breslow", "breslow")]
)
def test_lung_cox_and_zph(lung, ref, key, ties):
    d = lung.dropna(subset=["ph_ecog"])
    fit = cox_ph(d, "time", "event", ["age", "sex", "ph_ecog"], ties=ties)
    r = ref[key]
    _check(fit, r)
    assert_close(fit.concordance, r["concordance"], RTOL_EXACT)
    zph = fit.ph_test()
    assert list(zph.names) == ["age", "sex", "ph_ecog", "GLOBAL"]
    assert_close(zph.chisq, r["zph_chisq"], RTOL_ZPH)
    assert_close(zph.p_value, r["zph_p"], RTOL_ZPH)
    assert list(zph.df) == r["zph_df"]
    assert_close(fit.ph_test("identity").chisq, r["zph_identity_chisq"], RTOL_ZPH)


def test_stratified_cox(lung, ref):
    d = lung.dropna(subset=["ph_ecog"])
    fit = cox_ph(d, "time", "event", ["age", "ph_ecog"], strata="sex")
    r = ref["cox_lung_strat"]
    _check(fit, r)
    assert_close(fit.concordance, r["concordance"], RTOL_EXACT)
    assert_close(fit.ph_test().chisq, r["zph_chisq"], RTOL_ZPH)


def test_veteran_five_covariates(veteran, ref):
    fit = cox_ph(veteran, "time", "status", ["trt", "karno", "diagtime", "age", "prior"])
    r = ref["cox_vet_efron"]
    _check(fit, r)
    assert_close(fit.concordance, r["concordance"], RTOL_EXACT)
    assert_close(fit.ph_test().chisq, r["zph_chisq"], RTOL_ZPH)


def test_summary_table(lung):
    d = lung.dropna(subset=["ph_ecog"])
    s = cox_ph(d, "time", "event", ["sex"]).summary
    assert list(s.columns) == ["covariate", "coef", "hr", "se", "z", "p", "hr_lower", "hr_upper"]
    assert s.hr_lower[0] < s.hr[0] < s.hr_upper[0]


def _brute_concordance(t, e, x):
    conc = disc = tie = 0.0
    for i in range(len(t)):
        if not e[i]:
            continue
        for j in range(len(t)):
            if t[j] > t[i] or (t[j] == t[i] and not e[j]):
                if x[i] > x[j]:
                    conc += 1
                elif x[i] < x[j]:
                    disc += 1
                else:
                    tie += 1
    return (conc + tie / 2) / (conc + disc + tie)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 8), st.booleans(), st.integers(0, 4)), min_size=2, max_size=40
    )
)
def test_concordance_equals_pairwise_definition(obs):
    t = np.array([o[0] for o in obs], dtype=float)
    e = np.array([o[1] for o in obs], dtype=float)
    x = np.array([o[2] for o in obs], dtype=float)
    expected = _brute_concordance(t, e, x) if e.any() and _has_pairs(t, e) else None
    got = concordance_index(t, e, x)
    if expected is None:
        assert np.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def _has_pairs(t, e):
    return any(
        e[i] and (t[j] > t[i] or (t[j] == t[i] and not e[j]))
        for i in range(len(t))
        for j in range(len(t))
    )


def test_bad_covariates(lung):
    d = lung.dropna(subset=["ph_ecog"]).assign(
        sex_label=lambda f: np.where(f.sex == 1, "m", "f"), age2=lambda f: f.age * 2
    )
    with pytest.raises(InvalidInputError, match="non_numeric_covariate"):
        cox_ph(d, "time", "event", ["sex_label"])
    with pytest.raises(InvalidInputError, match="collinear_covariates"):
        cox_ph(d, "time", "event", ["age", "age2"])
    with pytest.raises(InvalidInputError, match="missing_covariate"):
        cox_ph(lung, "time", "event", ["ph_ecog"])
    with pytest.raises(InvalidInputError, match="unknown_column"):
        cox_ph(d, "time", "event", ["nope"])
    with pytest.raises(InvalidInputError, match="no_events"):
        cox_ph(d.assign(event=0), "time", "event", ["age"])
    with pytest.raises(InvalidInputError, match="bad_option"):
        cox_ph(d, "time", "event", ["age"], ties="exact")  # type: ignore[arg-type]


def test_bool_covariate_is_accepted():
    df = pd.DataFrame(
        {
            "t": [1, 2, 3, 4, 5, 6],
            "e": [1, 1, 0, 1, 1, 0],
            "x": [True, False, True, False, True, False],
        }
    )
    fit = cox_ph(df, "t", "e", ["x"])
    assert np.isfinite(fit.coef[0])
