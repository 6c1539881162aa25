"""State occupation, transition probabilities and time in state (Aalen–Johansen).

Matches R ``survival::survfit(Surv(tstart, tstop, state) ~ 1, id = id)`` for multi-state
data: the Aalen–Johansen occupation probabilities ``pstate``, their infinitesimal-jackknife
standard errors ``std.err`` (rows summed within id), ``conf.type = "log"`` intervals
(capped at 1; none where p = 0), the Nelson–Aalen cumulative transition hazards ``cumhaz``
and, with ``start``/``from_state``, the landmark Aalen–Johansen estimate of ``P(s, t)``
(the patients in ``from_state`` at time ``s``, followed from ``s``: R's ``start.time`` on
that subset). The restricted mean time in state integrates ``pstate`` over ``(s, tau]``
(R's ``rmean``), with an IJ standard error from the same influence (R:
``influence.pstate`` integrated). Written with NumPy because no maintained Python package
fits multi-state models (lifelines#680). See :mod:`._core` for the algorithm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from infantall.errors import InvalidInputError
from infantall.outcomes._json import json_safe, records
from infantall.outcomes.multistate import _core
from infantall.outcomes.multistate.data import MultiStateData

__all__ = ["StateOccupation", "aalen_johansen", "transition_probabilities"]

FloatArray = npt.NDArray[np.float64]


def _log_ci(p: FloatArray, se: FloatArray, z: float) -> tuple[FloatArray, FloatArray]:
    """R's ``conf.type = "log"`` for probabilities: NA at p = 0, upper capped at 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(p > 0, z * se / p, np.nan)
        lower = np.where(p > 0, p * np.exp(-w), np.nan)
        upper = np.where(p > 0, np.minimum(1.0, p * np.exp(w)), np.nan)
    return lower, upper


def _as_times(times: Any, start: float) -> FloatArray:
    arr = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if arr.size == 0 or not np.isfinite(arr).all() or (arr < start).any():
        raise InvalidInputError(
            "times", f"times must be finite numbers >= the start time {start:g}", "bad_horizon"
        )
    return arr


@dataclass(frozen=True, slots=True)
class StateOccupation:
    """Aalen–Johansen occupation probabilities of one fit (all patients or a landmark).

    ``time`` holds the distinct transition times after ``start``; ``probability[m, j]`` is
    P(state j at ``time[m]``). ``times`` are the times of :attr:`summary`.
    """

    states: tuple[str, ...]
    start: float
    from_state: str | None
    n: int
    time: FloatArray
    probability: FloatArray
    n_risk: FloatArray
    times: FloatArray
    conf_level: float
    time_unit: str
    _fit: _core.AJFit = field(repr=False)

    def std_err(self, t: float) -> FloatArray:
        """Infinitesimal-jackknife standard errors of the occupation at ``t`` (one per state)."""
        return _core.std_err_at(self._fit, float(t))

    def at(self, times: Any) -> pd.DataFrame:
        """Long table ``time, state, probability, std_err, lower, upper`` at ``times``."""
        ts = _as_times(times, self.start)
        z = float(stats.norm.ppf(0.5 + self.conf_level / 2))
        frames = []
        for t in ts:
            p = _core.occupation_at(self._fit, float(t))
            se = self.std_err(float(t))
            lo, up = _log_ci(p, se, z)
            frames.append(
                pd.DataFrame(
                    {
                        "time": float(t),
                        "state": list(self.states),
                        "probability": p,
                        "std_err": se,
                        "lower": lo,
                        "upper": up,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    @property
    def summary(self) -> pd.DataFrame:
        """Occupation with standard errors and CIs at :attr:`times`."""
        return self.at(self.times)

    @property
    def cumulative_hazard(self) -> pd.DataFrame:
        """Nelson–Aalen cumulative hazard of each allowed transition (``time, from, to,
        cumhaz``), at every transition time (R's ``cumhaz``)."""
        f = self._fit
        rows = []
        idx = {s: i for i, s in enumerate(self.states)}
        for a, b in f.data.matrix.transitions:
            j, k = idx[a], idx[b]
            with np.errstate(divide="ignore", invalid="ignore"):
                inc = np.where(f.n_risk[:, j] > 0, f.n_event[:, j, k] / f.n_risk[:, j], 0.0)
            rows.append(pd.DataFrame({"time": f.time, "from": a, "to": b, "cumhaz": inc.cumsum()}))
        return pd.concat(rows, ignore_index=True)

    def restricted_mean(self, tau: float) -> pd.DataFrame:
        """Expected time in each state over ``(start, tau]`` with its IJ standard error."""
        tau_v = float(_as_times(tau, self.start)[0])
        est, se = _core.rmts(self._fit, tau_v)
        return pd.DataFrame(
            {"state": list(self.states), "tau": tau_v, "time_in_state": est, "std_err": se}
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: states, start, from_state, n, occupation (long records at ``times``)."""
        return {
            "states": list(self.states),
            "start": json_safe(self.start),
            "from_state": self.from_state,
            "n": self.n,
            "time_unit": self.time_unit,
            "conf_level": self.conf_level,
            "occupation": records(self.summary),
        }

    def print_summary(self) -> None:
        """Print :attr:`summary`."""
        print(self.summary.to_string(index=False))


def _landmark_ids(data: MultiStateData, state: int, s: float) -> npt.NDArray[np.bool_]:
    """Rows of the patients in ``state`` at time ``s`` (tstart <= s < tstop)."""
    here = (data.tstart <= s) & (data.tstop > s) & (data.from_state == state)
    chosen = np.isin(data.id, data.id[here])
    return chosen


def aalen_johansen(
    data: MultiStateData,
    times: Sequence[float] | FloatArray | None = None,
    *,
    start: float = 0.0,
    from_state: str | None = None,
    conf_level: float = 0.95,
) -> StateOccupation:
    """Aalen–Johansen state occupation (R ``survfit`` for multi-state data).

    Parameters
    ----------
    data
        Validated multi-state rows (:func:`~infantall.outcomes.multistate.multistate_data`).
    times
        Times of the ``summary`` table (default: quartiles of the transition times).
    start, from_state
        With ``from_state``, the landmark estimate ``P(from_state, t)`` for t > ``start``
        from the patients in ``from_state`` at ``start``; without it, all patients start in
        the initial state at ``start``.

    Raises
    ------
    InvalidInputError
        ``unknown_state`` for a state not in the model, ``empty_data`` when nobody is in
        ``from_state`` at ``start``, ``bad_horizon`` for bad times.
    """
    if not 0 < conf_level < 1:
        raise InvalidInputError("conf_level", "must be in (0, 1)", "bad_option")
    n_states = len(data.states)
    p0 = np.zeros(n_states)
    if from_state is None:
        sub = data
        p0[data.states.index(data.initial)] = 1.0
    else:
        if from_state not in data.states:
            raise InvalidInputError(
                "from_state", f"{from_state!r} is not one of {data.states}", "unknown_state"
            )
        j = data.states.index(from_state)
        keep = _landmark_ids(data, j, float(start))
        if not keep.any():
            raise InvalidInputError(
                "from_state", f"nobody is in {from_state!r} at time {start:g}", "empty_data"
            )
        sub = data.subset(keep)
        p0[j] = 1.0
    fit = _core.fit(sub, float(start), p0)
    if times is None:
        times = np.quantile(fit.time, [0.25, 0.5, 0.75]) if fit.time.size else [start]
    return StateOccupation(
        data.states,
        float(start),
        from_state,
        fit.n_id,
        fit.time,
        fit.pstate,
        fit.n_risk,
        _as_times(times, float(start)),
        conf_level,
        data.time_unit,
        fit,
    )


def transition_probabilities(
    data: MultiStateData,
    from_state: str,
    start: float,
    times: Sequence[float] | FloatArray | None = None,
    *,
    conf_level: float = 0.95,
) -> StateOccupation:
    """``P(from_state, start; state, t)``: landmark Aalen–Johansen from a state and time."""
    return aalen_johansen(data, times, start=start, from_state=from_state, conf_level=conf_level)
