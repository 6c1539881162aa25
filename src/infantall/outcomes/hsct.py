"""HSCT in first remission as a time-dependent exposure, and landmark analyses.

Patients must survive event-free until transplant, so comparing transplanted with
non-transplanted patients from diagnosis credits HSCT with "immortal" waiting time.
This module gives the standard remedies:

* :func:`counting_process` — (start, stop] rows with the exposure switching on at HSCT
  (R ``survival::tmerge``);
* :func:`time_dependent_cox` — Cox with a time-varying HSCT indicator (R ``coxph`` on that
  data);
* :func:`mantel_byar` — Mantel & Byar (1974, JASA 69:81) test: a log-rank test in which a
  patient counts as unexposed until HSCT and exposed afterwards;
* :func:`simon_makuch` — Simon & Makuch (1984, Stat Med 3:35) curves: Kaplan–Meier with
  delayed entry on the counting-process rows of each exposure state (R ``survfit`` on
  ``Surv(start, stop, event) ~ hsct``);
* :func:`landmark` and :func:`mrd_landmark` — re-origin at a landmark time among patients
  still at risk, grouped by their status at the landmark (Anderson, Cain & Gelber 1983,
  JCO 1:710).

None of lifelines, statsmodels or scikit-survival has a named Mantel–Byar test or
Simon–Makuch estimator (only the primitives), so the thin helpers are written here and
validated against R on the Stanford heart-transplant data (``tests/outcomes/reference``).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from infantall.errors import InvalidInputError
from infantall.outcomes._validate import OutcomesWarning, as_event, as_time
from infantall.outcomes.cox import CoxResult, cox_ph
from infantall.outcomes.km import SurvivalCurves, kaplan_meier_by_group
from infantall.outcomes.logrank import LogRankResult, logrank_test

__all__ = [
    "LandmarkResult",
    "MantelByarResult",
    "counting_process",
    "landmark",
    "mantel_byar",
    "mrd_landmark",
    "simon_makuch",
    "time_dependent_cox",
]

FloatArray = npt.NDArray[np.float64]


def _col(data: pd.DataFrame, name: str) -> pd.Series:
    if name not in data.columns:
        raise InvalidInputError(name, "is not a column of the data", "unknown_column")
    return data[name]


def counting_process(
    data: pd.DataFrame,
    time: str,
    event: str,
    exposure_time: str,
    *,
    covariates: Sequence[str] = (),
    id_col: str | None = None,
    exposure_name: str = "hsct",
) -> pd.DataFrame:
    """Split each patient's follow-up at the exposure time (e.g. HSCT).

    Returns columns ``id, start, stop, event, <exposure_name>`` and the covariates: one row
    (0, T] with exposure 0 when the exposure time is missing or >= T; otherwise
    (0, h] with exposure 0 and event 0 followed by (h, T] with exposure 1 and the event.
    An exposure at time 0 gives the single row (0, T] with exposure 1. Patients with
    T = 0 have no time at risk and are left out with an :class:`OutcomesWarning`.
    """
    t = as_time(_col(data, time).to_numpy(), time)
    e = as_event(_col(data, event).to_numpy(), t.shape[0], field=event)
    h = pd.to_numeric(_col(data, exposure_time), errors="coerce").to_numpy(dtype=np.float64)
    if (h[~np.isnan(h)] < 0).any():
        raise InvalidInputError(exposure_time, "exposure times must be >= 0", "negative_time")
    ids = np.arange(t.shape[0]) if id_col is None else _col(data, id_col).to_numpy()
    exposed_in = ~np.isnan(h) & (h < t)
    split = exposed_in & (h > 0)
    at_zero = exposed_in & (h == 0)
    base = {c: _col(data, c).to_numpy() for c in covariates}
    n1 = t.shape[0]
    first = pd.DataFrame(
        {
            "id": ids,
            "start": np.zeros(n1),
            "stop": np.where(split, h, t),
            "event": np.where(split, 0, e),
            exposure_name: at_zero.astype(np.int64),
            **base,
        }
    )
    second = pd.DataFrame(
        {
            "id": ids[split],
            "start": h[split],
            "stop": t[split],
            "event": e[split],
            exposure_name: np.ones(int(split.sum()), dtype=np.int64),
            **{c: v[split] for c, v in base.items()},
        }
    )
    out = pd.concat([first, second], ignore_index=True)
    empty = out.stop <= out.start
    if empty.any():
        warnings.warn(
            f"{int(empty.sum())} patient(s) with time 0 have no time at risk and are left out "
            "of the counting-process data",
            OutcomesWarning,
            stacklevel=2,
        )
        out = out[~empty]
    return out.sort_values(["id", "start"], kind="stable").reset_index(drop=True)


def time_dependent_cox(
    cp: pd.DataFrame,
    covariates: Sequence[str] = ("hsct",),
    *,
    ties: str = "efron",
    strata: str | None = None,
) -> CoxResult:
    """Cox model on counting-process rows (R ``coxph(Surv(start, stop, event) ~ ...)``)."""
    return cox_ph(
        cp,
        "stop",
        "event",
        list(covariates),
        entry="start",
        ties=ties,  # type: ignore[arg-type]
        strata=strata,
    )


@dataclass(frozen=True, slots=True)
class MantelByarResult:
    """Mantel–Byar test of a time-dependent binary exposure."""

    observed: float
    expected: float
    variance: float
    chisq: float
    p_value: float

    @property
    def summary(self) -> pd.DataFrame:
        """One-row table: observed and expected events among the exposed, chi-square, p."""
        return pd.DataFrame(
            [
                {
                    "test": "Mantel-Byar",
                    "observed_exposed": self.observed,
                    "expected_exposed": self.expected,
                    "variance": self.variance,
                    "chisq": self.chisq,
                    "df": 1,
                    "p": self.p_value,
                }
            ]
        )

    def print_summary(self) -> None:
        """Print the test."""
        print(self.summary.to_string(index=False))


def mantel_byar(
    cp: pd.DataFrame,
    exposure: str = "hsct",
    *,
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
    strata: str | None = None,
) -> MantelByarResult:
    """Mantel–Byar test on counting-process rows (stratified when ``strata`` is given:
    observed, expected and variance are summed over the strata, as R ``survdiff`` does).

    At each event time t, with n at risk (start < t <= stop), n1 of them currently exposed,
    d events of which d1 among the exposed: O = sum d1, E = sum d n1/n,
    V = sum d (n1/n)(1 - n1/n)(n - d)/(n - 1); chi-square (O-E)^2/V on 1 df.
    """
    groups = [cp] if strata is None else [g for _, g in cp.groupby(_col(cp, strata).astype(str))]
    parts = [_mantel_byar_sums(g, exposure, start, stop, event) for g in groups]
    obs, exp_, var = (float(sum(p[i] for p in parts)) for i in range(3))
    if var <= 0:
        raise InvalidInputError(event, "there are no events to compare", "no_events")
    chisq = (obs - exp_) ** 2 / var
    return MantelByarResult(obs, exp_, var, chisq, float(stats.chi2.sf(chisq, 1)))


def _mantel_byar_sums(
    cp: pd.DataFrame, exposure: str, start: str, stop: str, event: str
) -> tuple[float, float, float]:
    """Observed and expected events among the exposed and the variance (0s without events)."""
    st = as_time(_col(cp, start).to_numpy(), start)
    sp = as_time(_col(cp, stop).to_numpy(), stop)
    ev = as_event(_col(cp, event).to_numpy(), sp.shape[0], field=event)
    x = as_event(_col(cp, exposure).to_numpy(), sp.shape[0], field=exposure)
    if (st >= sp).any():
        raise InvalidInputError(start, "each start must be before its stop", "entry_after_exit")
    times, d = np.unique(sp[ev == 1], return_counts=True)
    if times.size == 0:
        return 0.0, 0.0, 0.0
    d1 = np.bincount(np.searchsorted(times, sp[(ev == 1) & (x == 1)]), minlength=times.size)

    def at_risk(mask: npt.NDArray[np.bool_]) -> FloatArray:
        s_sorted = np.sort(sp[mask])
        b_sorted = np.sort(st[mask])
        n_stop = s_sorted.size - np.searchsorted(s_sorted, times, side="left")
        n_start = b_sorted.size - np.searchsorted(b_sorted, times, side="left")
        return (n_stop - n_start).astype(np.float64)

    n = at_risk(np.ones(sp.shape[0], dtype=bool))
    n1 = at_risk(x == 1)
    df = d.astype(np.float64)
    obs = float(d1.sum())
    exp_ = float((df * n1 / n).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(n > 1, df * (n1 / n) * (1 - n1 / n) * (n - df) / (n - 1), 0.0)
    return obs, exp_, float(v.sum())


def simon_makuch(
    cp: pd.DataFrame,
    exposure: str = "hsct",
    *,
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
    conf_type: str = "log-log",
) -> SurvivalCurves:
    """Simon–Makuch curves: Kaplan–Meier with delayed entry per current exposure state.

    A transplanted patient contributes to the "no HSCT" curve until transplant and enters
    the "HSCT" curve at the transplant time.
    """
    return kaplan_meier_by_group(
        _col(cp, stop).to_numpy(),
        _col(cp, event).to_numpy(),
        _col(cp, exposure).to_numpy(),
        entry=_col(cp, start).to_numpy(),
        conf_type=conf_type,  # type: ignore[arg-type]
        group_name=exposure,
    )


@dataclass(frozen=True, slots=True)
class LandmarkResult:
    """Outcome from a landmark time by status at the landmark."""

    landmark: float
    n_at_risk: int
    n_excluded: int
    curves: SurvivalCurves
    test: LogRankResult | None

    @property
    def summary(self) -> pd.DataFrame:
        """Per-group n, events, median from the landmark, and the log-rank p."""
        df = self.curves.summary
        df.insert(0, "landmark", self.landmark)
        df["logrank_p"] = np.nan if self.test is None else self.test.p_value
        return df

    def print_summary(self, horizons: Any = None) -> None:
        """Print the table (and survival at horizons after the landmark)."""
        print(
            f"Landmark at {self.landmark:g}: {self.n_at_risk} at risk, "
            f"{self.n_excluded} excluded (event or censored before the landmark)"
        )
        print(self.summary.to_string(index=False))
        if horizons is not None:
            print(self.curves.at(horizons).to_string(index=False))


def landmark(
    data: pd.DataFrame,
    time: str,
    event: str,
    landmark_time: float,
    *,
    group: str | None = None,
    exposure_time: str | None = None,
    conf_type: str = "log-log",
) -> LandmarkResult:
    """Landmark analysis: patients with time > landmark, time re-originated at the landmark.

    The group is either a column known at the landmark (``group``) or derived from an
    exposure time: exposed when ``exposure_time <= landmark`` (e.g. HSCT by the landmark).
    """
    if not np.isfinite(landmark_time) or landmark_time < 0:
        raise InvalidInputError("landmark", "must be a number >= 0", "bad_horizon")
    t = as_time(_col(data, time).to_numpy(), time)
    e = as_event(_col(data, event).to_numpy(), t.shape[0], field=event)
    keep = t > landmark_time
    if group is not None:
        g: Any = _col(data, group)[keep]  # a Series keeps a Categorical's order
    elif exposure_time is not None:
        h = pd.to_numeric(_col(data, exposure_time), errors="coerce").to_numpy(np.float64)
        g = np.where(~np.isnan(h[keep]) & (h[keep] <= landmark_time), "exposed", "unexposed")
    else:
        raise InvalidInputError("group", "give a group column or an exposure time", "bad_option")
    if keep.sum() == 0:
        raise InvalidInputError(
            "landmark", "no patient is still at risk at the landmark", "empty_data"
        )
    tt = t[keep] - landmark_time
    ee = e[keep]
    curves = kaplan_meier_by_group(
        tt,
        ee,
        g,
        conf_type=conf_type,  # type: ignore[arg-type]
        group_name=group or "exposure",
    )
    test = logrank_test(tt, ee, g) if len(curves.curves) > 1 and ee.sum() > 0 else None
    return LandmarkResult(float(landmark_time), int(keep.sum()), int((~keep).sum()), curves, test)


def mrd_landmark(
    data: pd.DataFrame,
    time: str,
    event: str,
    mrd: str,
    landmark_time: float,
    *,
    cutoffs: Sequence[float] = (1e-4, 1e-3),
    mrd_time: str | None = None,
) -> LandmarkResult:
    """Outcome from the MRD time point by MRD class (e.g. < 1e-4, 1e-4 to < 1e-3, >= 1e-3).

    Patients without an MRD value, measured after the landmark (when ``mrd_time`` is
    given), or with an event or censoring at or before the landmark are excluded.
    Classes are half-open intervals [c_k, c_{k+1}); labels name them.
    """
    values = pd.to_numeric(_col(data, mrd), errors="coerce")
    ok = values.notna()
    if mrd_time is not None:
        mt = pd.to_numeric(_col(data, mrd_time), errors="coerce")
        ok &= mt.notna() & (mt <= landmark_time)
    if (values[ok] < 0).any():
        raise InvalidInputError(mrd, "MRD must be a fraction >= 0", "bad_option")
    cuts = sorted(float(c) for c in cutoffs)
    edges = [-np.inf, *cuts, np.inf]
    names = [f"<{cuts[0]:g}"] + [f"{a:g}-<{b:g}" for a, b in itertools.pairwise(cuts)]
    names.append(f">={cuts[-1]:g}")
    sub = data.loc[ok].copy()
    sub["_mrd_class"] = pd.Categorical(
        pd.cut(values[ok], bins=edges, right=False, labels=names).astype(str),
        categories=names,
    )
    res = landmark(sub, time, event, landmark_time, group="_mrd_class")
    return LandmarkResult(
        res.landmark,
        res.n_at_risk,
        res.n_excluded + int((~ok).sum()),
        SurvivalCurves(res.curves.curves, "MRD"),
        res.test,
    )
