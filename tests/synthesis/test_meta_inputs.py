"""Bad input, stated choices, invariants and a statsmodels cross-check of infantall.synthesis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.meta_analysis import combine_effects

from infantall.errors import InvalidInputError
from infantall.synthesis import (
    effect_sizes,
    fit_model,
    pool_proportions,
    proportion_inputs,
    read_proportions_csv,
    subgroup_analysis,
)
from infantall.synthesis.transforms import CONTINUITY_CORRECTION, back_transform

REFERENCE = Path(__file__).parent / "reference"
EXACT = 1e-12
"""Identities that hold algebraically: agreement to rounding error."""
STATSMODELS_RTOL = 1e-8
"""statsmodels combine_effects vs metafor agree to ~1e-8 (issue 5); PM iterates in statsmodels."""

STUDY = ["A", "B", "C", "D"]
PCT = [32.6, 37.6, 43.2, 25.0]
N = [98, 135, 115, 84]


def _code(exc: pytest.ExceptionInfo[InvalidInputError]) -> str:
    return exc.value.code


@pytest.mark.parametrize(
    ("percent", "n", "code"),
    [
        ([101.0, 30, 40, 50], N, "percent_out_of_range"),
        ([-0.1, 30, 40, 50], N, "percent_out_of_range"),
        ([float("nan"), 30, 40, 50], N, "percent_out_of_range"),
        (PCT, [0, 10, 10, 10], "n_not_positive"),
        (PCT, [-5, 10, 10, 10], "n_not_positive"),
    ],
)
def test_bad_percent_or_n_is_a_clear_error(percent: list[float], n: list[int], code: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        proportion_inputs(STUDY, percent, n)
    assert _code(exc) == code
    assert "A" in exc.value.field


def test_duplicate_labels_and_length_mismatch_are_errors() -> None:
    with pytest.raises(InvalidInputError, match="unique"):
        proportion_inputs(["A", "A"], [10, 20], [10, 10])
    with pytest.raises(InvalidInputError) as exc:
        proportion_inputs(STUDY, PCT, [10, 10])
    assert _code(exc) == "length_mismatch"


@pytest.mark.parametrize("method", ["dl", "reml", "pm", "ml", "fe"])
def test_fewer_than_two_studies_is_refused(method: str) -> None:
    inp = proportion_inputs(["A"], [40.0], [100])
    with pytest.raises(InvalidInputError) as exc:
        pool_proportions(inp, method=method)
    assert _code(exc) == "too_few_studies"
    assert "at least 2 studies" in exc.value.reason


def test_mixed_horizons_are_refused_unless_asked_and_then_stated() -> None:
    with pytest.raises(InvalidInputError) as exc:
        proportion_inputs(STUDY, PCT, N, horizon_years=[5, 5, 4, 5])
    assert _code(exc) == "mixed_horizons"
    inp = proportion_inputs(STUDY, PCT, N, horizon_years=[5, 5, 4, 5], allow_mixed_horizons=True)
    res = pool_proportions(inp)
    assert any("different horizons (4, 5 years)" in note for note in res.notes)


def test_zero_and_hundred_percent_get_the_stated_continuity_correction() -> None:
    inp = proportion_inputs(["A", "B", "C"], [0.0, 100.0, 40.0], [10, 20, 30])
    es = effect_sizes(inp, "logit")
    assert es.corrected == ("A", "B")
    # metafor escalc(add = 1/2, to = "only0"): x + 1/2 out of n + 1.
    assert es.yi[0] == pytest.approx(np.log(0.5 / 10.5), rel=EXACT)
    assert es.vi[1] == pytest.approx(1 / 20.5 + 1 / 0.5, rel=EXACT)
    assert CONTINUITY_CORRECTION == 0.5
    res = pool_proportions(inp)
    assert any("Continuity correction: 0.5" in note and "A, B" in note for note in res.notes)
    # Arcsine and Freeman-Tukey need no correction and apply none.
    for tf in ("arcsine", "freeman-tukey"):
        assert effect_sizes(inp, tf).corrected == ()


def test_effective_count_choice_is_stated() -> None:
    res = pool_proportions(proportion_inputs(STUDY, PCT, N))
    assert res.notes[0].startswith("Variance from effective counts: events = p·N")
    assert set(res.study_table["variance_source"]) == {"effective-count"}


def test_supplied_se_equal_to_binomial_se_reproduces_the_count_analysis() -> None:
    p = np.array(PCT) / 100
    se = 100 * np.sqrt(p * (1 - p) / np.array(N))
    by_count = pool_proportions(proportion_inputs(STUDY, PCT, N), method="reml")
    by_se = pool_proportions(proportion_inputs(STUDY, PCT, N, se=se), method="reml")
    assert by_se.notes[0].startswith("Variance from the supplied SEs")
    assert by_se.estimate_pct == pytest.approx(by_count.estimate_pct, rel=EXACT)
    assert by_se.fit.tau2 == pytest.approx(by_count.fit.tau2, rel=1e-9)


def test_a_larger_supplied_se_lowers_a_studys_weight() -> None:
    p = np.array(PCT) / 100
    se = 100 * np.sqrt(p * (1 - p) / np.array(N))
    se_big = se.copy()
    se_big[0] *= 3
    base = pool_proportions(proportion_inputs(STUDY, PCT, N, se=se), method="fe").study_table
    less = pool_proportions(proportion_inputs(STUDY, PCT, N, se=se_big), method="fe").study_table
    assert less["weight_pct"][0] < base["weight_pct"][0] / 5


def test_partial_se_is_stated_and_se_at_the_boundary_is_an_error() -> None:
    inp = proportion_inputs(STUDY, PCT, N, se=[4.0, None, None, None])
    assert inp.variance_source == ("supplied-se",) + ("effective-count",) * 3
    assert "1 of 4 studies" in inp.notes[0]
    with pytest.raises(InvalidInputError) as exc:
        proportion_inputs(["A", "B"], [0.0, 30.0], [10, 10], se=[1.0, 1.0])
    assert _code(exc) == "se_at_boundary"
    with pytest.raises(InvalidInputError) as exc:
        proportion_inputs(STUDY, PCT, N, variance="supplied-se")
    assert _code(exc) == "se_missing"


def test_csv_reader(tmp_path: Path) -> None:
    inp = read_proportions_csv(REFERENCE / "seed004_table2_efs.csv")
    assert inp.k == 9 and inp.study[-1] == "Interfant-99"
    bad = tmp_path / "bad.csv"
    bad.write_text("trial,pct\nA,3\n")
    with pytest.raises(InvalidInputError) as exc:
        read_proportions_csv(bad)
    assert _code(exc) == "bad_csv"
    with pytest.raises(InvalidInputError) as exc:
        read_proportions_csv(tmp_path / "missing.csv")
    assert _code(exc) == "bad_csv"


def test_subgroups_need_two_levels() -> None:
    with pytest.raises(InvalidInputError) as exc:
        subgroup_analysis(proportion_inputs(STUDY, PCT, N), ["x"] * 4)
    assert _code(exc) == "too_few_subgroups"


@pytest.mark.parametrize("method", ["dl", "pm"])
@pytest.mark.parametrize("transform", ["logit", "arcsine"])
def test_agrees_with_statsmodels_combine_effects_where_it_is_right(
    method: str, transform: str
) -> None:
    # Seed 004 Table 2 EFS: heterogeneous (τ² > 0), where statsmodels' DL and PM are right.
    ref = pd.read_csv(REFERENCE / "seed004_table2_efs.csv")
    es = effect_sizes(proportion_inputs(ref["study"], ref["percent"], ref["n"]), transform)
    sm = combine_effects(es.yi, es.vi, method_re="dl" if method == "dl" else "pm")
    ours = fit_model(es.yi, es.vi, method=method)
    kh = fit_model(es.yi, es.vi, method=method, knha=True)
    assert ours.tau2 == pytest.approx(sm.tau2, rel=STATSMODELS_RTOL)
    assert ours.beta[0] == pytest.approx(sm.mean_effect_re, rel=STATSMODELS_RTOL)
    assert ours.se[0] == pytest.approx(sm.sd_eff_w_re, rel=STATSMODELS_RTOL)
    assert kh.se[0] ** 2 == pytest.approx(sm.var_hksj_re, rel=STATSMODELS_RTOL)
    assert ours.qe == pytest.approx(sm.q, rel=EXACT)


def test_dl_is_truncated_at_zero_when_q_is_below_its_df() -> None:
    # Homogeneous studies: Q < k - 1, DL's moment estimate is negative and truncated to 0.
    es = effect_sizes(proportion_inputs(STUDY, [40.0, 41.0, 39.5, 40.5], [100] * 4), "logit")
    fit = fit_model(es.yi, es.vi, method="dl")
    assert fit.qe < 3
    assert fit.tau2 == 0.0
    assert fit.beta[0] == pytest.approx(fit_model(es.yi, es.vi, method="fe").beta[0], rel=EXACT)


study_sets = st.lists(
    st.tuples(st.floats(min_value=1.0, max_value=99.0), st.integers(min_value=5, max_value=500)),
    min_size=2,
    max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(
    data=study_sets,
    method=st.sampled_from(["fe", "dl", "reml", "pm", "ml"]),
    knha=st.booleans(),
)
def test_invariants_of_every_estimator(
    data: list[tuple[float, int]], method: str, knha: bool
) -> None:
    labels = [f"s{i}" for i in range(len(data))]
    inp = proportion_inputs(labels, [d[0] for d in data], [d[1] for d in data])
    for tf in ("logit", "arcsine", "freeman-tukey"):
        try:
            res = pool_proportions(inp, transform=tf, method=method, knha=knha)
        except InvalidInputError as exc:  # identical estimates: Knapp-Hartung is undefined
            assert knha and exc.code == "knha_degenerate"
            continue
        assert res.fit.tau2 >= 0.0
        assert 0.0 <= res.fit.i2 <= 100.0
        if method != "fe":  # the fixed-effect H² is Q/df, below 1 when Q < df (as metafor)
            assert res.fit.h2 >= 1.0 - 1e-12
        assert res.ci_low_pct <= res.estimate_pct + 1e-9 <= res.ci_high_pct + 2e-9
        assert res.pi_low_pct <= res.ci_low_pct + 1e-9
        assert res.pi_high_pct >= res.ci_high_pct - 1e-9
        assert res.ci_low_pct >= 0.0 and res.ci_high_pct <= 100.0
        lo, hi = min(d[0] for d in data), max(d[0] for d in data)
        if tf != "freeman-tukey":
            # A weighted mean of monotone transforms stays within the studies' range (up to
            # the continuity correction). Not so for Freeman-Tukey: Miller's inverse at the
            # harmonic-mean N can leave the range when study sizes differ a lot (e.g. N = 5
            # and 204), as in metafor (see guido-s/meta#102); the README states it.
            assert lo - 1.0 <= res.estimate_pct <= hi + 1.0
        if method != "fe":
            assert res.tau2_ci[0] <= res.tau2_ci[1]
        assert res.study_table["weight_pct"].sum() == pytest.approx(100.0, rel=EXACT)


@settings(max_examples=60, deadline=None)
@given(
    p=st.one_of(st.just(0.0), st.just(1.0), st.floats(min_value=1e-4, max_value=1.0)),
    n=st.integers(min_value=1, max_value=2000),
)
def test_back_transformations_invert_the_transformations(p: float, n: int) -> None:
    inp = proportion_inputs(["a"], [100 * p], [n])
    for tf in ("arcsine", "freeman-tukey"):
        yi = effect_sizes(inp, tf).yi
        back = back_transform(yi, tf, np.array([float(n)]))
        # Freeman-Tukey's Miller inverse is exact up to O(1/n) in the middle of the range.
        tol = 1e-9 if tf == "arcsine" else 2.0 / n
        assert back[0] == pytest.approx(p, abs=tol)
    if 0 < p < 1:
        yi = effect_sizes(inp, "logit").yi
        if not effect_sizes(inp, "logit").corrected:
            assert back_transform(yi, "logit")[0] == pytest.approx(p, rel=1e-9)


def test_study_intervals_are_clopper_pearson_as_statsmodels_beta() -> None:
    from statsmodels.stats.proportion import proportion_confint

    inp = proportion_inputs(["a", "b", "c"], [0.0, 100 * 7 / 13, 100.0], [13, 13, 13])
    res = pool_proportions(inp, method="fe")
    low, high = proportion_confint([0, 7, 13], [13, 13, 13], alpha=0.05, method="beta")
    np.testing.assert_allclose(res.study_table["ci_low_pct"], 100 * np.asarray(low), rtol=1e-9)
    np.testing.assert_allclose(res.study_table["ci_high_pct"], 100 * np.asarray(high), rtol=1e-9)


def test_knapp_hartung_on_identical_estimates_is_a_clear_error() -> None:
    inp = proportion_inputs(["a", "b", "c"], [40, 40, 40], [100, 100, 100])
    with pytest.raises(InvalidInputError) as exc:
        pool_proportions(inp, method="reml", knha=True)
    assert _code(exc) == "knha_degenerate"
    assert pool_proportions(inp, method="reml").estimate_pct == pytest.approx(40.0, rel=EXACT)


def test_a_fixed_tau2_reproduces_the_estimated_fit() -> None:
    es = effect_sizes(proportion_inputs(STUDY, PCT, N), "logit")
    est = fit_model(es.yi, es.vi, method="reml")
    fixed = fit_model(es.yi, es.vi, method="reml", tau2=est.tau2)
    np.testing.assert_allclose(fixed.beta, est.beta, rtol=EXACT)
    np.testing.assert_allclose(fixed.se, est.se, rtol=EXACT)
    assert fit_model(es.yi, es.vi, tau2=0.0).beta[0] == pytest.approx(
        fit_model(es.yi, es.vi, method="fe").beta[0], rel=EXACT
    )
