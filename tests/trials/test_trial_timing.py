"""Interim timing prediction: 90 % intervals cover the realised dates in 85-95 % of trials."""

from __future__ import annotations

import numpy as np
import pytest

from infantall.design.trial_timing import predict_event_times, predict_interim_times
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


EVENT_TRIALS = 300  # binomial sd of coverage at 0.90: sqrt(0.09 / 300) = 0.017


@pytest.mark.parametrize(("rate", "hazard"), [(60.0, 0.3), (100.0, 0.15)])
def test_event_interval_coverage_by_simulation(rate: float, hazard: float) -> None:
    """Synthetic trials (Poisson accrual, exponential events, 300 patients): predict at
    2.5 years the dates of the 60th, 100th and 140th events; compare with the truth.

    Measured in a separate run of the same simulation (seeds 1 and 2): coverage 0.88-0.89
    (60/y, hazard 0.3) and 0.92-0.93 (100/y, hazard 0.15).
    """
    rng = np.random.default_rng(int(rate))
    targets, most, now = (60, 100, 140), 300, 2.5
    hits = np.zeros(len(targets))
    seen = np.zeros(len(targets))
    for _ in range(EVENT_TRIALS):
        entry = np.cumsum(rng.exponential(1.0 / rate, size=most))
        t = rng.exponential(1.0 / hazard, size=most)
        event_dates = np.sort(entry + t)
        on = entry <= now
        e, tt = entry[on], t[on]
        pred = predict_event_times(
            e,
            np.minimum(tt, now - e),
            (e + tt <= now).astype(int),
            now,
            targets,
            rng,
            max_patients=most,
            draws=1000,
        )
        for j, target in enumerate(pred.targets):
            k = targets.index(target)
            truth = event_dates[target - 1] - now
            seen[k] += 1
            hits[k] += pred.lower[j] <= truth <= pred.upper[j]
    coverage = hits / seen
    assert (seen > EVENT_TRIALS * 0.9).all()
    assert ((coverage >= 0.85) & (coverage <= 0.95)).all(), coverage


def test_event_prediction_drops_reached_targets_and_names_errors() -> None:
    rng = np.random.default_rng(2)
    entry = [0.1, 0.2, 0.3, 0.4]
    pred = predict_event_times(entry, [0.3, 0.1, 0.2, 0.1], [1, 1, 0, 0], 0.5, [1, 3], rng,
                               max_patients=20)  # fmt: skip
    assert pred.targets == (3,) and pred.counts == "events"
    assert pred.lower[0] < pred.median[0] < pred.upper[0]
    assert pred.summary.columns[0] == "events"
    with pytest.raises(InvalidInputError, match="targets"):
        predict_event_times(entry, [0.1] * 4, [0] * 4, 0.5, [30], rng, max_patients=20)
    with pytest.raises(InvalidInputError, match="follow_years"):
        predict_event_times(entry, [0.1], [0] * 4, 0.5, [3], rng, max_patients=20)
