"""Log-rank family against R survival::survdiff (reference/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _outcomes_ref import RTOL_EXACT, assert_close

from infantall.errors import InvalidInputError
from infantall.outcomes import OutcomesWarning, logrank_test, pairwise_logrank, trend_test


@pytest.mark.parametrize(("key", "rho"), [("logrank_lung_sex", 0), ("petopeto_lung_sex", 1)])
def test_two_sample_lung(lung, ref, key, rho):
    res = logrank_test(lung.time, lung.event, lung.sex, rho=rho)
    assert_close(res.chisq, ref[key]["chisq"], RTOL_EXACT)
    assert_close(res.expected, ref[key]["exp"], RTOL_EXACT)
    assert_close(res.observed, ref[key]["obs"], RTOL_EXACT)
    assert_close(res.p_value, ref[key]["p"], RTOL_EXACT)
    assert res.df == 1


@pytest.mark.parametrize(("key", "rho"), [("logrank_vet_cell", 0), ("petopeto_vet_cell", 1)])
def test_four_sample_veteran(veteran, ref, key, rho):
    res = logrank_test(veteran.time, veteran.status, veteran.celltype, rho=rho)
    assert_close(res.chisq, ref[key]["chisq"], RTOL_EXACT)
    assert res.df == 3
    assert res.test_name == ("log-rank" if rho == 0 else "Peto-Peto")


def test_stratified(veteran, ref):
    res = logrank_test(veteran.time, veteran.status, veteran.trt, strata=veteran.celltype)
    assert_close(res.chisq, ref["strat_logrank_vet"]["chisq"], RTOL_EXACT)
    assert res.stratified


def test_trend(lung, ref):
    d = lung[lung.ph_ecog.notna() & (lung.ph_ecog <= 2)]
    res = trend_test(d.time, d.event, d.ph_ecog)
    assert_close(res.chisq, ref["trend_lung_ecog"]["chisq"], RTOL_EXACT)
    assert_close(res.z, ref["trend_lung_ecog"]["z"], RTOL_EXACT)
    assert_close(res.p_value, ref["trend_lung_ecog"]["p"], 1e-8)


def test_pairwise_holm(veteran, ref):
    res = pairwise_logrank(veteran.time, veteran.status, veteran.celltype, adjust="holm")
    got = {frozenset((r.group_a, r.group_b)): r for r in res.table.itertuples()}
    for r in ref["pairwise_vet_cell"]:
        row = got[frozenset((r["a"], r["b"]))]
        assert_close(row.chisq, r["chisq"], RTOL_EXACT)
        assert_close(row.p, r["p"], RTOL_EXACT)
        assert_close(row.p_adjusted, r["p_holm"], RTOL_EXACT)


def test_bonferroni_is_capped_at_one(veteran):
    res = pairwise_logrank(veteran.time, veteran.status, veteran.celltype, adjust="bonferroni")
    assert np.all(res.table.p_adjusted <= 1)
    assert np.all(res.table.p_adjusted >= res.table.p)


def test_single_group_is_an_error():
    with pytest.raises(InvalidInputError) as info:
        logrank_test([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    assert info.value.code == "too_few_groups"


def test_missing_group_label():
    with pytest.raises(InvalidInputError, match="missing_group"):
        logrank_test([1, 2, 3], [1, 0, 1], ["a", None, "b"])


def test_single_patient_and_all_censored_groups_warn():
    with pytest.warns(OutcomesWarning, match="single patient"):
        logrank_test([1, 2, 3, 4], [1, 0, 1, 1], ["a", "a", "a", "b"])
    with pytest.warns(OutcomesWarning, match="no events"):
        logrank_test([1, 2, 3, 4], [1, 1, 0, 0], ["a", "a", "b", "b"])


def test_no_events_at_all():
    with pytest.raises(InvalidInputError, match="no_events"), pytest.warns(OutcomesWarning):
        logrank_test([1, 2, 3, 4], [0, 0, 0, 0], ["a", "a", "b", "b"])


def test_categorical_order_sets_trend_direction(lung):
    d = lung[lung.ph_ecog.notna() & (lung.ph_ecog <= 2)]
    cat = pd.Categorical(d.ph_ecog.astype(int).astype(str), categories=["2", "1", "0"])
    res = trend_test(d.time, d.event, cat)
    assert res.groups == ("2", "1", "0")
    assert res.z < 0


def test_empty_category_is_left_out_with_a_warning():
    g = pd.Categorical(["a", "a", "b", "b"], categories=["a", "b", "c"])
    with pytest.warns(OutcomesWarning, match="'c' has no observations"):
        res = logrank_test([1, 2, 3, 4], [1, 0, 1, 1], g)
    assert res.groups == ("a", "b")
