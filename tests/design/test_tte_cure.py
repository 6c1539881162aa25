"""Mixture-cure analysis: the Gibbs sampler against numerical integration of the exact
posterior (one interval, so the posterior is a function of (pi, lambda) on a 2-D grid)."""

from __future__ import annotations

import numpy as np
import pytest

from infantall.design.adaptive.tte.cure import cure_survival_draws

A, B = 1.0, 1.0  # Gamma prior of the hazard
CA, CB = 1.0, 1.0  # Beta prior of the cure fraction
H = 2.0  # horizon
#: Many short chains of an autocorrelated sampler: the mean of 400 x 400 draws has a Monte-Carlo
#: error of about 2e-3 here; 0.01 leaves room for it.
ATOL = 0.01


def _data(rng: np.random.Generator):
    n = 60
    cured = rng.random(n) < 0.35
    t = np.where(cured, np.inf, rng.exponential(1 / 0.8, n))
    follow = rng.uniform(0.5, 5.0, n)
    return np.minimum(t, follow), t <= follow


def _exact(x: np.ndarray, ev: np.ndarray) -> tuple[float, float]:
    pi = np.linspace(1e-4, 1 - 1e-4, 801)[:, None]
    lam = np.linspace(1e-4, 5.0, 1201)[None, :]
    logp = (CA - 1) * np.log(pi) + (CB - 1) * np.log1p(-pi) + (A - 1) * np.log(lam) - B * lam
    logp = logp + ev.sum() * (np.log1p(-pi) + np.log(lam)) - lam * x[ev].sum()
    for c in x[~ev]:
        logp = logp + np.log(pi + (1 - pi) * np.exp(-lam * c))
    p = np.exp(logp - logp.max())
    p /= p.sum()
    s = pi + (1 - pi) * np.exp(-lam * H)
    return float((p * s).sum()), float(p[s > 0.5].sum())


def test_gibbs_matches_exact_posterior() -> None:
    rng = np.random.default_rng(17)
    x, ev = _data(rng)
    chains = 400
    xs = np.broadcast_to(x, (chains, x.size)).copy()
    evs = np.broadcast_to(ev, (chains, x.size)).copy()
    draws = cure_survival_draws(
        np.array([0.0]), xs, evs, np.zeros(xs.shape, dtype=np.int64), np.ones(xs.shape, bool),
        np.array([[A]]), np.array([[B]]), (CA, CB), np.array([H]),
        iterations=400, burn=100, rng=rng,
    )  # fmt: skip
    mean_s, p_above = _exact(x, ev)
    assert float(draws.mean()) == pytest.approx(mean_s, abs=ATOL)
    assert float((draws > 0.5).mean()) == pytest.approx(p_above, abs=2 * ATOL)


def test_no_cure_in_data_gives_low_cure_survival() -> None:
    # everyone has an event: the posterior survival at the horizon is small
    rng = np.random.default_rng(3)
    x = rng.exponential(0.5, (2, 40))
    ev = np.ones_like(x, dtype=bool)
    draws = cure_survival_draws(
        np.array([0.0, 1.0]), x, ev, np.zeros(x.shape, dtype=np.int64), np.ones(x.shape, bool),
        np.full((1, 2), 0.5), np.full((1, 2), 1.0), (1.0, 1.0), np.array([1.0, 1.0]),
        iterations=200, burn=50, rng=rng,
    )  # fmt: skip
    assert draws.shape == (2, 1, 200)
    assert draws.mean() < 0.1
