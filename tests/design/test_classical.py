"""Classical designs against rpact 3.3.4 and base R (tests/design/reference/make_reference.R).

The JSON file holds the numbers R printed; the script that produced them sits beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infantall.design import (
    Accrual,
    PiecewiseExponential,
    events_required,
    exact_binomial_design,
    exact_binomial_test,
    group_sequential_design,
    one_sample_logrank_design,
    one_sample_logrank_test,
    sample_size_survival,
)
from infantall.errors import InvalidInputError

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "rpact_reference.json").read_text(encoding="utf-8")
)

#: Boundaries: our Simpson recursion is accurate to ~1e-10 and rpact's to ~1e-8; two-sided
#: Pocock in rpact differs from its one-sided values in the 7th digit, so 1e-6 leaves margin
#: while being far tighter than the 1e-4 a statistician reads.
BOUNDARY_ATOL = 1e-6
#: Events have a closed form: only floating-point rounding separates the two.
EVENTS_RTOL = 1e-9
#: Patients and accrual time come from root finding (rpact stops at about 1e-7 relative).
PATIENTS_RTOL = 1e-5
#: The inflation factor is solved by root finding on the power (rpact: ~1e-8).
INFLATION_RTOL = 1e-6

SPENDING = {"asOF": "obrien-fleming", "asP": "pocock"}


@pytest.mark.parametrize(
    "case", REFERENCE["gsd"], ids=lambda c: f"{c['type']}-{c['kmax']}-{c['sided']}"
)
def test_boundaries_match_rpact(case: dict[str, Any]) -> None:
    d = group_sequential_design(
        case["kmax"],
        alpha=case["alpha"],
        sided=case["sided"],
        spending=SPENDING[case["type"]],  # type: ignore[arg-type]
        information_rates=case["information_rates"],
    )
    np.testing.assert_allclose(d.critical_values, case["critical_values"], atol=BOUNDARY_ATOL)
    np.testing.assert_allclose(d.stage_levels, case["stage_levels"], atol=BOUNDARY_ATOL)
    np.testing.assert_allclose(d.alpha_spent, case["alpha_spent"], atol=BOUNDARY_ATOL)
    assert d.inflation_factor(0.8) == pytest.approx(
        case["inflation_factor_power80"], rel=INFLATION_RTOL
    )
    assert list(d.summary["look"]) == list(range(1, case["kmax"] + 1))


def test_boundaries_spend_exactly_alpha_under_the_null() -> None:
    d = group_sequential_design(4, alpha=0.025, spending="pocock")
    assert d.rejection_probabilities(0.0).sum() == pytest.approx(0.025, abs=1e-9)


def _survival_args(case: dict[str, Any]) -> tuple[PiecewiseExponential, Accrual]:
    if case["piecewise_time"] is not None:
        control = PiecewiseExponential(tuple(case["piecewise_time"]), tuple(case["lambda2"]))
    else:
        control = PiecewiseExponential.from_median(case["median_control"])
    times = case["accrual_time"]
    times = times if isinstance(times, list) else [times]
    intensity = case["accrual_intensity"]
    if intensity is None:
        accrual = Accrual.uniform(times[-1])
    else:
        intensity = intensity if isinstance(intensity, list) else [intensity]
        accrual = Accrual(starts=tuple(times[: len(intensity)]), rates=tuple(intensity))
    return control, accrual


@pytest.mark.parametrize("case", REFERENCE["survival"], ids=lambda c: c["id"])
def test_survival_sample_size_matches_rpact(case: dict[str, Any]) -> None:
    control, accrual = _survival_args(case)
    design = (
        group_sequential_design(case["kmax"], alpha=case["alpha"], sided=case["sided"])
        if case["kmax"] > 1
        else None
    )
    res = sample_size_survival(
        case["hazard_ratio"],
        control,
        accrual,
        case["follow_up"],
        alpha=case["alpha"],
        power=case["power"],
        sided=case["sided"],
        allocation_ratio=case["allocation_ratio"],
        method=case["method"],
        dropout_rate=case["dropout_rate"],
        dropout_time=1.0,
        design=design,
    )
    events_tol = INFLATION_RTOL if design is not None else EVENTS_RTOL
    assert res.events == pytest.approx(case["max_events"], rel=events_tol)
    assert res.patients == pytest.approx(case["max_subjects"], rel=PATIENTS_RTOL)
    assert res.accrual_duration == pytest.approx(case["accrual_end"], rel=PATIENTS_RTOL)
    assert res.summary.shape[0] == 1


def test_freedman_needs_more_events_than_schoenfeld_for_protective_hr() -> None:
    assert events_required(0.6, method="freedman") > events_required(0.6, method="schoenfeld")


def test_events_reject_null_hazard_ratio() -> None:
    with pytest.raises(InvalidInputError) as err:
        events_required(1.0)
    assert err.value.field == "hazard_ratio"


@pytest.mark.parametrize("case", REFERENCE["binomial"], ids=lambda c: f"{c['p0']}-{c['p1']}")
def test_exact_binomial_design_matches_r_enumeration(case: dict[str, Any]) -> None:
    d = exact_binomial_design(case["p0"], case["p1"], alpha=case["alpha"], power=case["power"])
    assert (d.n, d.r) == (case["n"], case["r"])
    assert d.alpha_actual == pytest.approx(case["alpha_actual"], rel=1e-9)
    assert d.power_actual == pytest.approx(case["power_actual"], rel=1e-9)


def test_exact_binomial_test_matches_r_binom_test() -> None:
    ref = REFERENCE["binomial_test"]
    res = exact_binomial_test(ref["successes"], ref["n"], ref["p0"])
    assert res.p_value == pytest.approx(ref["p_value"], rel=1e-9)
    assert (res.ci_low, res.ci_high) == pytest.approx((ref["ci_low"], ref["ci_high"]), rel=1e-7)


def test_one_sample_logrank_statistic_matches_r() -> None:
    ref = REFERENCE["one_sample_logrank"]
    null = PiecewiseExponential(tuple(ref["starts"]), tuple(ref["hazards"]))
    res = one_sample_logrank_test(ref["time"], ref["event"], null)
    assert res.observed == ref["observed"]
    assert res.expected == pytest.approx(ref["expected"], rel=1e-12)
    assert res.z == pytest.approx(ref["z"], rel=1e-12)
    assert res.p_value_improvement == pytest.approx(ref["p_improvement"], rel=1e-9)


#: Simulated single-arm trials used to check the one-sample log-rank design's power.
_N_SIM = 4000
#: Four Monte-Carlo standard errors of a proportion near 0.8 with 4,000 trials (~0.025),
#: plus 0.01 for the normal approximation behind the sample-size formula at n ~ 50.
_POWER_TOL = 4 * np.sqrt(0.8 * 0.2 / _N_SIM) + 0.01


def test_one_sample_logrank_design_reaches_its_power_in_simulation() -> None:
    null = PiecewiseExponential.from_landmark(0.494, 2.0)
    hr = float(np.log(0.70) / np.log(0.494))
    design = one_sample_logrank_design(null, hr, Accrual.uniform(3.0), 2.0, alpha=0.05, power=0.8)
    n = int(np.ceil(design.patients))
    rng = np.random.default_rng(20261121)
    entry = rng.uniform(0, 3.0, size=(_N_SIM, n))
    admin = 5.0 - entry
    lam1 = null.hazards[0] * hr
    t = rng.exponential(1 / lam1, size=(_N_SIM, n))
    obs = np.minimum(t, admin)
    event = t <= admin
    expected = null.hazards[0] * obs.sum(axis=1)
    z = (event.sum(axis=1) - expected) / np.sqrt(expected)
    power = float(np.mean(z < -1.6448536269514722))
    assert power == pytest.approx(0.8, abs=_POWER_TOL)
    assert design.expected_events == pytest.approx(design.patients * design.prob_event)


def test_one_sample_logrank_design_solves_accrual_from_a_rate() -> None:
    null = PiecewiseExponential.from_landmark(0.494, 2.0)
    d = one_sample_logrank_design(null, 0.6, Accrual.per_year(20.0), 2.0)
    assert d.patients == pytest.approx(20.0 * d.accrual_duration, rel=1e-8)


@given(
    hr=st.floats(0.3, 0.9),
    power=st.floats(0.6, 0.95),
    follow_up=st.floats(0.5, 4.0),
)
@settings(max_examples=30, deadline=None)
def test_sample_size_moves_the_right_way(hr: float, power: float, follow_up: float) -> None:
    control = PiecewiseExponential.from_median(2.0)
    base = sample_size_survival(hr, control, Accrual.uniform(3.0), follow_up, power=power)
    more_power = sample_size_survival(
        hr, control, Accrual.uniform(3.0), follow_up, power=min(power + 0.02, 0.99)
    )
    weaker = sample_size_survival(min(hr + 0.05, 0.95), control, Accrual.uniform(3.0), follow_up)
    longer = sample_size_survival(hr, control, Accrual.uniform(3.0), follow_up + 1.0, power=power)
    assert more_power.events > base.events
    assert weaker.events > sample_size_survival(hr, control, Accrual.uniform(3.0), follow_up).events
    assert longer.patients < base.patients
    assert longer.events == pytest.approx(base.events)
    assert 0 < base.prob_event_treatment < base.prob_event_control < 1
