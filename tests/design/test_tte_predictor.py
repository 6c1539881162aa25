"""The MRD link model and multiple imputation: interval statistics against the reference
implementation, and imputed follow-up that recovers the true EFS distribution."""

from __future__ import annotations

import numpy as np
import pytest

from infantall.design.adaptive.tte.predictor import (
    NEG,
    POS,
    UNKNOWN,
    complete_follow_up,
    draw_link,
    interval_stats,
)
from infantall.design.tte_posterior import exposure_by_interval

CUTS = np.array([0.0, 0.25, 0.5, 1.0, 2.0])
H_NEG = np.array([0.5, 0.2, 0.15, 0.1, 0.03])
H_POS = np.array([0.5, 1.4, 1.1, 0.6, 0.15])
P_NEG = 0.45
DAY_INDEX = 1  # the MRD day is 0.25, the second interval start
HORIZON = 2.0


def _surv(h: np.ndarray, t: float) -> float:
    w = np.clip(np.minimum(t, np.append(CUTS[1:], np.inf)) - CUTS, 0.0, None)
    return float(np.exp(-(w * h).sum()))


def _true_efs(t: float) -> float:
    return P_NEG * _surv(H_NEG, t) + (1 - P_NEG) * _surv(H_POS, t)


def _times(h: np.ndarray, unit: np.ndarray) -> np.ndarray:
    cum = np.concatenate([[0.0], np.cumsum(h[:-1] * np.diff(CUTS))])
    piece = np.searchsorted(cum, unit, side="right") - 1
    return CUTS[piece] + (unit - cum[piece]) / h[piece]


def test_interval_stats_match_reference() -> None:
    rng = np.random.default_rng(5)
    x = rng.exponential(1.0, (3, 40))
    ev = rng.random((3, 40)) < 0.6
    idx = rng.integers(0, 2, (3, 40))
    include = rng.random((3, 40)) < 0.8
    d, e = interval_stats(CUTS, x, ev, idx, include, 2)
    for b in range(3):
        for g in range(2):
            keep = include[b] & (idx[b] == g)
            rd, re = exposure_by_interval(x[b, keep], ev[b, keep].astype(int), CUTS)
            np.testing.assert_allclose(d[b, g], rd)
            np.testing.assert_allclose(e[b, g], re, atol=1e-12)


def _interim(n_trials: int, n: int, rng: np.random.Generator):
    """Staggered entry over 2 years, analysis at 2 years: many patients lack follow-up."""
    entry = np.sort(rng.uniform(0.0, 2.0, (n_trials, n)), axis=1)
    neg = rng.random((n_trials, n)) < P_NEG
    unit = rng.standard_exponential((n_trials, n))
    t = np.where(neg, _times(H_NEG, unit), _times(H_POS, unit))
    follow = 2.0 - entry
    x = np.minimum(t, follow)
    ev = t <= follow
    known = (follow >= CUTS[DAY_INDEX]) & (t > CUTS[DAY_INDEX])
    status = np.where(known, np.where(neg, NEG, POS), UNKNOWN).astype(np.int64)
    return follow, x, ev, status


@pytest.mark.parametrize("with_predictor", [True, False])
def test_imputation_recovers_true_efs(with_predictor: bool) -> None:
    rng = np.random.default_rng(2024)
    n_trials, n, m = 400, 120, 4
    follow, x, ev, status = _interim(n_trials, n, rng)
    group = np.zeros_like(status)
    include = np.ones_like(ev)
    d, e = interval_stats(CUTS, x, ev, group * 3 + status, include, 3)
    d, e = d.reshape(n_trials, 1, 3, -1), e.reshape(n_trials, 1, 3, -1)
    prior_shape, prior_rate = np.full((1, CUTS.size), 0.1), np.full((1, CUTS.size), 0.1)
    if with_predictor:
        counts = [(status == s).sum(axis=1, keepdims=True).astype(float) for s in (NEG, POS)]
        link = draw_link(d, e, prior_shape, prior_rate, DAY_INDEX, (counts[0], counts[1]), m, rng)
    else:
        link = draw_link(d, e, prior_shape, prior_rate, None, None, m, rng)
        status = np.full_like(status, NEG)
    cens = np.full(x.shape, HORIZON)
    cd, _ce = complete_follow_up(CUTS, follow, x, ev, status, group, include, cens, link, rng)
    for t, last in ((1.0, 3), (HORIZON, 4)):
        s_hat = 1.0 - cd[:, :, 0, :last].sum(axis=2) / n  # (trials, imputations)
        per_trial = s_hat.mean(axis=1)
        se = per_trial.std(ddof=1) / np.sqrt(n_trials)
        # bias within 3 Monte-Carlo standard errors (about 0.004 here)
        assert abs(per_trial.mean() - _true_efs(t)) < 3 * se
    # the naive completion (censored = event-free at the horizon) is far off: the test can fail
    naive = 1.0 - (ev & (x <= HORIZON)).sum(axis=1) / n
    assert naive.mean() - _true_efs(HORIZON) > 10 * se


def test_link_draws_pool_before_the_day() -> None:
    rng = np.random.default_rng(1)
    d = np.zeros((2, 1, 3, CUTS.size))
    e = np.ones((2, 1, 3, CUTS.size))
    d[:, :, NEG, 2], d[:, :, POS, 2] = 1.0, 50.0
    link = draw_link(
        d, e, np.full((1, 5), 1.0), np.full((1, 5), 1.0), DAY_INDEX,
        (np.full((2, 1), 30.0), np.full((2, 1), 10.0)), 2000, rng,
    )  # fmt: skip
    assert link.hazards.shape == (2, 2000, 1, 2, CUTS.size)
    # before the day one pooled hazard per draw; after it the statuses differ
    np.testing.assert_array_equal(link.hazards[..., 0, 0], link.hazards[..., 1, 0])
    assert link.hazards[..., POS, 2].mean() > 10 * link.hazards[..., NEG, 2].mean()
    assert link.p_negative.mean() == pytest.approx(31 / 42, abs=0.01)
    assert link.head(3).hazards.shape[1] == 3
