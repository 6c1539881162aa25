"""Interim timing: when will a running trial reach its next analyses, with a 90 % interval.

The computing part of the trial's timing prediction: it takes enrolment times (years from
the trial's opening) and returns predicted waits; ``infantall.services.trials.dmc`` gathers
those times from the registry and calls it.

Accrual is modelled as a Poisson process of unknown rate ``lambda`` (patients per year).
After ``n`` patients in ``t`` years, with a vague Gamma(0.001, 0.001) prior, the posterior
is ``lambda ~ Gamma(n + 0.001, t + 0.001)``; the time from now to the ``m``-th further
patient is, given ``lambda``, Gamma(``m``, ``lambda``). Drawing both (posterior predictive)
gives the date of each analysis by patients; the interval is the 5 % and 95 % quantiles.

Analyses by events (:func:`predict_event_times`): events follow an exponential time to
event from entry with unknown hazard ``h``; after ``d`` events in ``E`` person-years the
posterior is ``h ~ Gamma(d + 0.001, E + 0.001)``. Each draw of ``(lambda, h)`` simulates
the patients still at risk (their remaining time is exponential: no memory) and the future
patients up to ``max_patients``; the date of the ``m``-th event is read off the draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from infantall.errors import InvalidInputError

__all__ = ["InterimTiming", "predict_event_times", "predict_interim_times"]

PRIOR = 0.001
LEVEL = 0.90


@dataclass(frozen=True, slots=True)
class InterimTiming:
    """Predicted years from now to each future analysis (median and 90 % interval)."""

    targets: tuple[int, ...]
    median: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    enrolled: int
    years_observed: float
    counts: str = "patients"

    @property
    def summary(self) -> pd.DataFrame:
        """One row per future analysis."""
        return pd.DataFrame(
            {
                self.counts: self.targets,
                "median_years": self.median,
                "lower_90": self.lower,
                "upper_90": self.upper,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "enrolled": self.enrolled,
            "years_observed": self.years_observed,
            "counts": self.counts,
            "level": LEVEL,
            "analyses": self.summary.to_dict(orient="records"),
        }


def predict_interim_times(
    entry_years: Sequence[float] | NDArray[np.float64],
    now_years: float,
    targets: Sequence[int],
    rng: np.random.Generator,
    *,
    draws: int = 4000,
) -> InterimTiming:
    """Predict years from ``now_years`` until enrolment reaches each of ``targets``.

    ``entry_years`` are the enrolment times so far (years from the trial's opening).
    Targets already reached are dropped.
    """
    entries = np.asarray(entry_years, dtype=float)
    if now_years <= 0 or (entries > now_years).any() or (entries < 0).any():
        raise InvalidInputError(
            "entry_years", "enrolment times in [0, now_years], now_years > 0", "bad_entry_times"
        )
    n = entries.size
    future = sorted(int(t) for t in targets if int(t) > n)
    if not future:
        return InterimTiming((), (), (), (), n, float(now_years))
    rate = rng.gamma(n + PRIOR, 1.0 / (now_years + PRIOR), size=draws)
    gaps = rng.exponential(1.0, size=(draws, future[-1] - n)) / rate[:, None]
    waits = np.cumsum(gaps, axis=1)[:, [t - n - 1 for t in future]]
    return _timing(future, waits, n, now_years, "patients")


def _timing(
    future: Sequence[int], waits: NDArray[np.float64], n: int, now_years: float, counts: str
) -> InterimTiming:
    """The median and the :data:`LEVEL` interval of each target's simulated waiting time."""
    q = np.quantile(waits, [0.5, (1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
    return InterimTiming(
        targets=tuple(future),
        median=tuple(float(v) for v in q[0]),
        lower=tuple(float(v) for v in q[1]),
        upper=tuple(float(v) for v in q[2]),
        enrolled=n,
        years_observed=float(now_years),
        counts=counts,
    )


def predict_event_times(
    entry_years: Sequence[float] | NDArray[np.float64],
    follow_years: Sequence[float] | NDArray[np.float64],
    events: Sequence[int] | NDArray[np.int64],
    now_years: float,
    targets: Sequence[int],
    rng: np.random.Generator,
    *,
    max_patients: int,
    draws: int = 2000,
) -> InterimTiming:
    """Predict years from ``now_years`` until the trial has seen each of ``targets`` events.

    Per enrolled patient: ``entry_years`` (from the trial's opening), ``follow_years`` (time
    from entry to the event or to now) and ``events`` (1 event, 0 still at risk).
    Enrolment goes on until ``max_patients``. Targets already reached are dropped; a target
    above ``max_patients`` cannot be reached and is refused.
    """
    entries = np.asarray(entry_years, dtype=float)
    follow = np.asarray(follow_years, dtype=float)
    ev = np.asarray(events, dtype=np.int64)
    if now_years <= 0 or (entries > now_years).any() or (entries < 0).any():
        raise InvalidInputError(
            "entry_years", "enrolment times in [0, now_years], now_years > 0", "bad_entry_times"
        )
    if follow.shape != entries.shape or ev.shape != entries.shape or (follow < 0).any():
        raise InvalidInputError(
            "follow_years", "one non-negative follow-up and event flag per patient", "inconsistent"
        )
    n, d = entries.size, int(ev.sum())
    future = sorted(int(t) for t in targets if int(t) > d)
    if future and future[-1] > max_patients:
        raise InvalidInputError(
            "targets", f"at most max_patients ({max_patients}) events", "unreachable_events"
        )
    if not future:
        return InterimTiming((), (), (), (), n, float(now_years), "events")
    rate = rng.gamma(n + PRIOR, 1.0 / (now_years + PRIOR), size=draws)
    hazard = rng.gamma(d + PRIOR, 1.0 / (follow.sum() + PRIOR), size=draws)
    n_future = max(int(max_patients) - n, 0)
    arrivals = np.cumsum(rng.exponential(1.0, size=(draws, n_future)), axis=1) / rate[:, None]
    at_risk = n - d
    times = np.concatenate(
        [
            rng.exponential(1.0, size=(draws, at_risk)) / hazard[:, None],
            arrivals + rng.exponential(1.0, size=(draws, n_future)) / hazard[:, None],
        ],
        axis=1,
    )
    times.sort(axis=1)
    waits = times[:, [t - d - 1 for t in future]]
    return _timing(future, waits, n, now_years, "events")
