"""Hierarchical borrowing of stratum log hazard ratios against numerical integration.

Exact model (one interval, a horizon inside it, so the log ratio of cumulative hazards is the
log hazard ratio): in stratum ``s`` the control hazard ``lambda_s ~ Gamma(a0, b0)``, the arm's
``lambda_s exp(theta_s)``, ``theta_s ~ N(mu, tau^2)``, ``mu ~ N(0, s0^2)``; Poisson likelihood
of events and exposure. Integrating ``lambda_s`` out in closed form leaves
``L_s(theta) = exp(d_k theta) / (b0 + E_c + E_k exp(theta))^(a0 + d_c + d_k)``; the posterior
of ``mu`` and ``theta_s`` is then integrated on a fine grid (trapezoid rule).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from infantall.design.adaptive.tte.hierarchy import borrow_log_hr

A0, B0 = 0.01, 0.01
GRID = np.linspace(-4.0, 4.0, 1601)
#: Normal approximation of the log-Gamma posteriors with 20-60 events per stratum and arm:
#: the probabilities agree with the exact model to within 0.015 (measured 0.002-0.009 on these
#: cases), the means within 0.03.
PROB_ATOL = 0.015
MEAN_ATOL = 0.03

CASES = [
    # per stratum: (d_c, E_c, d_k, E_k)
    [(30, 60.0, 22, 62.0), (25, 40.0, 20, 45.0)],
    [(40, 80.0, 40, 80.0), (20, 50.0, 14, 48.0)],
    [(35, 70.0, 25, 75.0), (30, 55.0, 32, 50.0), (22, 40.0, 18, 44.0)],
]


def _exact(strata: list[tuple[int, float, int, float]], tau: float, s0: float):
    th = GRID
    log_lik = np.array(
        [dk * th - (A0 + dc + dk) * np.log(B0 + ec + ek * np.exp(th)) for dc, ec, dk, ek in strata]
    )
    lik = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))  # (strata, theta)
    kern = stats.norm.pdf(th[None, :], loc=th[:, None], scale=tau)  # (mu, theta)
    per = lik[:, None, :] * kern[None, :, :]  # (strata, mu, theta)
    marg = np.trapezoid(per, th, axis=2)  # (strata, mu)
    post_mu = stats.norm.pdf(th, scale=s0) * np.prod(marg, axis=0)
    post_mu /= np.trapezoid(post_mu, th)
    p_mu = np.trapezoid(np.where(th < 0, post_mu, 0.0), th)
    mean_mu = np.trapezoid(th * post_mu, th)
    # theta_s: mixture over mu of its conditional posterior
    cond = per / marg[:, :, None]
    dens_theta = np.trapezoid(cond * post_mu[None, :, None], th, axis=1)  # (strata, theta)
    mean_theta = np.trapezoid(th * dens_theta, th, axis=1)
    return p_mu, mean_mu, mean_theta


@pytest.mark.parametrize("tau", [0.2, 0.5, 1.0])
@pytest.mark.parametrize("strata", CASES)
def test_borrowing_matches_numerical_integration(strata, tau) -> None:
    s0 = 5.0
    d = np.asarray(strata, dtype=float)
    eff = borrow_log_hr(
        A0 + d[:, 2], B0 + d[:, 3], A0 + d[:, 0], B0 + d[:, 1], tau=tau, mean_prior_sd=s0
    )
    p_mu, mean_mu, mean_theta = _exact(strata, tau, s0)
    assert float(eff.prob_benefit) == pytest.approx(p_mu, abs=PROB_ATOL)
    assert float(eff.mean) == pytest.approx(mean_mu, abs=MEAN_ATOL)
    np.testing.assert_allclose(eff.stratum_mean, mean_theta, atol=MEAN_ATOL)


def test_borrowing_shrinks_towards_the_mean() -> None:
    # a tight prior pulls the stratum estimates together; a loose one leaves them apart
    d = np.asarray([(30, 60.0, 15, 62.0), (25, 40.0, 30, 45.0)])
    args = (A0 + d[:, 2], B0 + d[:, 3], A0 + d[:, 0], B0 + d[:, 1])
    tight = borrow_log_hr(*args, tau=0.01, mean_prior_sd=5.0)
    loose = borrow_log_hr(*args, tau=5.0, mean_prior_sd=5.0)
    spread = lambda e: abs(float(np.diff(e.stratum_mean)[0]))  # noqa: E731
    assert spread(tight) < 0.01 < spread(loose)
    # vectorised: leading axes are trials
    many = borrow_log_hr(*(np.broadcast_to(x, (7, 2)) for x in args), tau=0.5, mean_prior_sd=5.0)
    assert many.prob_benefit.shape == (7,)
