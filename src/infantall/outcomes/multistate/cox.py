"""Transition-specific Cox models and the state occupation they predict.

Matches R ``coxph(Surv(tstart, tstop, state) ~ x1 + x2, id = id)`` on multi-state data:
one coefficient per covariate and transition and a separate baseline hazard per transition
(R's default), so the likelihood factors into one Cox model per transition j -> k on the rows
at risk in j with the event "moved to k" (fitted by :func:`infantall.outcomes.cox_ph`, Efron
ties). Standard errors are the model-based ones (R's ``naive.var``; R's default for
multi-state data is the robust variance clustered on id, not reproduced here).

:meth:`MultiStateCox.cumulative_hazard` is each transition's predicted cumulative hazard for
a covariate profile (R ``survfit(coxph(...), newdata)$cumhaz`` of that transition's model:
Efron-corrected baseline, R's ``ctype = 2``); :meth:`MultiStateCox.predict` combines them by
the Aalen–Johansen product into occupation probabilities (the approach of ``mstate``'s
``msfit`` + ``probtrans``; mstate is not installed here, so only the hazards are checked
against R). Shared baselines (R's ``/ common``) are not implemented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from infantall.errors import InvalidInputError
from infantall.outcomes._json import records
from infantall.outcomes.cox import CoxResult, cox_ph
from infantall.outcomes.multistate.data import MultiStateData

__all__ = ["MultiStateCox", "multistate_cox"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class _Transition:
    name: tuple[str, str]
    fit: CoxResult
    time: FloatArray  # event times of the transition
    base: FloatArray  # baseline hazard increments (x = 0) at those times


def _efron_base(
    t0: FloatArray, t1: FloatArray, event: npt.NDArray[np.bool_], risk: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Baseline hazard increments at the event times, Efron-corrected for ties."""
    times = np.unique(t1[event])
    order0, order1 = np.argsort(t0), np.argsort(t1)
    c0 = np.r_[0.0, np.cumsum(risk[order0])]
    c1 = np.r_[0.0, np.cumsum(risk[order1])]
    entered = c0[np.searchsorted(t0[order0], times, "left")]
    left = c1[np.searchsorted(t1[order1], times, "left")]
    at_risk = entered - left
    tid = np.searchsorted(times, t1[event])
    d = np.bincount(tid, minlength=times.size).astype(np.float64)
    e = np.bincount(tid, weights=risk[event], minlength=times.size)
    base = np.zeros(times.size)
    for m in range(times.size):
        frac = np.arange(d[m]) / d[m]
        base[m] = float((1.0 / (at_risk[m] - frac * e[m])).sum())
    return times, base


#: A log hazard ratio beyond this is taken as infinite (monotone likelihood: R warns "beta
#: may be infinite"); such a transition is reported as not estimable.
MAX_ABS_COEF = 10.0


def _estimable(fit: CoxResult) -> bool:
    var = np.diag(fit.variance)
    return bool(
        fit.converged
        and np.isfinite(fit.coef).all()
        and (np.abs(fit.coef) < MAX_ABS_COEF).all()
        and np.isfinite(var).all()
        and (var > 0).all()
    )


@dataclass(frozen=True, slots=True)
class MultiStateCox:
    """Transition-specific Cox models; ``not_estimable`` lists the transitions without
    events, with collinear/constant covariates, or with an infinite coefficient."""

    states: tuple[str, ...]
    initial: str
    covariates: tuple[str, ...]
    not_estimable: tuple[tuple[str, str], ...]
    _fits: tuple[_Transition, ...]

    @property
    def transitions(self) -> tuple[tuple[str, str], ...]:
        """The transitions with a fitted model."""
        return tuple(t.name for t in self._fits)

    def fit(self, transition: tuple[str, str]) -> CoxResult:
        """The Cox fit of one transition."""
        for t in self._fits:
            if t.name == tuple(transition):
                return t.fit
        raise InvalidInputError("transition", f"{transition} has no fitted model", "no_events")

    @property
    def summary(self) -> pd.DataFrame:
        """One row per transition and covariate: coef, HR, SE, z, p, CI of the HR, events."""
        frames = []
        for t in self._fits:
            s = t.fit.summary.copy()
            s.insert(0, "to", t.name[1])
            s.insert(0, "from", t.name[0])
            s["n_events"] = t.fit.n_events
            frames.append(s)
        return pd.concat(frames, ignore_index=True)

    def cumulative_hazard(
        self, transition: tuple[str, str], profile: Mapping[str, float]
    ) -> pd.DataFrame:
        """Predicted cumulative hazard ``time, cumhaz`` of one transition for a covariate
        profile (R ``survfit(coxph(...), newdata)$cumhaz`` of that transition's model)."""
        x = self._profile(profile)
        for t in self._fits:
            if t.name == tuple(transition):
                return pd.DataFrame(
                    {"time": t.time, "cumhaz": np.cumsum(t.base) * np.exp(x @ t.fit.coef)}
                )
        raise InvalidInputError("transition", f"{transition} has no fitted model", "no_events")

    def _profile(self, profile: Mapping[str, float]) -> FloatArray:
        missing = [c for c in self.covariates if c not in profile]
        if missing:
            raise InvalidInputError("profile", f"no value for {missing}", "missing_covariate")
        return np.array([float(profile[c]) for c in self.covariates])

    def predict(self, profile: Mapping[str, float], times: Sequence[float]) -> pd.DataFrame:
        """Occupation probabilities ``time, state, probability`` for one covariate profile,
        starting in the initial state at time 0 (product integral of the transitions'
        predicted hazards; no standard errors)."""
        x = self._profile(profile)
        grid = np.unique(np.concatenate([t.time for t in self._fits]))
        s = len(self.states)
        haz = np.zeros((grid.size, s, s))
        idx = {n: i for i, n in enumerate(self.states)}
        for t in self._fits:
            j, k = idx[t.name[0]], idx[t.name[1]]
            haz[np.searchsorted(grid, t.time), j, k] = t.base * np.exp(x @ t.fit.coef)
        haz[:, np.arange(s), np.arange(s)] = -haz.sum(axis=2)
        p = np.zeros(s)
        p[idx[self.initial]] = 1.0
        occ = np.empty((grid.size, s))
        for m in range(grid.size):
            p = p + p @ haz[m]
            occ[m] = p
        ts = np.asarray(times, dtype=np.float64)
        pos = np.searchsorted(grid, ts, "right")
        rows = [
            {
                "time": float(t),
                "state": name,
                "probability": float(occ[m - 1, j]) if m else float(name == self.initial),
            }
            for t, m in zip(ts, pos, strict=True)
            for j, name in enumerate(self.states)
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: covariates, the per-transition coefficient table, not-estimable ones."""
        return {
            "covariates": list(self.covariates),
            "coefficients": records(self.summary),
            "not_estimable": [list(t) for t in self.not_estimable],
        }


def multistate_cox(
    data: MultiStateData,
    covariates: Sequence[str],
    *,
    ties: str = "efron",
    conf_level: float = 0.95,
) -> MultiStateCox:
    """Fit one Cox model per transition (covariates and baseline hazard per transition).

    Parameters
    ----------
    data
        Multi-state rows with per-row covariates (:attr:`MultiStateData.covariates`).
    covariates
        Numeric columns of ``data.covariates``.

    Raises
    ------
    InvalidInputError
        ``unknown_column`` for a covariate not in the data; the Cox model's own errors.
    """
    cov = data.covariates
    missing = [c for c in covariates if cov is None or c not in cov.columns]
    if missing or cov is None:
        raise InvalidInputError("covariates", f"not in the data: {missing}", "unknown_column")
    idx = {n: i for i, n in enumerate(data.states)}
    fits: list[_Transition] = []
    skipped: list[tuple[str, str]] = []
    for a, b in data.matrix.transitions:
        rows = data.from_state == idx[a]
        event = data.to_state[rows] == idx[b]
        if not event.any():
            skipped.append((a, b))
            continue
        frame = cov.loc[rows, list(covariates)].reset_index(drop=True)
        frame["_t0"], frame["_t1"] = data.tstart[rows], data.tstop[rows]
        frame["_ev"] = event.astype(np.int64)
        try:
            fit = cox_ph(
                frame,
                "_t1",
                "_ev",
                list(covariates),
                entry="_t0",
                ties=ties,  # type: ignore[arg-type]
                conf_level=conf_level,
                concordance=False,
            )
        except InvalidInputError as exc:
            if exc.code not in ("collinear_covariates", "no_events"):
                raise
            skipped.append((a, b))
            continue
        if not _estimable(fit):
            skipped.append((a, b))
            continue
        x = frame[list(covariates)].to_numpy(dtype=np.float64)
        risk = np.exp(x @ fit.coef)
        times, base = _efron_base(frame["_t0"].to_numpy(), frame["_t1"].to_numpy(), event, risk)
        fits.append(_Transition((a, b), fit, times, base))
    if not fits:
        raise InvalidInputError("data", "no transition has events", "no_events")
    return MultiStateCox(data.states, data.initial, tuple(covariates), tuple(skipped), tuple(fits))
