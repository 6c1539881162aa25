"""How long patients were followed, up to which date, and who each analysis left out.

* :func:`reverse_km_follow_up` — median follow-up with its interquartile range by the reverse
  Kaplan–Meier method (Schemper & Smith, *Control Clin Trials* 1996;17:343–6): the
  Kaplan–Meier estimate of the censoring distribution, ``survfit(Surv(time, 1 - status) ~ 1)``
  in R, whose quartiles are those of the potential follow-up. Unlike the median of the
  observed times it does not shrink when patients die early.
* :func:`dataset_follow_up` — the same on an analysis dataset (overall survival), with the
  data cut-off date and, for each standard analysis, the patients included and those
  excluded with the reason (:class:`Population`).

A quartile the reverse curve never reaches is not estimable: ``None`` in ``to_dict()``,
``NaN`` in ``summary``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infantall.outcomes._json import json_safe
from infantall.outcomes._validate import as_event, as_time
from infantall.outcomes.endpoints import AnalysisDataset
from infantall.outcomes.km import kaplan_meier

__all__ = [
    "FollowUp",
    "FollowUpSummary",
    "Population",
    "analysis_populations",
    "dataset_follow_up",
    "reverse_km_follow_up",
]

_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Median follow-up (reverse Kaplan–Meier) with its quartiles, in the unit of ``time``.

    ``median_lower``/``median_upper`` are the 95% CI of the median from the reverse curve's
    ``log`` CI (R's default ``conf.type``). Any quantile the curve never reaches is NaN.
    """

    n: int
    n_events: int
    n_censored: int
    median: float
    q1: float
    q3: float
    median_lower: float
    median_upper: float

    @property
    def summary(self) -> pd.DataFrame:
        """One row: n, events, censored, median, q1, q3 and the median's CI."""
        return pd.DataFrame([self.as_record()])

    def as_record(self) -> dict[str, Any]:
        """Flat record (NaN where not estimable)."""
        return {
            "n": self.n,
            "events": self.n_events,
            "censored": self.n_censored,
            "median": self.median,
            "q1": self.q1,
            "q3": self.q3,
            "median_lower": self.median_lower,
            "median_upper": self.median_upper,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record (``None`` where not estimable)."""
        return {str(k): json_safe(v) for k, v in self.as_record().items()}


def reverse_km_follow_up(time: Any, status: Any) -> FollowUp:
    """Median follow-up and interquartile range by the reverse Kaplan–Meier method.

    Parameters
    ----------
    time, status
        Follow-up times (>= 0) and event indicators (1 event, 0 censored) of the survival
        endpoint (e.g. overall survival).

    Returns
    -------
    FollowUp
        Matches R ``quantile(survfit(Surv(time, 1 - status) ~ 1), c(0.25, 0.5, 0.75))``
        (``tests/outcomes/reference/make_followup_reference.R``).
    """
    t = as_time(time)
    e = as_event(status, t.shape[0], field="status")
    reverse = kaplan_meier(t, 1 - e, conf_type="log", label="follow-up")
    q1 = reverse.quantile(0.25)[0]
    med, lo, hi = reverse.quantile(0.5)
    q3 = reverse.quantile(0.75)[0]
    n_events = int(e.sum())
    return FollowUp(int(t.shape[0]), n_events, int(t.shape[0]) - n_events, med, q1, q3, lo, hi)


@dataclass(frozen=True, slots=True)
class Population:
    """Who an analysis used: ``included`` patients and the excluded ones by reason."""

    analysis: str
    included: int
    excluded: tuple[tuple[str, int], ...] = ()

    @property
    def n_excluded(self) -> int:
        """Patients left out, all reasons."""
        return sum(n for _, n in self.excluded)

    def describe(self) -> str:
        """``"412 included; 14 excluded: induction failure at day 0 (14)"``."""
        text = f"{self.included} included"
        if not self.n_excluded:
            return text + "; none excluded"
        reasons = ", ".join(f"{reason} ({n})" for reason, n in self.excluded if n)
        return f"{text}; {self.n_excluded} excluded: {reasons}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return {
            "analysis": self.analysis,
            "included": self.included,
            "excluded": self.n_excluded,
            "reasons": [{"reason": r, "n": n} for r, n in self.excluded if n],
        }


def _reasons(pairs: list[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    return tuple((r, int(n)) for r, n in pairs if n)


def analysis_populations(
    dataset: AnalysisDataset, *, mrd_landmark_days: float | None = 42.0
) -> tuple[Population, ...]:
    """Patients included in and excluded from each standard analysis of ``dataset``.

    * EFS and OS: every patient of the dataset; those without a diagnosis date (or
      diagnosed after the cut-off) are out of the dataset itself (``dataset.excluded``);
    * CIR: patients in first complete remission; the others have no remission to relapse
      from (induction failure, or no remission assessment before the cut-off);
    * HSCT in CR1 (time-dependent): patients with follow-up beyond day 0; induction
      failures counted at day 0 were never at risk of a transplant in CR1;
    * MRD landmark: patients event-free and under follow-up at the landmark with an
      end-of-induction MRD result.
    """
    efs = dataset.endpoint("EFS")
    n = len(efs)
    before = [("no diagnosis date or diagnosed after the cut-off", len(dataset.excluded))]
    rows = dataset.adtte[dataset.adtte.PARAMCD == "EFS"].set_index("USUBJID")
    failed = efs.USUBJID.map(rows["EVNTDESC"] == "INDUCTION FAILURE").fillna(False).astype(bool)
    cir_ids = set(dataset.adtte.loc[dataset.adtte.PARAMCD == "CIR", "USUBJID"])
    in_cr = efs.USUBJID.isin(cir_ids)
    at_zero = efs.time <= 0
    out = [
        Population("EFS (Kaplan–Meier)", n, _reasons(before)),
        Population("OS (Kaplan–Meier)", n, _reasons(before)),
        Population(
            "CIR (patients in CR1)",
            int(in_cr.sum()),
            _reasons(
                [
                    *before,
                    ("induction failure (no CR)", int((failed & ~in_cr).sum())),
                    ("no remission assessment before the cut-off", int((~failed & ~in_cr).sum())),
                ]
            ),
        ),
        Population(
            "HSCT in CR1 (time-dependent)",
            int((~at_zero).sum()),
            _reasons(
                [
                    *before,
                    ("induction failure at day 0", int((at_zero & failed).sum())),
                    ("no follow-up after diagnosis", int((at_zero & ~failed).sum())),
                ]
            ),
        ),
    ]
    if mrd_landmark_days is not None and "MRD_EOI" in efs.columns:
        out.append(_mrd_population(efs, mrd_landmark_days, before))
    return tuple(out)


def _mrd_population(
    efs: pd.DataFrame, landmark_days: float, before: list[tuple[str, int]]
) -> Population:
    gone = efs.time < landmark_days
    no_mrd = ~gone & efs["MRD_EOI"].isna()
    return Population(
        f"MRD landmark (day {landmark_days:g})",
        int((~gone & ~no_mrd).sum()),
        _reasons(
            [
                *before,
                ("event or censored before the landmark", int(gone.sum())),
                ("no end-of-induction MRD", int(no_mrd.sum())),
            ]
        ),
    )


@dataclass(frozen=True, slots=True)
class FollowUpSummary:
    """Follow-up of an analysis dataset: reverse-KM median and IQR of overall survival time
    (days), the data cut-off date and the analysis populations.

    ``cutoff_source`` says where the cut-off comes from: ``"administrative cut-off"`` (the
    dataset's :attr:`~infantall.outcomes.endpoints.EndpointOptions.cutoff`) or ``"latest
    date in the data"`` (the last follow-up or event date of any patient).
    """

    follow_up: FollowUp
    cutoff: dt.date | None
    cutoff_source: str
    populations: tuple[Population, ...]

    def describe(self) -> str:
        """``"Median follow-up 5.1 years (IQR 3.2–7.0; reverse Kaplan–Meier), data cut-off
        2024-12-31 (latest date in the data)."``; n/e for a quartile not reached."""
        fu = self.follow_up

        def yrs(days: float) -> str:
            return "n/e" if np.isnan(days) else f"{days / _DAYS_PER_YEAR:.1f}"

        cut = "unknown" if self.cutoff is None else self.cutoff.isoformat()
        return (
            f"Median follow-up {yrs(fu.median)} years (IQR {yrs(fu.q1)}–{yrs(fu.q3)}; reverse "
            f"Kaplan–Meier, {fu.n_censored} of {fu.n} patients alive at last contact), data "
            f"cut-off {cut} ({self.cutoff_source})."
        )

    @property
    def summary(self) -> pd.DataFrame:
        """One row per analysis: included, excluded and the reasons."""
        return pd.DataFrame(
            [
                {
                    "analysis": p.analysis,
                    "included": p.included,
                    "excluded": p.n_excluded,
                    "reasons": "; ".join(f"{r} ({n})" for r, n in p.excluded) or "none",
                }
                for p in self.populations
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: follow-up in days and years, the cut-off and the populations."""
        fu = self.follow_up.to_dict()
        years = {
            f"{k}_years": (None if v is None else v / _DAYS_PER_YEAR)
            for k, v in fu.items()
            if k in ("median", "q1", "q3")
        }
        return {
            "follow_up_days": fu,
            "follow_up_years": years,
            "method": "reverse Kaplan-Meier of overall survival",
            "data_cutoff": None if self.cutoff is None else self.cutoff.isoformat(),
            "data_cutoff_source": self.cutoff_source,
            "populations": [p.to_dict() for p in self.populations],
        }


def _cutoff(dataset: AnalysisDataset) -> tuple[dt.date | None, str]:
    if dataset.options.cutoff is not None:
        return dataset.options.cutoff, "administrative cut-off"
    dates = pd.to_datetime(dataset.adtte["ADT"], errors="coerce").dropna()
    if dates.empty:
        return None, "no date in the data"
    return dates.max().date(), "latest date in the data"


def dataset_follow_up(
    dataset: AnalysisDataset, *, mrd_landmark_days: float | None = 42.0
) -> FollowUpSummary:
    """:func:`reverse_km_follow_up` of overall survival in ``dataset``, its data cut-off and
    :func:`analysis_populations`."""
    os_ = dataset.endpoint("OS")
    cutoff, source = _cutoff(dataset)
    return FollowUpSummary(
        reverse_km_follow_up(os_.time, os_.status),
        cutoff,
        source,
        analysis_populations(dataset, mrd_landmark_days=mrd_landmark_days),
    )
