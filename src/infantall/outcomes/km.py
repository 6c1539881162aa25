"""Kaplan–Meier estimation with Greenwood variance, R's CI types, medians and RMST.

Reproduces R ``survival::survfit`` (``conf.type`` ``"log-log"``, ``"log"``, ``"plain"``),
``summary(fit, times=)``, the median with its CI of ``print.survfit`` and the restricted mean
with ``se(rmean)`` of ``print(fit, rmean=tau)``; checked against values R printed
(``tests/outcomes/reference``).

Written with NumPy rather than taken from lifelines or statsmodels: their survival and
Greenwood SE agree with R, but lifelines has no ``log`` CI and a wrong RMST variance
(lifelines#1682), statsmodels has no pointwise CI, and a sort + cumulative-sum kernel is
several times faster on a million patients (``benchmarks/bench_outcomes.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from infantall.errors import InvalidInputError
from infantall.outcomes._tabulate import tabulate
from infantall.outcomes._validate import (
    as_entry,
    as_event,
    as_groups,
    as_time,
    warn_counts,
    warn_groups,
)

__all__ = [
    "ConfType",
    "KaplanMeierResult",
    "RMSTResult",
    "SurvivalCurves",
    "kaplan_meier",
    "kaplan_meier_by_group",
    "loglog_ci",
]

FloatArray = npt.NDArray[np.float64]
ConfType = Literal["log-log", "log", "plain"]
_CONF_TYPES = ("log-log", "log", "plain")
# R's quantile.survfit treats survival within sqrt(machine epsilon) of 0.5 as equal to it.
_QUANTILE_TOL = float(np.sqrt(np.finfo(np.float64).eps))


def _z(conf_level: float) -> float:
    if not 0.0 < conf_level < 1.0:
        raise InvalidInputError("conf_level", "must be between 0 and 1", "bad_option")
    return float(stats.norm.ppf(0.5 + conf_level / 2.0))


def loglog_ci(
    surv: FloatArray, se_cumhaz: FloatArray, z: float, conf_type: str
) -> tuple[FloatArray, FloatArray]:
    """Pointwise CI of a survival probability from the SE of the cumulative hazard.

    Same formulas as R ``survival:::survfit_confint`` (``se`` there is the standard error of
    the cumulative hazard, ``std.err`` of a survfit object).
    """
    if conf_type not in _CONF_TYPES:
        raise InvalidInputError(
            "conf_type", f"{conf_type!r}; use one of {_CONF_TYPES}", "bad_conf_type"
        )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log-log":
            ok = (surv > 0) & (surv < 1)
            xx = np.where(ok, surv, 0.5)
            t1 = np.log(-np.log(xx))
            t2 = z * se_cumhaz / np.log(xx)
            lower = np.where(ok, np.exp(-np.exp(t1 - t2)), np.nan)
            upper = np.where(ok, np.exp(-np.exp(t1 + t2)), np.nan)
        elif conf_type == "log":
            ok = surv > 0
            xx = np.where(ok, surv, 1.0)
            lower = np.where(ok, np.exp(np.log(xx) - z * se_cumhaz), np.nan)
            upper = np.where(ok, np.minimum(np.exp(np.log(xx) + z * se_cumhaz), 1.0), np.nan)
        else:
            half = z * se_cumhaz * surv
            lower = np.maximum(surv - half, 0.0)
            upper = np.minimum(surv + half, 1.0)
    return lower, upper


@dataclass(frozen=True, slots=True)
class RMSTResult:
    """Restricted mean survival time up to ``tau`` with its standard error and CI.

    The variance is that of the estimate, sum over event times t_j < tau of
    A_j^2 d_j / (n_j (n_j - d_j)), A_j the area under the curve from t_j to tau
    (Klein & Moeschberger 2003, §4.5), as R ``print.survfit(rmean=)`` reports; not the
    variance of min(T, tau) that lifelines returns.
    """

    tau: float
    estimate: float
    se: float
    lower: float
    upper: float
    label: str = "all"

    @property
    def summary(self) -> pd.DataFrame:
        """One-row table: tau, RMST, SE and CI."""
        return pd.DataFrame([self.as_dict()])

    def print_summary(self) -> None:
        """Print the estimate with its CI."""
        print(
            f"RMST to {self.tau:g} ({self.label}): {self.estimate:.4g} "
            f"(SE {self.se:.4g}; 95% CI {self.lower:.4g}-{self.upper:.4g})"
        )

    def as_dict(self) -> dict[str, float | str]:
        """Flat record for tables and JSON."""
        return {
            "group": self.label,
            "tau": self.tau,
            "rmst": self.estimate,
            "se": self.se,
            "lower": self.lower,
            "upper": self.upper,
        }


@dataclass(frozen=True, slots=True)
class KaplanMeierResult:
    """A Kaplan–Meier curve at its distinct observed times.

    Attributes
    ----------
    time, n_risk, n_event, n_censor
        Distinct times (events and censorings) and the counts at each.
    survival
        S(t) just after each time (right-continuous).
    se_cumhaz
        Greenwood standard error of the cumulative hazard (R's ``fit$std.err``).
    std_err
        Standard error of S(t) (R's ``summary(fit)$std.err``) = S * se_cumhaz.
    lower, upper
        Pointwise CI of type ``conf_type`` at ``conf_level``.
    """

    label: str
    time: FloatArray
    n_risk: FloatArray
    n_event: FloatArray
    n_censor: FloatArray
    survival: FloatArray
    se_cumhaz: FloatArray
    std_err: FloatArray
    lower: FloatArray
    upper: FloatArray
    conf_type: str
    conf_level: float
    n: int

    @property
    def summary(self) -> pd.DataFrame:
        """One row per distinct time, the columns of R ``summary(survfit, censored=TRUE)``."""
        return pd.DataFrame(
            {
                "time": self.time,
                "n_risk": self.n_risk,
                "n_event": self.n_event,
                "n_censor": self.n_censor,
                "survival": self.survival,
                "std_err": self.std_err,
                "lower": self.lower,
                "upper": self.upper,
            }
        )

    @property
    def n_events(self) -> int:
        """Total number of events."""
        return int(self.n_event.sum())

    def at(self, horizons: Any) -> pd.DataFrame:
        """Survival at given times with SE, CI and number at risk (R ``summary(fit, times=)``).

        This is the "5-year EFS 46.1% (SE 2.6)" papers print. Beyond the last observed time
        the curve is carried forward and the number at risk is 0; before the first observed
        time the survival is 1 with SE 0 and CI (1, 1), as in R.
        """
        h = np.atleast_1d(np.asarray(horizons, dtype=np.float64))
        if np.isnan(h).any() or (h < 0).any():
            raise InvalidInputError("horizon", "horizons must be numbers >= 0", "bad_horizon")
        idx = np.searchsorted(self.time, h, side="right") - 1
        first = idx < 0
        j = np.maximum(idx, 0)
        surv = np.where(first, 1.0, self.survival[j])
        se = np.where(first, 0.0, self.std_err[j])
        # before the first observed time S = 1 with CI (1, 1), as R summary(fit, times=)
        lo = np.where(first, 1.0, self.lower[j])
        hi = np.where(first, 1.0, self.upper[j])
        # number at risk at t = number still under observation at t: first time >= t
        k = np.searchsorted(self.time, h, side="left")
        n_risk = np.where(k < self.time.shape[0], self.n_risk[np.minimum(k, len(self.time) - 1)], 0)
        return pd.DataFrame(
            {
                "group": self.label,
                "time": h,
                "n_risk": n_risk.astype(np.int64),
                "survival": surv,
                "std_err": se,
                "lower": lo,
                "upper": hi,
            }
        )

    def n_at_risk(self, times: Any) -> FloatArray:
        """Number at risk at each of ``times`` (for risk tables under plots)."""
        return self.at(times)["n_risk"].to_numpy(dtype=np.float64)

    def median(self) -> tuple[float, float, float]:
        """Median survival with its CI, as R ``print.survfit`` (NaN when not reached)."""
        return self.quantile(0.5)

    def quantile(self, p: float) -> tuple[float, float, float]:
        """Time by which a fraction ``p`` has had the event, with CI from the CI curves."""
        target = 1.0 - p
        return (
            _curve_quantile(self.time, self.survival, target),
            _curve_quantile(self.time, self.lower, target),
            _curve_quantile(self.time, self.upper, target),
        )

    def rmst(self, tau: float) -> RMSTResult:
        """Restricted mean survival time up to ``tau`` (R ``print(fit, rmean=tau)``)."""
        if not np.isfinite(tau) or tau <= 0:
            raise InvalidInputError("tau", "must be a positive number", "bad_horizon")
        est, var = _rmst(self.time, self.survival, self.n_risk, self.n_event, float(tau))
        z = _z(self.conf_level)
        se = float(np.sqrt(var))
        return RMSTResult(float(tau), est, se, est - z * se, est + z * se, self.label)

    def print_summary(self, horizons: Any = None) -> None:
        """Print n, events, median (CI) and, if given, survival at the horizons."""
        med, lo, hi = self.median()
        print(
            f"{self.label}: n={self.n}, events={self.n_events}, median={med:g} "
            f"({self.conf_level:.0%} CI {lo:g}-{hi:g}), CI type {self.conf_type}"
        )
        if horizons is not None:
            print(self.at(horizons).to_string(index=False))


def _curve_quantile(time: FloatArray, curve: FloatArray, target: float) -> float:
    """First time the step curve falls to ``target``; midpoint rule on a flat stretch (R)."""
    valid = ~np.isnan(curve)
    below = np.flatnonzero(valid & (curve <= target + _QUANTILE_TOL))
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if abs(curve[i] - target) < _QUANTILE_TOL:
        strictly = np.flatnonzero(valid & (curve < target - _QUANTILE_TOL))
        strictly = strictly[strictly > i]
        if strictly.size:
            return float((time[i] + time[strictly[0]]) / 2.0)
        return float("nan") if i == len(time) - 1 and curve[i] > 0 else float(time[i])
    return float(time[i])


def _rmst(
    time: FloatArray, surv: FloatArray, n_risk: FloatArray, n_event: FloatArray, tau: float
) -> tuple[float, float]:
    keep = time < tau
    t = np.concatenate([[0.0], time[keep], [tau]])
    s_left = np.concatenate([[1.0], surv[keep]])  # value on [t_k, t_{k+1})
    pieces = s_left * np.diff(t)
    est = float(pieces.sum())
    # area from each time t_k (k>=1) to tau
    area_after = np.cumsum(pieces[::-1])[::-1][1:]
    d = n_event[keep]
    n = n_risk[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where((n - d) > 0, d / (n * (n - d)), 0.0)
    var = float(np.sum(area_after**2 * h))
    return est, var


def _km_arrays(
    time: FloatArray,
    event: npt.NDArray[np.int64],
    entry: FloatArray | None,
    presorted: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Distinct times, number at risk, events and censorings (sort + cumulative sums)."""
    if presorted:
        t, e = time, event
    else:
        order = np.argsort(time)
        t = time[order]
        e = event[order]
    n = t.shape[0]
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(t[1:], t[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    ut = t[starts]
    n_event = np.add.reduceat(e.astype(np.float64), starts)
    n_total = np.diff(np.append(starts, n)).astype(np.float64)
    if entry is None:
        n_risk = n - starts.astype(np.float64)
    else:
        # at risk at t: entry < t <= exit
        entered = np.searchsorted(np.sort(entry), ut, side="left").astype(np.float64)
        n_risk = entered - starts.astype(np.float64)
    return ut, n_risk, n_event, n_total - n_event


def kaplan_meier(
    time: Any,
    event: Any,
    *,
    entry: Any = None,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
    label: str = "all",
) -> KaplanMeierResult:
    """Kaplan–Meier estimate with Greenwood variance and a pointwise CI.

    Parameters
    ----------
    time, event
        Follow-up times (>= 0) and event indicators (1 event, 0 censored).
    entry
        Optional delayed-entry times (left truncation, e.g. Simon–Makuch or landmark data);
        a subject is at risk at t when entry < t <= time, as in R ``Surv(start, stop, event)``.
    conf_type
        ``"log-log"`` (default, as infant-ALL papers report), ``"log"`` (R's default) or
        ``"plain"``.

    Returns
    -------
    KaplanMeierResult
        Matches R ``survfit(Surv(time, event) ~ 1, conf.type=conf_type)``.
    """
    t = as_time(time)
    e = as_event(event, t.shape[0])
    ent = None if entry is None else as_entry(entry, t)
    return _kaplan_meier(t, e, ent, conf_type, conf_level, label, presorted=False)


def _kaplan_meier(
    t: FloatArray,
    e: npt.NDArray[np.int64],
    ent: FloatArray | None,
    conf_type: str,
    conf_level: float,
    label: str,
    presorted: bool,
) -> KaplanMeierResult:
    if ent is None and not presorted:
        ut, total, events = tabulate(t, e)
        n_risk_all = np.cumsum(total[::-1, 0])[::-1]
        arrays = (ut, n_risk_all, events[:, 0], total[:, 0] - events[:, 0])
    else:
        arrays = _km_arrays(t, e, ent, presorted)
    return _from_counts(arrays, int(t.shape[0]), conf_type, conf_level, label)


def _from_counts(
    arrays: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    n: int,
    conf_type: str,
    conf_level: float,
    label: str,
) -> KaplanMeierResult:
    z = _z(conf_level)
    if conf_type not in _CONF_TYPES:
        raise InvalidInputError(
            "conf_type", f"{conf_type!r}; use one of {_CONF_TYPES}", "bad_conf_type"
        )
    ut, n_risk, n_event, n_censor = arrays
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_risk > 0, 1.0 - n_event / np.where(n_risk > 0, n_risk, 1.0), 1.0)
        surv = np.cumprod(factor).astype(np.float64)
        inc = np.where(
            n_event > 0,
            n_event / (n_risk * (n_risk - n_event)),
            0.0,
        )
    var_h = np.cumsum(inc)
    se_h = np.sqrt(var_h)
    lower, upper = loglog_ci(surv, se_h, z, conf_type)
    with np.errstate(invalid="ignore"):
        std_err = surv * se_h  # NaN after the curve reaches 0, as in R
    return KaplanMeierResult(
        label=label,
        time=ut,
        n_risk=n_risk,
        n_event=n_event,
        n_censor=n_censor,
        survival=surv,
        se_cumhaz=se_h,
        std_err=std_err,
        lower=lower,
        upper=upper,
        conf_type=conf_type,
        conf_level=conf_level,
        n=n,
    )


@dataclass(frozen=True, slots=True)
class SurvivalCurves:
    """Kaplan–Meier curves of several groups (or of one, labelled ``all``)."""

    curves: tuple[KaplanMeierResult, ...]
    group_name: str | None = None

    @property
    def labels(self) -> list[str]:
        """The group labels in order."""
        return [c.label for c in self.curves]

    def __getitem__(self, label: str) -> KaplanMeierResult:
        for c in self.curves:
            if c.label == label:
                return c
        raise KeyError(label)

    @property
    def summary(self) -> pd.DataFrame:
        """n, events, median and its CI per group."""
        rows = []
        for c in self.curves:
            med, lo, hi = c.median()
            rows.append(
                {
                    "group": c.label,
                    "n": c.n,
                    "events": c.n_events,
                    "median": med,
                    "median_lower": lo,
                    "median_upper": hi,
                }
            )
        return pd.DataFrame(rows)

    def at(self, horizons: Any) -> pd.DataFrame:
        """Survival at the horizons for every group."""
        return pd.concat([c.at(horizons) for c in self.curves], ignore_index=True)

    def rmst(self, tau: float) -> pd.DataFrame:
        """RMST up to ``tau`` for every group."""
        return pd.DataFrame([c.rmst(tau).as_dict() for c in self.curves])

    def print_summary(self, horizons: Any = None) -> None:
        """Print the per-group summary and, if given, survival at the horizons."""
        print(self.summary.to_string(index=False))
        if horizons is not None:
            print(self.at(horizons).to_string(index=False))


def kaplan_meier_by_group(
    time: Any,
    event: Any,
    group: Any = None,
    *,
    entry: Any = None,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
    group_name: str | None = None,
) -> SurvivalCurves:
    """One Kaplan–Meier curve per group (R ``survfit(Surv(time, event) ~ group)``)."""
    t = as_time(time)
    e = as_event(event, t.shape[0])
    ent = None if entry is None else as_entry(entry, t)
    if group is None:
        km = kaplan_meier(t, e, entry=ent, conf_type=conf_type, conf_level=conf_level)
        return SurvivalCurves((km,), group_name)
    labels, codes = as_groups(group, t.shape[0], group_name or "group")
    curves = []
    if ent is None:
        # one table of counts per (time, group) serves every curve
        ut, total, events = tabulate(t, e, codes, len(labels))
        warn_counts(labels, total.sum(axis=0), events.sum(axis=0), group_name or "group")
        for k, lab in enumerate(labels):
            here = total[:, k] > 0
            n_risk = np.cumsum(total[::-1, k])[::-1][here]
            arrays = (ut[here], n_risk, events[here, k], total[here, k] - events[here, k])
            curves.append(_from_counts(arrays, int(total[:, k].sum()), conf_type, conf_level, lab))
        return SurvivalCurves(tuple(curves), group_name)
    warn_groups(labels, codes, e, group_name or "group")
    for k, lab in enumerate(labels):
        sel = codes == k
        curves.append(
            _kaplan_meier(t[sel], e[sel], ent[sel], conf_type, conf_level, lab, presorted=False)
        )
    return SurvivalCurves(tuple(curves), group_name)
