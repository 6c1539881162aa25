"""Interim timing prediction: 90 % intervals cover the realised dates in 85-95 % of trials."""

from __future__ import annotations

import numpy as np
import pytest

from infantall.design.trial_timing import predict_interim_times
from infantall.errors import InvalidInputError

TRIALS = 400  # binomial sd of coverage at 0.90: sqrt(0.09 / 400) = 0.015


@pytest.mark.parametrize("rate", [20.0, 45.0])
def test_interval_coverage_by_simulation(rate: float) -> None:
    """Synthetic trials with Poisson accrual: predict at 1 year, compare to the truth."""
    rng = np.random.default_rng(int(rate))
    targets = (100, 160, 220)
    hits = np.zeros(len(targets))
    for _ in range(TRIALS):
        entries = np.cumsum(rng.exponential(1.0 / rate, size=400))
        now = 1.0
        seen = entries[entries <= now]
        pred = predict_interim_times(seen, now, targets, rng, draws=2000)
        truth = entries[np.asarray(pred.targets) - 1] - now
        hits += (np.asarray(pred.lower) <= truth) & (truth <= np.asarray(pred.upper))
    coverage = hits / TRIALS
    assert ((coverage >= 0.85) & (coverage <= 0.95)).all(), coverage


def test_reached_targets_are_dropped_and_errors_named() -> None:
    rng = np.random.default_rng(1)
    pred = predict_interim_times([0.1, 0.2, 0.3], 0.5, [2, 10], rng)
    assert pred.targets == (10,)
    assert pred.lower[0] < pred.median[0] < pred.upper[0]
    assert list(pred.summary.columns) == ["patients", "median_years", "lower_90", "upper_90"]
    with pytest.raises(InvalidInputError, match="entry_years"):
        predict_interim_times([0.6], 0.5, [10], rng)
