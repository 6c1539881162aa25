"""Median follow-up by reverse Kaplan–Meier (against R), non-estimable values, clinical order
of risk groups and the analysis populations."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _outcomes_ref import REFERENCE, RTOL_EXACT, assert_close

from infantall.cohort import generate_cohort
from infantall.outcomes import OutcomesWarning
from infantall.outcomes.endpoints import derive_endpoints
from infantall.outcomes.followup import dataset_follow_up, reverse_km_follow_up
from infantall.outcomes.questions import clinical_order, ordered_groups, survival_at_horizons
from infantall.protocols import get_protocol


def _strict_json(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(d, allow_nan=False))
    return out


@pytest.fixture(scope="module")
def followup_ref() -> dict[str, Any]:
    """Values R printed (reference/make_followup_reference.R)."""
    with (REFERENCE / "followup_reference.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return {c["name"]: c for c in data["cases"]}


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(REFERENCE / f"{name}.csv")
    event = df["event"] if name == "lung" else df["status"]
    return df["time"].to_numpy(float), event.to_numpy(int)


@pytest.mark.parametrize("name", ["lung", "veteran", "aml"])
def test_reverse_km_follow_up_matches_r(name: str, followup_ref: dict[str, Any]) -> None:
    # R: quantile(survfit(Surv(time, 1 - status) ~ 1), c(0.25, 0.5, 0.75)); quartiles are
    # step-function values, so agreement is to floating point (RTOL_EXACT).
    exp = followup_ref[name]
    fu = reverse_km_follow_up(*_data(name))
    assert (fu.n, fu.n_events) == (exp["n"], exp["events"])
    for key in ("q1", "median", "q3", "median_lower", "median_upper"):
        assert_close(getattr(fu, key), exp[key], RTOL_EXACT)
    record = _strict_json(fu.to_dict())
    for key in ("q1", "median", "q3"):
        assert record[key] == exp[key]  # None in JSON exactly where R says NA


def test_reverse_km_is_not_the_median_of_observed_times() -> None:
    # early deaths shorten the observed times, not the potential follow-up
    time = np.array([10.0, 20.0, 30.0, 400.0, 500.0, 600.0])
    status = np.array([1, 1, 1, 0, 0, 0])
    fu = reverse_km_follow_up(time, status)
    assert fu.median == 500.0
    assert float(np.median(time)) < fu.median


def test_survival_at_a_horizon_nobody_reaches_is_not_estimable() -> None:
    # group b: everyone censored by day 5; group c: zero follow-up; group a: all events
    time = [1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0, 2.0, 3.0]
    event = [0, 1, 0, 0, 0, 0, 0, 1, 1]
    group = ["b", "b", "b", "b", "b", "c", "c", "a", "a"]
    with pytest.warns(OutcomesWarning, match="all_censored_group"):  # group c: no events
        res = survival_at_horizons(time, event, group, [4.0, 10.0])
    t = res.table.set_index(["group", "time"])
    assert t.loc[("b", 4.0), "estimable"] and t.loc[("b", 4.0), "survival"] == 0.75
    assert not t.loc[("b", 10.0), "estimable"] and np.isnan(res.row("b", 10.0)["survival"])
    assert not t.loc[("c", 4.0), "estimable"]  # zero follow-up: never 100 %
    assert t.loc[("a", 10.0), "estimable"] and t.loc[("a", 10.0), "survival"] == 0.0
    rows = _strict_json(res.to_dict())["estimates"]
    b10 = next(r for r in rows if r["group"] == "b" and r["time"] == 10.0)
    assert b10["survival"] is None and b10["lower"] is None and b10["estimable"] is False


def test_clinical_order_follows_each_protocol() -> None:
    labels = ["HR", "indeterminate", "MR", "LR", "unknown"]
    assert clinical_order(labels, "interfant-06") == ["LR", "MR", "HR", "indeterminate", "unknown"]
    assert clinical_order(["HR", "IR", "LR"], "jplsg-mll-10") == ["LR", "IR", "HR"]
    assert list(get_protocol("cog-aall0631").groups) == ["SR", "IR", "HR"]
    assert clinical_order(["HR", "SR", "IR"], "cog-aall0631") == ["SR", "IR", "HR"]
    assert clinical_order(["HR", "Zeta", "LR"], None) == ["LR", "HR", "Zeta"]
    cat = ordered_groups(pd.Series(["HR", "LR", "MR", "HR"]), "interfant-06")
    assert list(cat.categories) == ["LR", "MR", "HR"]


def test_survival_by_risk_group_is_in_clinical_order() -> None:
    time = np.arange(1.0, 10.0)
    event = np.ones(9, dtype=int)
    group = ["HR", "LR", "MR"] * 3
    res = survival_at_horizons(time, event, group, [5.0], protocol="interfant-06")
    assert list(res.table.group) == ["LR", "MR", "HR"]
    assert res.curves.labels == ["LR", "MR", "HR"]


@pytest.fixture(scope="module")
def dataset():  # type: ignore[no-untyped-def]
    return derive_endpoints(generate_cohort(300, sites=3, seed=11).to_histories())


def test_dataset_follow_up_counts_and_cutoff(dataset) -> None:  # type: ignore[no-untyped-def]
    summary = dataset_follow_up(dataset)
    os_ = dataset.endpoint("OS")
    assert summary.follow_up == reverse_km_follow_up(os_.time, os_.status)
    assert summary.cutoff == pd.to_datetime(dataset.adtte.ADT).max().date()
    assert summary.cutoff_source == "latest date in the data"
    n = len(os_)
    for pop in summary.populations:
        assert pop.included + pop.n_excluded == n + len(dataset.excluded), pop
    cir = next(p for p in summary.populations if p.analysis.startswith("CIR"))
    assert cir.included == int((dataset.adtte.PARAMCD == "CIR").sum())
    hsct = next(p for p in summary.populations if p.analysis.startswith("HSCT"))
    efs = dataset.endpoint("EFS")
    assert hsct.included == int((efs.time > 0).sum())
    record = _strict_json(summary.to_dict())
    assert record["data_cutoff"] == summary.cutoff.isoformat()
    assert record["follow_up_years"]["median_years"] == pytest.approx(
        summary.follow_up.median / 365.25
    )
    assert "reverse Kaplan" in summary.describe()
    assert list(summary.summary.columns) == ["analysis", "included", "excluded", "reasons"]


def test_administrative_cutoff_is_reported() -> None:
    histories = generate_cohort(80, sites=2, seed=2).to_histories()
    cut = dt.date(2015, 6, 30)
    with pytest.warns(OutcomesWarning, match="diagnosed after"):
        ds = derive_endpoints(histories, cutoff=cut)
    summary = dataset_follow_up(ds)
    assert summary.cutoff == cut and summary.cutoff_source == "administrative cut-off"
    assert ds.excluded  # patients diagnosed after the cut-off are counted as excluded
    efs = summary.populations[0]
    assert efs.excluded == (("no diagnosis date or diagnosed after the cut-off", len(ds.excluded)),)
    assert f"{len(ds.excluded)} excluded" in efs.describe()


@pytest.mark.parametrize("at_day0", [True, False])
def test_cir_exclusions_name_induction_failures(at_day0: bool) -> None:
    histories = generate_cohort(300, sites=3, seed=11).to_histories()
    ds = derive_endpoints(histories, induction_failure_at_day0=at_day0)
    efs = ds.adtte[ds.adtte.PARAMCD == "EFS"]
    failures = int((efs.EVNTDESC == "INDUCTION FAILURE").sum())
    assert failures > 0
    pops = {p.analysis: p for p in dataset_follow_up(ds).populations}
    reasons = dict(pops["CIR (patients in CR1)"].excluded)
    assert reasons["induction failure (no CR)"] == failures
    hsct = dict(pops["HSCT in CR1 (time-dependent)"].excluded)
    assert hsct.get("induction failure at day 0", 0) == (failures if at_day0 else 0)
