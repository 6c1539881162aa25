"""Calibration of the superiority threshold to a target type-I error, by simulation.

Follows adaptr's ``calibrate_trial`` (Granholm et al. 2022): see :func:`calibrate_superiority`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.runner import run_scenarios
from infantall.errors import InvalidInputError

__all__ = ["Calibration", "calibrate_scenarios", "calibrate_superiority"]


@dataclass(frozen=True, slots=True)
class Calibration:
    """Superiority threshold giving the target type-I error under the null scenario.

    ``type1_error`` is the rate the threshold gives on the calibration run itself (at most
    the target); ``mcse`` its Monte-Carlo standard error.
    """

    target: float
    threshold: float
    type1_error: float
    mcse: float
    n_trials: int
    seed: int


def calibrate_superiority(
    spec: TrialSpec,
    target: float = 0.05,
    n_trials: int = 10_000,
    seed: int = 0,
    **run_options: Any,
) -> Calibration:
    """Calibrate the superiority threshold to a target type-I error by simulation.

    The null scenario (every arm as control) is simulated once with superiority stopping
    switched off. Nothing else in a trial depends on that threshold (allocation, futility and
    equivalence use other probabilities), so trial ``i`` declares superiority at threshold
    ``t`` exactly when its running maximum ``M_i`` of P(experimental arm better than control)
    exceeds ``t`` before another rule stops it. The type-I error is then
    ``mean(M_i > t)`` for every ``t`` at once, and the threshold is the smallest ``t`` with
    ``mean(M_i > t) <= target`` (with the same seed, rerunning at it reproduces that rate
    exactly). adaptr's ``calibrate_trial`` reaches the same end by Gaussian-process search.
    """
    return calibrate_scenarios([spec], target, n_trials, seed, **run_options)[0]


def calibrate_scenarios(
    specs: Sequence[TrialSpec],
    target: float = 0.05,
    n_trials: int = 10_000,
    seed: int = 0,
    **run_options: Any,
) -> list[Calibration]:
    """:func:`calibrate_superiority` for each of ``specs``, simulated in one run.

    The null scenarios of all designs go to :func:`~infantall.design.adaptive.runner.run_scenarios`
    together (on Dask: every block of every scenario submitted at once, so the workers stay
    busy until the last one), each with ``seed``; calibration ``j`` is the same as
    ``calibrate_superiority(specs[j], target, n_trials, seed)``. This is the path for a
    calibration of many scenarios (``10**6`` trials each) on a cluster.
    """
    if not 0.0 < target < 0.5:
        raise InvalidInputError("target", "must be strictly between 0 and 0.5", "out_of_range")
    nulls = [spec.with_null().with_threshold(2.0) for spec in specs]
    return [
        _threshold(res.outcomes.max_better, target, n_trials, seed)
        for res in run_scenarios(nulls, n_trials, seed, **run_options)
    ]


def _threshold(
    max_better: np.ndarray[Any, np.dtype[np.float64]], target: float, n_trials: int, seed: int
) -> Calibration:
    """The smallest threshold whose type-I error on these trials is at most ``target``."""
    m = np.sort(max_better)[::-1]
    k = int(np.floor(target * n_trials))
    threshold = float(m[k]) if k < m.size else 0.0
    rate = float(np.mean(max_better > threshold))
    return Calibration(
        target=target,
        threshold=threshold,
        type1_error=rate,
        mcse=float(np.sqrt(rate * (1 - rate) / n_trials)),
        n_trials=n_trials,
        seed=seed,
    )
