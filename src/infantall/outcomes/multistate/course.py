"""The questions the report and the CLI ask of a multi-state model.

:func:`multistate_analysis` — occupation at requested times with IJ standard errors, the
transition counts and (optionally) the restricted mean time in each state: what
``infantall analyze multistate`` prints. :func:`disease_course` — the infant-ALL course of a
cohort from its histories, with the HSCT question through states: from each landmark time,
the probability of being alive and relapse-free ``horizon`` years later for patients in CR1
without a transplant versus patients transplanted in CR1 (landmark Aalen–Johansen, which
removes the immortal time a naive comparison has; still confounded by indication, so shown
as a contrast, not an effect).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from infantall.domain import PatientHistory
from infantall.errors import InvalidInputError
from infantall.outcomes._json import json_safe, records
from infantall.outcomes.multistate import _core
from infantall.outcomes.multistate.aalen_johansen import (
    StateOccupation,
    aalen_johansen,
    transition_probabilities,
)
from infantall.outcomes.multistate.data import MultiStateData
from infantall.outcomes.multistate.infant import infant_all_data

__all__ = ["DiseaseCourse", "MultiStateAnalysis", "disease_course", "multistate_analysis"]

#: States counted as "alive in first remission, relapse-free" from CR1 or HSCT in CR1.
RELAPSE_FREE = ("CR1", "HSCT in CR1")


@dataclass(frozen=True, slots=True)
class MultiStateAnalysis:
    """Occupation at ``times`` (with SE and CI), transitions, time in state."""

    data: MultiStateData
    occupation: StateOccupation
    tau: float | None

    @property
    def summary(self) -> pd.DataFrame:
        """Long table ``time, state, probability, std_err, lower, upper``."""
        return self.occupation.summary

    @property
    def transitions(self) -> pd.DataFrame:
        """Allowed transitions with the number observed (``from, to, n``)."""
        return self.data.summary

    @property
    def time_in_state(self) -> pd.DataFrame | None:
        """Restricted mean time in each state up to ``tau`` with its SE (None without tau)."""
        return None if self.tau is None else self.occupation.restricted_mean(self.tau)

    def to_dict(self) -> dict[str, Any]:
        """The CLI contract: ``states``, ``occupation`` (``time, state, probability,
        std_err, lower, upper``), ``transitions`` (``from, to, n``), ``time_in_state``."""
        tis = self.time_in_state
        return {
            "states": list(self.data.states),
            "initial": self.data.initial,
            "time_unit": self.data.time_unit,
            "n_patients": self.data.n_ids,
            "n_rows": int(self.data.id.shape[0]),
            "conf_level": self.occupation.conf_level,
            "occupation": records(self.summary),
            "transitions": records(self.transitions),
            "censored": int((self.data.to_state < 0).sum()),
            "time_in_state": None if tis is None else records(tis),
        }


def multistate_analysis(
    data: MultiStateData,
    times: Sequence[float],
    *,
    tau: float | None = None,
    conf_level: float = 0.95,
) -> MultiStateAnalysis:
    """Aalen–Johansen occupation of every state at ``times`` from the initial state."""
    occ = aalen_johansen(data, times, conf_level=conf_level)
    if tau is not None and not (np.isfinite(tau) and tau > 0):
        raise InvalidInputError("tau", f"{tau} is not a positive time", "bad_horizon")
    return MultiStateAnalysis(data, occ, tau)


@dataclass(frozen=True, slots=True)
class DiseaseCourse:
    """The infant-ALL course of a cohort: occupation over time and the HSCT contrast.

    ``hsct`` has one row per landmark and starting state (``CR1`` without transplant,
    ``HSCT in CR1``): n in the state at the landmark, the probability of being alive and
    relapse-free ``horizon`` years later (in CR1 or HSCT in CR1), SE and log CI; rows with
    fewer than ``min_n`` patients are not estimated (probability None).
    """

    analysis: MultiStateAnalysis
    curve_time: np.ndarray
    curve: np.ndarray
    hsct: pd.DataFrame
    horizon: float

    @property
    def summary(self) -> pd.DataFrame:
        """Occupation at the requested times."""
        return self.analysis.summary

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the analysis and the HSCT landmark contrast."""
        return {
            **self.analysis.to_dict(),
            "horizon": self.horizon,
            "hsct_landmarks": records(self.hsct),
        }


def _relapse_free(
    data: MultiStateData, state: str, s: float, horizon: float, z: float, min_n: int
) -> dict[str, object]:
    here = (data.tstart <= s) & (data.tstop > s) & (data.from_state == data.states.index(state))
    n = int(pd.unique(data.id[here]).shape[0])
    row: dict[str, object] = {"landmark": s, "from_state": state, "n": n}
    if n < min_n:
        return {**row, "probability": None, "std_err": None, "lower": None, "upper": None}
    res = transition_probabilities(data, state, s, [s + horizon])
    comb = np.array([[1.0] if st in RELAPSE_FREE else [0.0] for st in data.states])
    p = float(_core.occupation_at(res._fit, s + horizon) @ comb[:, 0])
    se = float(_core.std_err_at(res._fit, s + horizon, comb)[0])
    lo = p * np.exp(-z * se / p) if p > 0 else None
    up = min(1.0, p * np.exp(z * se / p)) if p > 0 else None
    return {**row, "probability": p, "std_err": se, "lower": lo, "upper": up}


def disease_course(
    histories: Iterable[PatientHistory] | MultiStateData,
    *,
    times: Sequence[float] = (1.0, 2.0, 5.0),
    landmarks: Sequence[float] = (0.5, 1.0),
    horizon: float = 2.0,
    tau: float = 5.0,
    min_n: int = 10,
    conf_level: float = 0.95,
) -> DiseaseCourse:
    """The infant-ALL disease course (years from diagnosis) and the HSCT landmark contrast.

    Raises
    ------
    InvalidInputError
        From the data (no patients or no follow-up) and for bad times.
    """
    data = histories if isinstance(histories, MultiStateData) else infant_all_data(histories)
    analysis = multistate_analysis(data, times, tau=tau, conf_level=conf_level)
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    rows = [
        _relapse_free(data, state, float(s), horizon, z, min_n)
        for s in landmarks
        for state in RELAPSE_FREE
        if state in data.states
    ]
    occ = analysis.occupation
    return DiseaseCourse(
        analysis,
        np.r_[occ.start, occ.time],
        np.vstack([occ._fit.p0[None, :], occ.probability]),
        pd.DataFrame(json_safe(rows)),
        horizon,
    )
