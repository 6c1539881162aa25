"""Adaptive multi-arm simulation: validation, posterior accuracy, reproducibility, invariants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from infantall.design.adaptive import (
    DECISIONS,
    allocation_probabilities,
    calibrate_superiority,
    load_spec,
    posterior_probabilities,
    run_trials,
    simulate_block,
    spec_from_dict,
)
from infantall.design.adaptive.reference import simulate_trials_loop
from infantall.design.adaptive.results import SimulationResult
from infantall.errors import InvalidInputError

#: Posterior probabilities by grid quadrature versus scipy ``quad``: the Euler–Maclaurin
#: corrected grid of 128 points is accurate to ~5e-5 even for very unequal arms (n 3 vs 150).
QUADRATURE_ATOL = 1e-4
#: Number of Monte-Carlo standard errors allowed before an invariant counts as broken
#: (two-sided false-alarm rate 6e-5 per comparison).
N_SE = 4.0


def _spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "three-arm test design",
        "outcome": "binary",
        "arms": [
            {"name": "control", "control": True, "p": 0.4},
            {"name": "A", "p": 0.4},
            {"name": "B", "p": 0.6},
        ],
        "analyses": {"patients": [60, 120, 180]},
        "accrual_per_year": 30,
        "outcome_lag_years": 2,
        "randomisation": {"adaptive": True, "softening": 0.5, "control_floor": 0.3, "cap": 0.6},
        "decisions": {"superiority": 0.99, "futility": 0.05},
    }
    base.update(changes)
    return base


# --- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"arms": [{"name": "c", "control": True, "p": 0.4}, {"name": "a", "p": 1.3}]},
            "arms[1].p",
            "1",
        ),
        ({"arms": [{"name": "c", "control": True, "p": 0.4}]}, "arms", "at least 2 arms"),
        ({"arms": [{"name": "c", "p": 0.4}, {"name": "a", "p": 0.5}]}, "arms", "control"),
        ({"randomisation": {"cap": 0.3, "control_floor": 0.2}}, "randomisation", "inconsistent"),
        ({"randomisation": {"control_floor": 1.2}}, "randomisation.control_floor", "1"),
        ({"decisions": {"superiority": 1.5}}, "decisions.superiority", "1"),
        ({"analyses": {"patients": [100, 50]}}, "analyses", "increasing"),
        ({"outcome": "time-to-event"}, "arms[0].p", "hazard"),
        ({"unknown_key": 1}, "unknown_key", "xtra"),
        (
            {"decisions": {"equivalence": {"margin": 1.2, "probability": 0.9}}},
            "decisions.equivalence.margin",
            "below 1",
        ),
    ],
)
def test_config_errors_name_the_field(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        spec_from_dict(_spec(**change))
    assert err.value.field == field
    assert words in err.value.reason


@given(
    p=st.one_of(
        st.floats(max_value=-1e-9, min_value=-1e6), st.floats(min_value=1 + 1e-9, max_value=1e6)
    ),
    i=st.integers(0, 2),
)
@settings(max_examples=25, deadline=None)
def test_any_probability_outside_unit_interval_is_rejected(p: float, i: int) -> None:
    data = _spec()
    data["arms"][i]["p"] = p
    with pytest.raises(InvalidInputError) as err:
        spec_from_dict(data)
    assert err.value.field == f"arms[{i}].p"


def test_yaml_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("arms: [\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        load_spec(bad)
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")


# --- posterior probabilities -----------------------------------------------------------


def test_beta_quadrature_matches_numerical_integration() -> None:
    rng = np.random.default_rng(11)
    n = rng.integers(3, 150, size=(20, 3))
    s = rng.binomial(n, 0.4)
    a, b = 1.0 + s, 1.0 + n - s
    probs = posterior_probabilities("beta", a, b, np.ones((20, 3), dtype=bool), 0)
    for i in range(20):
        for k in (1, 2):
            exact = integrate.quad(
                lambda x, i=i, k=k: (
                    stats.beta.pdf(x, a[i, k], b[i, k]) * stats.beta.cdf(x, a[i, 0], b[i, 0])
                ),
                0,
                1,
                epsabs=1e-12,
                limit=200,
            )[0]
            assert probs.better[i, k] == pytest.approx(exact, abs=QUADRATURE_ATOL)
    np.testing.assert_allclose(probs.best.sum(axis=1), 1.0, atol=1e-12)


def test_gamma_quadrature_matches_numerical_integration() -> None:
    rng = np.random.default_rng(12)
    d = rng.integers(0, 60, size=(20, 2)).astype(float)
    shape, rate = 1.0 + d, 1.0 + (d + 1) * rng.uniform(2, 5, size=(20, 2))
    probs = posterior_probabilities("gamma", shape, rate, np.ones((20, 2), dtype=bool), 0)
    for i in range(20):
        exact = integrate.quad(
            lambda x, i=i: (
                stats.gamma.pdf(x, shape[i, 1], scale=1 / rate[i, 1])
                * stats.gamma.sf(x, shape[i, 0], scale=1 / rate[i, 0])
            ),
            0,
            np.inf,
            epsabs=1e-12,
            limit=200,
        )[0]
        assert probs.better[i, 1] == pytest.approx(exact, abs=QUADRATURE_ATOL)


@pytest.mark.parametrize(("family", "margin"), [("beta", 0.1), ("gamma", 1.3)])
def test_monte_carlo_agrees_with_quadrature(family: str, margin: float) -> None:
    rng = np.random.default_rng(13)
    a = rng.uniform(5, 60, size=(30, 4))
    b = rng.uniform(5, 60, size=(30, 4))
    active = np.ones((30, 4), dtype=bool)
    active[:5, 2] = False
    q = posterior_probabilities(family, a, b, active, 0, margin=margin)  # type: ignore[arg-type]
    m = posterior_probabilities(
        family,  # type: ignore[arg-type]
        a,
        b,
        active,
        0,
        method="monte-carlo",
        draws=20_000,
        margin=margin,
        rng=rng,
    )
    # 20,000 draws: MC standard error <= sqrt(0.25 / 20000) = 0.0036; allow N_SE of it
    tol = N_SE * 0.0036 + QUADRATURE_ATOL
    for field in ("best", "better", "equivalent"):
        np.testing.assert_allclose(getattr(q, field), getattr(m, field), atol=tol)
    assert np.all(q.best[~active] == 0)


# --- allocation ------------------------------------------------------------------------


@given(
    best=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
    active=st.lists(st.booleans(), min_size=3, max_size=3),
    floor=st.floats(0.0, 0.6),
    cap=st.floats(0.35, 1.0),
)
@settings(max_examples=200, deadline=None)
def test_allocation_respects_floor_cap_and_dropped_arms(
    best: list[float], active: list[bool], floor: float, cap: float
) -> None:
    act = np.array([[True, *active]])
    x = allocation_probabilities(
        np.array([best]), act, 0, adaptive=True, softening=0.5, floor=floor, cap=cap
    )[0]
    assert x.sum() == pytest.approx(1.0)
    assert np.all(x[~act[0]] == 0)
    assert x[0] >= floor - 1e-12
    assert np.all(x[1:] <= max(cap, 0.0) + 1e-12)


# --- reproducibility -------------------------------------------------------------------


def test_same_seed_same_bits_locally_and_on_dask_with_any_worker_count() -> None:
    from distributed import Client, LocalCluster

    spec = spec_from_dict(_spec())
    local = run_trials(spec, 1500, seed=7, block_size=500).outcomes
    runs = []
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            runs.append(run_trials(spec, 1500, seed=7, block_size=500, client=client).outcomes)
    for other in runs:
        for field in local.__slots__:
            np.testing.assert_array_equal(getattr(local, field), getattr(other, field))
    again = simulate_block(spec, 500, np.random.SeedSequence(7).spawn(3)[1])
    np.testing.assert_array_equal(again.n_total, local.n_total[500:1000])
    different = run_trials(spec, 1500, seed=8, block_size=500).outcomes
    assert not np.array_equal(different.n_total, local.n_total)


# --- invariants ------------------------------------------------------------------------


def test_calibrated_type1_error_holds_on_fresh_trials() -> None:
    spec = spec_from_dict(_spec())
    target, n = 0.05, 3000
    cal = calibrate_superiority(spec, target, n_trials=n, seed=21)
    assert cal.type1_error <= target
    same = run_trials(spec.with_null().with_threshold(cal.threshold), n, seed=21)
    assert same.operating_characteristics().prob_superiority == cal.type1_error
    fresh = run_trials(spec.with_null().with_threshold(cal.threshold), n, seed=22)
    se = np.sqrt(2 * target * (1 - target) / n)  # difference of two independent estimates
    assert fresh.operating_characteristics().prob_superiority == pytest.approx(
        target, abs=N_SE * se + 1 / n
    )


def test_identical_arms_are_selected_equally_often() -> None:
    data = _spec(
        arms=[
            {"name": "control", "control": True, "p": 0.4},
            {"name": "A", "p": 0.6},
            {"name": "B", "p": 0.6},
            {"name": "C", "p": 0.6},
        ],
        randomisation={"adaptive": True, "softening": 0.5, "control_floor": 0.25, "cap": 0.6},
    )
    res = run_trials(spec_from_dict(data), 3000, seed=31)
    sel = np.bincount(res.outcomes.selected + 1, minlength=5)[2:]
    table = np.array(sel)
    chi2 = stats.chisquare(table)
    assert chi2.pvalue > 1e-4, table
    oc = res.operating_characteristics()
    assert oc.prob_select[0] == 0.0


def test_more_patients_never_lower_power() -> None:
    small = spec_from_dict(_spec(analyses={"patients": [40, 80, 120]}))
    large = spec_from_dict(_spec(analyses={"patients": [80, 160, 240]}))
    n = 2000
    p_small = run_trials(small, n, seed=41).operating_characteristics().prob_superiority
    p_large = run_trials(large, n, seed=42).operating_characteristics().prob_superiority
    se = np.sqrt(2 * 0.25 / n)
    assert p_large >= p_small - N_SE * se
    assert p_large > p_small  # with these sizes the gain is about 0.15, far above the noise


def test_loop_reference_agrees_with_vectorised_engine_in_distribution() -> None:
    spec = spec_from_dict(_spec())
    n_loop = 300
    loop = SimulationResult(spec, n_loop, 5, n_loop, simulate_trials_loop(spec, n_loop, 5))
    vec = run_trials(spec, 3000, seed=5)
    a, b = loop.operating_characteristics(), vec.operating_characteristics()
    se = np.sqrt(a.prob_superiority * (1 - a.prob_superiority) / n_loop)
    assert a.prob_superiority == pytest.approx(b.prob_superiority, abs=N_SE * se)
    se_n = a.sd_n / np.sqrt(n_loop)
    assert a.expected_n == pytest.approx(b.expected_n, abs=N_SE * se_n)


def test_operating_characteristics_are_consistent() -> None:
    res = run_trials(spec_from_dict(_spec()), 1000, seed=3)
    oc = res.operating_characteristics()
    total = oc.prob_superiority + oc.prob_futility + oc.prob_equivalence + oc.prob_max_sample_size
    assert total == pytest.approx(1.0)
    assert sum(oc.prob_select) == pytest.approx(oc.prob_superiority)
    assert 60 <= oc.expected_n <= 180
    assert oc.expected_duration == pytest.approx(oc.expected_n / 30 + 2)
    assert len(oc.summary) == 3
    assert set(np.unique(res.outcomes.decision)) <= set(range(len(DECISIONS)))


def test_equivalence_stops_trials_of_equal_arms() -> None:
    data = _spec(
        arms=[{"name": "control", "control": True, "p": 0.5}, {"name": "A", "p": 0.5}],
        decisions={
            "superiority": 0.99,
            "futility": None,
            "equivalence": {"margin": 0.15, "probability": 0.9},
        },
        randomisation={"adaptive": False},
        analyses={"patients": [100, 200, 300, 400]},
    )
    oc = run_trials(spec_from_dict(data), 500, seed=9).operating_characteristics()
    assert oc.prob_equivalence > 0.5


# --- time to event ---------------------------------------------------------------------


def _tte(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "outcome": "time-to-event",
        "arms": [
            {
                "name": "control",
                "control": True,
                "survival": {"horizon_years": 2, "probability": 0.4},
            },
            {"name": "A", "hazard": 0.2},
            {"name": "B", "piecewise": {"starts": [0, 1], "hazards": [0.6, 0.1]}},
        ],
        "analyses": {"years": [3, 5, 7]},
        "max_patients": 200,
        "accrual_per_year": 40,
        "decisions": {"superiority": 0.99, "futility": 0.02},
        "randomisation": {"adaptive": True, "control_floor": 0.3, "cap": 0.7},
    }
    base.update(changes)
    return base


def test_time_to_event_by_calendar_time() -> None:
    res = run_trials(spec_from_dict(_tte()), 1000, seed=51)
    oc = res.operating_characteristics()
    out = res.outcomes
    assert np.all(out.n_total <= 200)
    assert set(np.unique(out.duration)) <= {3.0, 5.0, 7.0}
    assert oc.prob_superiority > 0.5
    assert np.isnan(oc.true_value[2])


def test_time_to_event_estimates_are_unbiased_without_adaptation() -> None:
    data = _tte(
        arms=[{"name": "control", "control": True, "hazard": 0.458}, {"name": "A", "hazard": 0.3}],
        decisions={"superiority": 1.0, "futility": None},
        randomisation={"adaptive": False},
    )
    oc = run_trials(spec_from_dict(data), 1000, seed=54).operating_characteristics()
    # no stopping, fixed allocation: only the Gamma(1, 1) prior pulls the posterior mean,
    # by about (1 - hazard) / (1 + exposure) with ~150 patient-years per arm: < 0.01
    np.testing.assert_allclose(oc.bias, 0.0, atol=0.015)
    assert oc.mean_n_arm == pytest.approx((100.0, 100.0), abs=2.0)


def test_time_to_event_by_patient_counts_follows_up_after_the_last() -> None:
    data = _tte(analyses={"patients": [100, 200], "final_follow_up_years": 2.0})
    data.pop("max_patients")
    spec = spec_from_dict(data)
    out = run_trials(spec, 400, seed=52).outcomes
    ran_to_end = out.stop_look == 1
    assert np.all(out.n_total[ran_to_end] == 200)
    # 200 patients at 40 a year take about 5 years, then 2 years of follow-up
    assert out.duration[ran_to_end].mean() == pytest.approx(7.0, abs=0.3)


def test_time_to_event_null_rarely_declares_superiority() -> None:
    null = spec_from_dict(_tte()).with_null()
    oc = run_trials(null, 1000, seed=53).operating_characteristics()
    assert oc.prob_superiority < 0.05
