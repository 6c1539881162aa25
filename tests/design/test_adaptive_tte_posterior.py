"""Piecewise-exponential posteriors against exact Gamma computations (scipy)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, stats

from infantall.design.tte_posterior import (
    PiecewiseGammaPosterior,
    exposure_by_interval,
    piecewise_posterior,
    prob_hazard_ratio_below,
    prob_survival_above,
    sample_mixture_cure,
)
from infantall.errors import InvalidInputError

#: Closed forms versus adaptive quadrature: both at ~1e-12.
EXACT_ATOL = 1e-9

TIMES = [0.2, 0.7, 1.5, 2.5, 3.0, 4.2, 0.9, 5.5]
EVENTS = [1, 0, 1, 1, 0, 0, 1, 0]
CUTS = [0.0, 1.0, 3.0]


def test_exposure_by_hand() -> None:
    d, e = exposure_by_interval(TIMES, EVENTS, CUTS)
    # events at 0.2, 0.9 (first), 1.5, 2.5 (second); none after 3
    np.testing.assert_array_equal(d, [2, 2, 0])
    first = 0.2 + 0.7 + 1 + 1 + 1 + 1 + 0.9 + 1
    second = 0 + 0 + 0.5 + 1.5 + 2 + 2 + 0 + 2
    third = 0 + 0 + 0 + 0 + 0 + 1.2 + 0 + 2.5
    np.testing.assert_allclose(e, [first, second, third], atol=1e-12)


def _posts() -> tuple[PiecewiseGammaPosterior, PiecewiseGammaPosterior]:
    arm = piecewise_posterior(TIMES, EVENTS, CUTS, prior_shape=0.5, prior_rate=0.2)
    ctrl = piecewise_posterior([0.1, 0.3, 1.2, 2.0, 4.0], [1, 1, 1, 1, 0], CUTS)
    return arm, ctrl


def test_hazard_ratio_probability_is_exact() -> None:
    arm, ctrl = _posts()
    p = prob_hazard_ratio_below(arm, ctrl, 0.8)
    for j in range(3):
        ak, bk, ac, bc = arm.shape[j], arm.rate[j], ctrl.shape[j], ctrl.rate[j]

        def integrand(
            y: float, ak: float = ak, bk: float = bk, ac: float = ac, bc: float = bc
        ) -> float:
            # P(lambda_k < 0.8 y) weighted by the control density at y
            return float(
                stats.gamma.pdf(y, ac, scale=1 / bc) * stats.gamma.cdf(0.8 * y, ak, scale=1 / bk)
            )

        ref = integrate.quad(integrand, 0, np.inf, epsabs=1e-13, limit=400)[0]
        assert p[j] == pytest.approx(ref, abs=EXACT_ATOL)


def test_mean_survival_is_the_gamma_laplace_transform() -> None:
    arm, _ = _posts()
    horizon = 2.0
    w = arm.weights(horizon)
    np.testing.assert_allclose(w, [1.0, 1.0, 0.0])
    ref = 1.0
    for j in range(3):
        if w[j] == 0:
            continue
        a, b = arm.shape[j], arm.rate[j]
        ref *= integrate.quad(
            lambda x, a=a, b=b, wj=w[j]: math.exp(-wj * x) * stats.gamma.pdf(x, a, scale=1 / b),
            0,
            np.inf,
            epsabs=1e-14,
        )[0]
    assert arm.mean_survival(horizon) == pytest.approx(ref, abs=EXACT_ATOL)
    draws = arm.sample_survival(horizon, 200_000, np.random.default_rng(1))
    assert abs(draws.mean() - ref) < 4 * draws.std() / math.sqrt(draws.size)


def test_survival_probability_exact_in_first_interval_and_mc_beyond() -> None:
    arm, _ = _posts()
    a, b = arm.shape[0], arm.rate[0]
    exact = prob_survival_above(arm, 0.5, 0.7)
    assert exact == pytest.approx(stats.gamma.cdf(-math.log(0.7) / 0.5, a, scale=1 / b), abs=1e-14)
    draws = arm.sample_survival(0.5, 400_000, np.random.default_rng(2))
    assert abs(float(np.mean(draws > 0.7)) - exact) < 4 * math.sqrt(exact * (1 - exact) / 400_000)
    beyond = prob_survival_above(arm, 2.5, 0.3, rng=np.random.default_rng(3), draws=50_000)
    assert 0.0 < beyond < 1.0


def test_mixture_cure_recovers_survival() -> None:
    rng = np.random.default_rng(4)
    t = sample_mixture_cure(
        200_000, cure_fraction=0.4, cuts=[0, 1, 2], hazards=[0.8, 0.4, 0.1], rng=rng
    )
    for horizon, s_u in [
        (0.5, math.exp(-0.4)),
        (1.5, math.exp(-0.8 - 0.2)),
        (3.0, math.exp(-0.8 - 0.4 - 0.1)),
    ]:
        s = 0.4 + 0.6 * s_u
        emp = float(np.mean(t > horizon))
        assert abs(emp - s) < 4 * math.sqrt(s * (1 - s) / t.size)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: piecewise_posterior([1.0], [1], [0.0, 2.0, 1.0]), "cuts"),
        (lambda: piecewise_posterior([1.0], [1], [0.5, 2.0]), "cuts"),
        (lambda: piecewise_posterior([-1.0], [1], [0.0]), "times"),
        (lambda: piecewise_posterior([1.0], [2], [0.0]), "events"),
        (lambda: piecewise_posterior([1.0], [1], [0.0], prior_shape=0.0), "prior_shape"),
        (
            lambda: sample_mixture_cure(
                5, cure_fraction=1.0, cuts=[0], hazards=[1], rng=np.random.default_rng()
            ),
            "cure_fraction",
        ),
        (
            lambda: sample_mixture_cure(
                5, cure_fraction=0.2, cuts=[0, 1], hazards=[1], rng=np.random.default_rng()
            ),
            "hazards",
        ),
    ],
)
def test_bad_input(call: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        call()  # type: ignore[operator]
    assert err.value.field == field


def test_json_safe() -> None:
    arm, _ = _posts()
    assert json.loads(json.dumps(arm.to_dict(), allow_nan=False))["cuts"] == CUTS
