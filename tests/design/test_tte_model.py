"""Decision quantities of the piecewise-exponential engine against exact and Monte-Carlo values.

References: adaptive quadrature of the Gamma densities (scipy ``integrate.quad``) where the
quantity is exact (a horizon in the first interval), else a large Monte-Carlo sample of the
independent interval Gammas, which is the definition of the quantity.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from infantall.design.adaptive.tte import model
from infantall.design.tte_posterior import PiecewiseGammaPosterior, prob_hazard_ratio_below

CUTS = np.array([0.0, 0.5, 1.0, 2.0])
#: Closed forms against adaptive quadrature: both good to ~1e-10.
EXACT_ATOL = 1e-8
#: Moment matching of a sum of Gammas: its error on P(better) stays below this for shapes
#: of 5 or more per interval (measured 2e-3 at worst over the cases below, with 1e6 draws).
MATCH_ATOL = 6e-3
DRAWS = 1_000_000

CASES = [
    # shape and rate per interval, arm then control
    (([6, 9, 5, 3], [14, 30, 25, 18]), ([8, 12, 7, 4], [13, 28, 22, 17])),
    (([20, 15, 9, 6], [40, 50, 45, 40]), ([20, 20, 10, 5], [35, 45, 40, 39])),
    (([5, 5, 5, 5], [10, 10, 10, 10]), ([5, 5, 5, 5], [10, 10, 10, 10])),
]


def _cum_draws(shape: list[float], rate: list[float], w: np.ndarray, rng: np.random.Generator):
    lam = rng.gamma(np.asarray(shape, float), 1 / np.asarray(rate, float), (DRAWS, len(shape)))
    return lam @ w


def test_first_interval_is_exact() -> None:
    # horizon inside the first interval: L = w * lambda_0 exactly Gamma; against quadrature
    a_k, b_k, a_c, b_c = 7.0, 15.0, 9.0, 14.0
    w = model.horizon_weights(CUTS, 0.4)
    sh, rt = model.matched_gamma(np.array([a_k, 1, 1, 1.0]), np.array([b_k, 1, 1, 1.0]), w)
    sc, rc = model.matched_gamma(np.array([a_c, 1, 1, 1.0]), np.array([b_c, 1, 1, 1.0]), w)
    got = float(model.prob_better(sh, rt, sc, rc))
    ref, _ = integrate.quad(
        lambda x: stats.gamma.pdf(x, a_c, scale=1 / b_c) * stats.gamma.cdf(x, a_k, scale=1 / b_k),
        0,
        np.inf,
    )
    assert got == pytest.approx(ref, abs=EXACT_ATOL)
    arm = PiecewiseGammaPosterior((0.0,), (a_k,), (b_k,))
    ctrl = PiecewiseGammaPosterior((0.0,), (a_c,), (b_c,))
    assert got == pytest.approx(float(prob_hazard_ratio_below(arm, ctrl)[0]), abs=EXACT_ATOL)


@pytest.mark.parametrize(("arm", "ctrl"), CASES)
def test_prob_better_matches_monte_carlo(arm, ctrl) -> None:
    rng = np.random.default_rng(11)
    w = model.horizon_weights(CUTS, 1.5)
    lk, lc = _cum_draws(*arm, w, rng), _cum_draws(*ctrl, w, rng)
    mc = float(np.mean(lk < lc))
    ak, bk = model.matched_gamma(np.asarray(arm[0], float), np.asarray(arm[1], float), w)
    ac, bc = model.matched_gamma(np.asarray(ctrl[0], float), np.asarray(ctrl[1], float), w)
    assert float(model.prob_better(ak, bk, ac, bc)) == pytest.approx(mc, abs=MATCH_ATOL)


@pytest.mark.parametrize("delta", [0.02, 0.1])
@pytest.mark.parametrize(("arm", "ctrl"), CASES[:2])
def test_prob_better_by_matches_monte_carlo(arm, ctrl, delta) -> None:
    rng = np.random.default_rng(12)
    w = model.horizon_weights(CUTS, 1.5)
    sk, sc = np.exp(-_cum_draws(*arm, w, rng)), np.exp(-_cum_draws(*ctrl, w, rng))
    mc = float(np.mean(sk > sc + delta))
    ak, bk = model.matched_gamma(np.asarray(arm[0], float), np.asarray(arm[1], float), w)
    ac, bc = model.matched_gamma(np.asarray(ctrl[0], float), np.asarray(ctrl[1], float), w)
    got = float(model.prob_better_by(ak, bk, ac, bc, delta))
    assert got == pytest.approx(mc, abs=MATCH_ATOL)
    assert got < float(model.prob_better(ak, bk, ac, bc))


def test_prob_best_against_pairwise_exact() -> None:
    # two arms: P(best) of arm 0 is P(L_0 < L_1), exact; Monte Carlo within 4 standard errors
    rng = np.random.default_rng(3)
    shape = np.array([[8.0, 11.0]] * 4)
    rate = np.array([[20.0, 21.0]] * 4)
    active = np.ones((4, 2), dtype=bool)
    draws = 40_000
    best = model.prob_best(shape, rate, active, draws, rng)
    exact = float(model.prob_better(shape[0, 0], rate[0, 0], shape[0, 1], rate[0, 1]))
    se = np.sqrt(exact * (1 - exact) / draws)
    np.testing.assert_allclose(best[:, 0], exact, atol=4 * se)
    np.testing.assert_allclose(best.sum(axis=1), 1.0)
    active[:, 1] = False
    np.testing.assert_array_equal(model.prob_best(shape, rate, active, 100, rng)[:, 0], 1.0)
