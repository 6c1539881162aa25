"""Interim timing: when will a running trial reach its next analyses, with a 90 % interval.

The computing part of the trial's timing prediction: it takes enrolment times (years from
the trial's opening) and returns predicted waits; ``infantall.services.trials.dmc`` gathers
those times from the registry and calls it.

Accrual is modelled as a Poisson process of unknown rate ``lambda`` (patients per year).
After ``n`` patients in ``t`` years, with a vague Gamma(0.001, 0.001) prior, the posterior
is ``lambda ~ Gamma(n + 0.001, t + 0.001)``; the time from now to the ``m``-th further
patient is, given ``lambda``, Gamma(``m``, ``lambda``). Drawing both (posterior predictive)
gives the date of each analysis by patients; the interval is the 5 % and 95 % quantiles.
Interim by events (time to event) is not covered here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from infantall.errors import InvalidInputError

__all__ = ["InterimTiming", "predict_interim_times"]

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

    @property
    def summary(self) -> pd.DataFrame:
        """One row per future analysis."""
        return pd.DataFrame(
            {
                "patients": self.targets,
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
    q = np.quantile(waits, [0.5, (1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
    return InterimTiming(
        targets=tuple(future),
        median=tuple(float(v) for v in q[0]),
        lower=tuple(float(v) for v in q[1]),
        upper=tuple(float(v) for v in q[2]),
        enrolled=n,
        years_observed=float(now_years),
    )
