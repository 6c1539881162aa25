"""Kaplan–Meier, medians, horizons and RMST against R survival::survfit (reference/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _outcomes_ref import RTOL_EXACT, assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

from infantall.errors import InvalidInputError
from infantall.outcomes import kaplan_meier, kaplan_meier_by_group

CONF_TYPES = ["log-log", "log", "plain"]


@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_km_lung_overall_matches_survfit(lung, ref, conf_type):
    r = ref["km_lung_all"][conf_type]
    km = kaplan_meier(lung.time, lung.event, conf_type=conf_type)
    # R's summary(fit, censored=TRUE): one row per distinct time, censored ones included
    assert_close(km.time, r["time"], RTOL_EXACT)
    assert_close(km.n_risk, r["n_risk"], RTOL_EXACT)
    assert_close(km.n_event, r["n_event"], RTOL_EXACT)
    assert_close(km.survival, r["surv"], RTOL_EXACT)
    assert_close(km.std_err, r["std_err"], RTOL_EXACT)
    assert_close(km.lower, r["lower"], RTOL_EXACT)
    assert_close(km.upper, r["upper"], RTOL_EXACT)
    assert_close(km.median(), [r["median"][0], r["median_lower"][0], r["median_upper"][0]], 0)
    at = km.at(r["at_time"])
    assert_close(at.survival, r["at_surv"], RTOL_EXACT)
    assert_close(at.std_err, r["at_std_err"], RTOL_EXACT)
    assert_close(at.lower, r["at_lower"], RTOL_EXACT)
    assert_close(at.upper, r["at_upper"], RTOL_EXACT)
    assert list(at.n_risk) == r["at_n_risk"]


@pytest.mark.parametrize(
    ("key", "data", "time", "event", "group"),
    [
        ("km_lung_sex", "lung", "time", "event", "sex"),
        ("km_veteran_trt", "veteran", "time", "status", "trt"),
    ],
)
@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_km_by_group_matches_survfit(request, ref, key, data, time, event, group, conf_type):
    df = request.getfixturevalue(data)
    r = ref[key][conf_type]
    curves = kaplan_meier_by_group(df[time], df[event], df[group], conf_type=conf_type)
    rows = pd.concat([c.summary.assign(g=c.label) for c in curves.curves])
    assert_close(rows.survival, r["surv"], RTOL_EXACT)
    assert_close(rows.std_err, r["std_err"], RTOL_EXACT)
    assert_close(rows.lower, r["lower"], RTOL_EXACT)
    assert_close(rows.upper, r["upper"], RTOL_EXACT)
    summ = curves.summary
    assert_close(summ["median"], r["median"], 0)
    assert_close(summ["median_lower"], r["median_lower"], 0)
    assert_close(summ["median_upper"], r["median_upper"], 0)
    at = curves.at(sorted(set(r["at_time"])))
    assert_close(at.survival, r["at_surv"], RTOL_EXACT)
    assert_close(at.std_err, r["at_std_err"], RTOL_EXACT)


@pytest.mark.parametrize(
    ("key", "data", "time", "event", "group"),
    [
        ("km_lung_all", "lung", "time", "event", None),
        ("km_lung_sex", "lung", "time", "event", "sex"),
        ("km_veteran_trt", "veteran", "time", "status", "trt"),
    ],
)
def test_rmst_and_its_se_match_print_survfit(request, ref, key, data, time, event, group):
    df = request.getfixturevalue(data)
    r = ref[key]
    curves = kaplan_meier_by_group(df[time], df[event], None if group is None else df[group])
    tab = curves.rmst(r["tau"])
    assert_close(tab["rmst"], r["rmean"], RTOL_EXACT)
    assert_close(tab["se"], r["rmean_se"], RTOL_EXACT)


def test_horizon_beyond_follow_up_carries_curve_with_nobody_at_risk(lung):
    km = kaplan_meier(lung.time, lung.event)
    at = km.at([0, 5000])
    assert at.survival.iloc[0] == 1.0
    assert at.n_risk.iloc[0] == len(lung)
    assert at.survival.iloc[1] == km.survival[-1]
    assert at.n_risk.iloc[1] == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=1, max_size=60),
    st.sampled_from(CONF_TYPES),
)
def test_km_invariants(obs, conf_type):
    t = np.array([o[0] for o in obs], dtype=float)
    e = np.array([o[1] for o in obs], dtype=int)
    km = kaplan_meier(t, e, conf_type=conf_type)
    s = km.survival
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.diff(s) <= 1e-15)
    ok = ~np.isnan(km.lower)
    assert np.all(km.lower[ok] <= s[ok] + 1e-12)
    assert np.all(km.upper[ok] >= s[ok] - 1e-12)
    assert km.n_event.sum() == e.sum()
    assert km.n_risk[0] == len(t)


def test_delayed_entry_counts_start_strictly_before_t():
    # one subject enters at 2 and has the event at 3; at t=2 it is not yet at risk
    km = kaplan_meier([2.0, 3.0, 5.0], [1, 1, 0], entry=[0.0, 2.0, 0.0])
    assert list(km.n_risk) == [2.0, 2.0, 1.0]


@pytest.mark.parametrize(
    ("time", "event", "code"),
    [
        ([1.0, -2.0], [1, 0], "negative_time"),
        ([1.0, np.nan], [1, 0], "missing_time"),
        (["a", "b"], [1, 0], "non_numeric_time"),
        ([1.0, 2.0], [1, 3], "bad_event_code"),
        ([1.0, 2.0], [1, np.nan], "missing_event"),
        ([1.0, 2.0], [1], "length_mismatch"),
        ([], [], "empty_data"),
    ],
)
def test_bad_input_is_named(time, event, code):
    with pytest.raises(InvalidInputError) as info:
        kaplan_meier(time, event)
    assert info.value.code == code


def test_bad_conf_type_and_tau():
    with pytest.raises(InvalidInputError, match="bad_conf_type"):
        kaplan_meier([1, 2], [1, 0], conf_type="logit")  # type: ignore[arg-type]
    km = kaplan_meier([1, 2], [1, 0])
    with pytest.raises(InvalidInputError, match="bad_horizon"):
        km.rmst(-1)
    with pytest.raises(InvalidInputError, match="entry_after_exit"):
        kaplan_meier([1, 2], [1, 0], entry=[1, 0])


def test_print_summary_shows_median(lung, capsys):
    kaplan_meier_by_group(lung.time, lung.event, lung.sex).print_summary(horizons=[365])
    out = capsys.readouterr().out
    assert "426" in out and "median" in out


def test_rmst_summary(lung, ref, capsys):
    r = kaplan_meier(lung.time, lung.event).rmst(730)
    r.print_summary()
    assert "RMST to 730" in capsys.readouterr().out
    assert r.summary.rmst.iloc[0] == pytest.approx(ref["km_lung_all"]["rmean"][0], rel=RTOL_EXACT)
