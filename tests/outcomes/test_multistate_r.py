"""Multi-state models against R survival 3.5-3 (reference/multistate/make_multistate_reference.R).

Data: survival::mgus2 as competing risks (PCM, death), survival::myeloid built with tmerge as
in the survival package's multi-state vignette, and a synthetic infant cohort
(infantall.cohort, seed 18, 400 patients) through the infant-ALL states.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from infantall.outcomes.multistate import (
    INFANT_ALL,
    MultiStateData,
    aalen_johansen,
    multistate_data,
    transition_probabilities,
)
from infantall.outcomes.multistate.cox import multistate_cox

REF = Path(__file__).parent / "reference" / "multistate"
#: R's JSON keeps 15 significant digits; times are moved up by this relative amount so that
#: a time printed a hair below the exact transition time still reads the step at it.
TIME_NUDGE = 1 + 1e-12
#: Occupation probabilities: the issue asks 1e-10 (sums of products, rounding only).
P_TOL = 1e-10
#: Standard errors: 1e-8 relative (the issue's tolerance).
SE_RTOL = 1e-8
#: Cox coefficients: 1e-6 (R stops Newton at a relative loglik change of 1e-9).
COEF_TOL = 1e-6

CASES = {
    "mgus2": ("mgus2_ms.csv", "(s0)", None, 240.0),
    "myeloid": ("myeloid_ms.csv", "(s0)", None, 1000.0),
    "infant": ("infant_synthetic.csv", "diagnosis", INFANT_ALL, 5.0),
}


@cache
def _ref() -> dict[str, Any]:
    with (REF / "multistate_reference.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@cache
def _data(name: str) -> MultiStateData:
    csv, initial, matrix, _ = CASES[name]
    return multistate_data(pd.read_csv(REF / csv), initial=initial, matrix=matrix)


def _r_states(name: str, states: list[str]) -> list[str]:
    return [s.replace("(s0)", CASES[name][1]) for s in states]


def _compare(res: Any, r: dict[str, Any], name: str, step: int = 1) -> None:
    states = _r_states(name, r["states"])
    times = np.asarray(r["time"])[::step] * TIME_NUDGE
    tab = res.at(times)
    tab["time"] = tab["time"] / TIME_NUDGE
    got = tab.pivot(index="time", columns="state", values="probability")[states].to_numpy()
    se = tab.pivot(index="time", columns="state", values="std_err")[states].to_numpy()
    np.testing.assert_allclose(got, np.asarray(r["pstate"])[::step], rtol=0, atol=P_TOL)
    np.testing.assert_allclose(se, np.asarray(r["std_err"])[::step], rtol=SE_RTOL, atol=1e-14)


@pytest.mark.parametrize("name", list(CASES))
def test_occupation_and_ij_std_err_match_survfit(name: str) -> None:
    r = _ref()[name]["aj"]
    res = aalen_johansen(_data(name))
    _compare(res, r, name, step=3)


@pytest.mark.parametrize("name", ["mgus2", "myeloid"])
def test_log_confidence_intervals_match_survfit(name: str) -> None:
    r = _ref()[name]["aj"]
    states = _r_states(name, r["states"])
    times = np.asarray(r["time"])[::9] * TIME_NUDGE
    tab = aalen_johansen(_data(name)).at(times)
    for col, key in (("lower", "lower"), ("upper", "upper")):
        got = tab.pivot(index="time", columns="state", values=col)[states].to_numpy()
        want = np.asarray(r[key], dtype=float)[::9]
        np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("name", list(CASES))
def test_restricted_mean_time_in_state_matches_r(name: str) -> None:
    r = _ref()[name]["aj"]
    states = _r_states(name, r["states"])
    rm = aalen_johansen(_data(name)).restricted_mean(CASES[name][3]).set_index("state")
    np.testing.assert_allclose(rm.loc[states, "time_in_state"], r["rmean"], rtol=1e-12)
    np.testing.assert_allclose(rm.loc[states, "std_err"], r["rmean_se"], rtol=SE_RTOL)


@pytest.mark.parametrize("name", list(CASES))
def test_nelson_aalen_matches_survfit_cumhaz(name: str) -> None:
    r = _ref()[name]["aj"]
    states = _r_states(name, r["states"])
    ch = aalen_johansen(_data(name)).cumulative_hazard
    rt = np.asarray(r["time"]) * TIME_NUDGE
    rc = np.asarray(r["cumhaz"])
    for col, label in enumerate(r["cumhaz_names"]):
        a, b = (states[int(i) - 1] for i in label.split("."))
        mine = ch[(ch["from"] == a) & (ch["to"] == b)]
        pos = np.searchsorted(mine["time"].to_numpy(), rt, "right")
        got = np.where(pos > 0, mine["cumhaz"].to_numpy()[np.maximum(pos - 1, 0)], 0.0)
        np.testing.assert_allclose(got, rc[:, col], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("name", "key", "state", "start"),
    [
        ("myeloid", "landmark_cr", "CR", 100.5),
        ("infant", "landmark_cr1", "CR1", 0.5),
        ("infant", "landmark_hsct", "HSCT in CR1", 0.5),
    ],
)
def test_landmark_transition_probabilities_match_survfit_start_time(
    name: str, key: str, state: str, start: float
) -> None:
    r = _ref()[name][key]
    res = transition_probabilities(_data(name), state, start)
    assert res.n == r["n"]
    _compare(res, r, name)


def _coef_rows(name: str) -> list[tuple[str, str, str, float, float]]:
    r = _ref()[name]
    states = _r_states(name, r["aj"]["states"])
    out = []
    for label, coef, se in zip(
        r["cox"]["names"], r["cox"]["coef"], r["cox"]["naive_se"], strict=True
    ):
        cov, tr = label.rsplit("_", 1)
        a, b = (states[int(i) - 1] for i in tr.split(":"))
        out.append((a, b, cov, coef, se))
    return out


# Transitions with fewer than 10 events have a diverging coefficient (R warns "coefficient may
# be infinite"; infantall warns monotone_likelihood); they are not compared: warning expected.
@pytest.mark.filterwarnings("ignore:Cox fit:infantall.outcomes._validate.OutcomesWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_transition_cox_matches_coxph_multistate(name: str) -> None:
    covs = {"mgus2": ["age", "male"], "myeloid": ["trtB", "male"], "infant": ["male", "age_lt6m"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = multistate_cox(_data(name), covs[name])
    s = fit.summary.set_index(["from", "to", "covariate"])
    checked = 0
    for a, b, cov, coef, se in _coef_rows(name):
        if (a, b) in fit.not_estimable:
            continue
        row = s.loc[(a, b, cov)]  # type: ignore[index]
        if row["n_events"] < 10:  # R warns that betas of sparse transitions may be infinite
            continue
        assert row["coef"] == pytest.approx(coef, abs=COEF_TOL)
        assert row["se"] == pytest.approx(se, rel=1e-5)
        checked += 1
    assert checked >= 4


# Transitions with fewer than 10 events have a diverging coefficient (R warns "coefficient may
# be infinite"; infantall warns monotone_likelihood); they are not compared: warning expected.
@pytest.mark.filterwarnings("ignore:Cox fit:infantall.outcomes._validate.OutcomesWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_predicted_cumulative_hazards_match_survfit_coxph(name: str) -> None:
    r = _ref()[name]["cox"]
    covs = list(r["newdata"][0])
    profile = {k: float(v) for k, v in r["newdata"][0].items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = multistate_cox(_data(name), covs)
    for p in r["per_transition"]:
        a, b = CASES[name][1] if p["from"] == "(s0)" else p["from"], p["to"]
        ch = fit.cumulative_hazard((a, b), profile)
        rt, rc = np.asarray(p["time"]) * TIME_NUDGE, np.asarray(p["cumhaz"])
        pos = np.searchsorted(ch["time"].to_numpy(), rt, "right")
        got = np.where(pos > 0, ch["cumhaz"].to_numpy()[np.maximum(pos - 1, 0)], 0.0)
        np.testing.assert_allclose(got, rc, rtol=1e-8, atol=1e-12)
