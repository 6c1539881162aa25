"""Survival analyses from per-node aggregates: the exact pieces of a federated analysis.

A federated node releases sums, never patients; the coordinator adds them up. For the
analyses infant-ALL papers publish, the sums give the pooled answer *exactly*:

* the stratified log-rank test (node as stratum, R ``survdiff(... + strata(node))``) is
  built from each node's observed, expected and hypergeometric variance (:func:`logrank_sums`,
  :func:`logrank_from_sums`);
* a site-stratified Cox model (R ``coxph(Surv(time, status) ~ x + strata(node))``) is fitted
  by distributed Newton–Raphson: at the coordinator's coefficients each node returns its
  log partial likelihood, score and information (:func:`cox_sums`); their sum is the pooled
  stratified likelihood, so :func:`newton_from_sums` takes the same steps as ``cox_ph``;
* Kaplan–Meier and Aalen–Johansen curves on a declared time grid (:class:`TimeGrid`) come
  from the per-grid-point counts (:func:`grid_counts`, :func:`km_from_grid_counts`,
  :func:`cif_from_grid_counts`), equal to the pooled curves on the coarsened times.

Everything here is a pure function of arrays; transport and disclosure control live in
:mod:`infantall.services.federation`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from infantall.errors import InvalidInputError
from infantall.outcomes import _coxcore
from infantall.outcomes._json import json_safe
from infantall.outcomes._validate import OutcomesWarning, as_event, as_time
from infantall.outcomes.competing import CumulativeIncidence, _cif_one
from infantall.outcomes.km import KaplanMeierResult, _from_counts
from infantall.outcomes.logrank import LogRankResult, _chisq, _counts_by_time, _oe_var

__all__ = [
    "CoxSums",
    "FederatedCoxResult",
    "LogRankSums",
    "TimeGrid",
    "cif_from_grid_counts",
    "cox_sums",
    "grid_counts",
    "km_from_grid_counts",
    "logrank_from_sums",
    "logrank_sums",
    "newton_from_sums",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Days in a month and a year (Julian year / 12), the grids the seeds' horizons use.
DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True, slots=True)
class TimeGrid:
    """A declared time grid: points ``width, 2 width, ...`` up to ``horizon`` (days).

    A time is coarsened to the first grid point at or after it (an event on day 40 on a
    monthly grid happens "in month 2", at 60.875 days); follow-up beyond ``horizon`` is
    censored at ``horizon``. Time 0 (induction failure at day 0 by convention) falls in the
    first interval: a separate cell at 0 would often hold one or two patients.
    """

    width: float
    horizon: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.width) and self.width > 0):
            raise InvalidInputError("grid.width", "must be a positive number of days", "bad_grid")
        if not (np.isfinite(self.horizon) and self.horizon >= self.width):
            raise InvalidInputError(
                "grid.horizon", "must be at least one grid width (days)", "bad_grid"
            )

    @property
    def n_points(self) -> int:
        """Number of grid points after 0."""
        return int(np.ceil(self.horizon / self.width - 1e-9))

    @property
    def points(self) -> FloatArray:
        """0 and the grid points (days), the last one being the horizon."""
        pts = np.arange(self.n_points + 1, dtype=np.float64) * self.width
        pts[-1] = min(pts[-1], self.horizon)
        return pts

    def index(self, time: FloatArray) -> IntArray:
        """Grid index of each time (1 for time 0; the last index beyond the horizon)."""
        idx = np.ceil(time / self.width - 1e-9).astype(np.int64)
        return np.clip(idx, 1, self.n_points)

    def coarsen(self, time: Any, status: Any) -> tuple[FloatArray, IntArray]:
        """Coarsened times and statuses (an event after the horizon is censored at it)."""
        t = as_time(time)
        s = np.asarray(status, dtype=np.int64)
        if s.shape != t.shape:
            raise InvalidInputError("status", "must have one value per time", "length_mismatch")
        out = self.points[self.index(t)]
        s = np.where(t > self.horizon, 0, s)
        return out, s

    def to_dict(self) -> dict[str, float]:
        """The grid as JSON."""
        return {"width": self.width, "horizon": self.horizon}


def grid_counts(
    time: Any, status: Any, grid: TimeGrid, *, group: Any = None, groups: Sequence[str] = ()
) -> FloatArray:
    """Subjects leaving follow-up at each grid point by group and status.

    Returns an array ``(n_points + 1, n_groups, n_status)`` where ``n_status`` is at least
    2 (0 censored, 1.. the causes); with ``group`` None there is one group. The number at
    risk at grid point j is the sum of the counts at points >= j.
    """
    t, s = grid.coarsen(time, status)
    if (s < 0).any():
        raise InvalidInputError(
            "status", "codes must be 0 (censored) or 1, 2, ...", "bad_event_code"
        )
    idx = grid.index(t)
    if group is None:
        codes = np.zeros(t.shape[0], dtype=np.int64)
        k = 1
    else:
        g = np.asarray(group, dtype=object)
        lookup = {str(name): i for i, name in enumerate(groups)}
        unknown = sorted({str(v) for v in g} - set(lookup))
        if unknown:
            raise InvalidInputError("group", f"values {unknown} are not declared", "bad_group")
        codes = np.array([lookup[str(v)] for v in g], dtype=np.int64)
        k = len(groups)
    m = max(2, int(s.max()) + 1 if s.size else 2)
    flat = (idx * k + codes) * m + s
    size = (grid.n_points + 1) * k * m
    return np.bincount(flat, minlength=size).astype(np.float64).reshape(-1, k, m)


def km_from_grid_counts(
    counts: FloatArray,
    grid: TimeGrid,
    *,
    label: str = "all",
    conf_type: str = "log-log",
    conf_level: float = 0.95,
) -> KaplanMeierResult:
    """Kaplan–Meier curve (status 1 = event) from summed grid counts ``(n_points + 1, m)``.

    Equals :func:`infantall.outcomes.kaplan_meier` on the coarsened times (R ``survfit``).
    """
    total = counts.sum(axis=1)
    events = counts[:, 1]
    n_risk = np.cumsum(total[::-1])[::-1]
    seen = total > 0
    arrays = (grid.points[seen], n_risk[seen], events[seen], total[seen] - events[seen])
    return _from_counts(arrays, int(total.sum()), conf_type, conf_level, label)


def cif_from_grid_counts(
    counts: FloatArray,
    grid: TimeGrid,
    *,
    cause: int = 1,
    label: str = "all",
    conf_level: float = 0.95,
) -> CumulativeIncidence:
    """Aalen–Johansen cumulative incidence of ``cause`` from summed grid counts.

    Equals :func:`infantall.outcomes.cumulative_incidence` (``cmprsk::cuminc``) on the
    coarsened times, variance included.
    """
    if cause < 1 or cause >= counts.shape[1] or counts[:, cause].sum() == 0:
        raise InvalidInputError("cause", f"{cause} has no events in the counts", "no_events")
    causes = [c for c in range(1, counts.shape[1]) if counts[:, c].sum() > 0]
    ut, rs, per = _cif_one(grid.points, counts, causes)
    f, v = per[cause]
    return CumulativeIncidence(label, cause, ut, f, v, rs, conf_level)


@dataclass(frozen=True, slots=True)
class LogRankSums:
    """One stratum's (node's) contribution to a stratified log-rank test."""

    groups: tuple[str, ...]
    n: FloatArray
    observed: FloatArray
    expected: FloatArray
    variance: FloatArray

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what a node sends)."""
        return {
            "groups": list(self.groups),
            "n": self.n.tolist(),
            "observed": self.observed.tolist(),
            "expected": self.expected.tolist(),
            "variance": self.variance.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogRankSums:
        """Parse what a node sent."""
        return cls(
            tuple(data["groups"]),
            np.asarray(data["n"], dtype=np.float64),
            np.asarray(data["observed"], dtype=np.float64),
            np.asarray(data["expected"], dtype=np.float64),
            np.asarray(data["variance"], dtype=np.float64),
        )


def logrank_sums(time: Any, event: Any, group: Any, groups: Sequence[str]) -> LogRankSums:
    """Observed, expected and variance of one stratum (R ``survdiff``'s per-stratum sums)."""
    t = as_time(time)
    e = as_event(event, t.shape[0])
    lookup = {str(name): i for i, name in enumerate(groups)}
    g = [str(v) for v in np.asarray(group, dtype=object)]
    unknown = sorted(set(g) - set(lookup))
    if unknown:
        raise InvalidInputError("group", f"values {unknown} are not declared", "bad_group")
    codes = np.array([lookup[v] for v in g], dtype=np.int64)
    k = len(groups)
    n = np.bincount(codes, minlength=k).astype(np.float64)
    at_risk, deaths = _counts_by_time(t, e, codes, k)
    if at_risk.shape[0] == 0:
        z = np.zeros(k)
        return LogRankSums(tuple(groups), n, z, z.copy(), np.zeros((k, k)))
    o, ex, v = _oe_var(at_risk, deaths, 0.0)
    return LogRankSums(tuple(groups), n, o, ex, v)


def logrank_from_sums(parts: Sequence[LogRankSums]) -> LogRankResult:
    """The stratified log-rank test (each part a stratum) from the parts' sums."""
    if not parts:
        raise InvalidInputError("nodes", "no node contributed to the test", "no_nodes")
    groups = parts[0].groups
    if any(p.groups != groups for p in parts):
        raise InvalidInputError("groups", "the nodes declared different groups", "bad_group")
    k = len(groups)
    n, obs, exp_, var = np.zeros(k), np.zeros(k), np.zeros(k), np.zeros((k, k))
    for p in parts:
        n += p.n
        obs += p.observed
        exp_ += p.expected
        var += p.variance
    if obs.sum() == 0:
        raise InvalidInputError("event", "there are no events; the test is undefined", "no_events")
    chisq, df = _chisq(obs - exp_, var)
    return LogRankResult(
        groups=groups,
        n=n,
        observed=obs,
        expected=exp_,
        variance=var,
        chisq=chisq,
        df=df,
        p_value=float(stats.chi2.sf(chisq, df)),
        rho=0.0,
        stratified=len(parts) > 1,
    )


@dataclass(frozen=True, slots=True)
class CoxSums:
    """One stratum's log partial likelihood, score and information at a given beta."""

    loglik: float
    score: FloatArray
    information: FloatArray
    n: int
    n_events: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what a node sends)."""
        return {
            "loglik": self.loglik,
            "score": self.score.tolist(),
            "information": self.information.tolist(),
            "n": self.n,
            "n_events": self.n_events,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CoxSums:
        """Parse what a node sent."""
        return cls(
            float(data["loglik"]),
            np.asarray(data["score"], dtype=np.float64),
            np.atleast_2d(np.asarray(data["information"], dtype=np.float64)),
            int(data["n"]),
            int(data["n_events"]),
        )


def cox_sums(x: Any, time: Any, event: Any, beta: Any, *, ties: str = "efron") -> CoxSums:
    """Log partial likelihood, score and information of one stratum at ``beta``.

    The stratum's own centring of ``x`` does not change these (it shifts the linear
    predictor by a constant within the stratum), so the sum over nodes is the pooled
    stratified ``coxph`` likelihood.
    """
    if ties not in ("efron", "breslow"):
        raise InvalidInputError("ties", f"{ties!r}; use 'efron' or 'breslow'", "bad_option")
    stop = as_time(time)
    ev = as_event(event, stop.shape[0]).astype(np.float64)
    xx = np.asarray(x, dtype=np.float64)
    if xx.ndim == 1:
        xx = xx[:, None]
    b = np.asarray(beta, dtype=np.float64).reshape(-1)
    if xx.shape != (stop.shape[0], b.shape[0]) or not np.isfinite(xx).all():
        raise InvalidInputError(
            "covariates", "need one finite value per subject and coefficient", "length_mismatch"
        )
    data = _coxcore.prepare(xx, stop, ev, ties=ties)
    ll, u, info = _coxcore.loglik_score_info(data, b)
    return CoxSums(float(ll), u, info, int(stop.shape[0]), int(ev.sum()))


@dataclass(frozen=True, slots=True)
class FederatedCoxResult:
    """A site-stratified Cox model fitted from node sums (distributed Newton–Raphson)."""

    names: tuple[str, ...]
    coef: FloatArray
    variance: FloatArray
    loglik: tuple[float, float]
    score_test: float
    wald_test: float
    lr_test: float
    n: int
    n_events: int
    n_strata: int
    iterations: int
    converged: bool
    conf_level: float = 0.95

    @property
    def se(self) -> FloatArray:
        """Standard errors of the coefficients."""
        return np.sqrt(np.diag(self.variance))

    @property
    def summary(self) -> pd.DataFrame:
        """coef, HR, SE, z, p and the CI of the HR, one row per covariate (as ``CoxResult``)."""
        return _coxcore.wald_table(self.names, self.coef, self.se, self.conf_level, "hr")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (non-estimable values are None)."""
        out: dict[str, Any] = json_safe(
            {
                "analysis": "federated stratified Cox",
                "coefficients": self.summary.to_dict("records"),
                "loglik": list(self.loglik),
                "score_test": self.score_test,
                "wald_test": self.wald_test,
                "lr_test": self.lr_test,
                "df": len(self.names),
                "n": self.n,
                "n_events": self.n_events,
                "n_strata": self.n_strata,
                "iterations": self.iterations,
                "converged": self.converged,
            }
        )
        return out


_STEP_TOL = 1e-9

Evaluate = Callable[[FloatArray], Sequence[CoxSums]]


def _total(parts: Sequence[CoxSums], p: int) -> tuple[float, FloatArray, FloatArray]:
    ll, u, info = 0.0, np.zeros(p), np.zeros((p, p))
    for part in parts:
        ll += part.loglik
        u = u + part.score
        info = info + part.information
    return ll, u, info


def newton_from_sums(
    evaluate: Evaluate,
    names: Sequence[str],
    *,
    max_iter: int = 50,
    tol: float = 1e-12,
    conf_level: float = 0.95,
) -> FederatedCoxResult:
    """Fit a stratified Cox model by Newton–Raphson on summed node contributions.

    ``evaluate(beta)`` returns every node's :class:`CoxSums` at ``beta``. The iterations
    (step halving, tolerance) are those of :func:`infantall.outcomes.cox_ph`, so the fit
    equals ``cox_ph(..., strata=node)`` on the pooled data to rounding.

    Raises
    ------
    InvalidInputError
        ``no_events`` without events, ``collinear_covariates`` for a singular information.
    """
    p = len(names)
    beta = np.zeros(p)
    parts = evaluate(beta)
    n = sum(x.n for x in parts)
    n_events = sum(x.n_events for x in parts)
    if n_events == 0:
        raise InvalidInputError(
            "event", "there are no events; the model is not estimable", "no_events"
        )
    ll0, u, info = _total(parts, p)
    score = _coxcore.score_statistic(u, info)
    ll = ll0
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        step = np.linalg.solve(info, u)
        new = beta + step
        ll_new, u_new, info_new = _total(evaluate(new), p)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12 * abs(ll)) and halvings < 30:
            step = step / 2.0
            new = beta + step
            ll_new, u_new, info_new = _total(evaluate(new), p)
            halvings += 1
        beta, ll, u, info = new, ll_new, u_new, info_new
        # cox_ph's rule (outcomes._coxcore.fit_newton): a step below 1e-9 ends the iterations
        if np.max(np.abs(step)) < max(_STEP_TOL, tol * max(1.0, float(np.max(np.abs(beta))))):
            converged = True
            break
    var = np.asarray(np.linalg.inv(info), dtype=np.float64)
    if not converged:
        warnings.warn(
            OutcomesWarning("federated Cox fit did not converge", "not_converged"), stacklevel=2
        )
    return FederatedCoxResult(
        names=tuple(names),
        coef=beta,
        variance=var,
        loglik=(ll0, ll),
        score_test=score,
        wald_test=float(beta @ info @ beta),
        lr_test=2.0 * (ll - ll0),
        n=n,
        n_events=n_events,
        n_strata=len(parts),
        iterations=iterations,
        converged=converged,
        conf_level=conf_level,
    )
