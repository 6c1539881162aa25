"""One analysis per question that the CLI, the web pages and the report all ask.

* :func:`survival_at_horizons` — Kaplan–Meier survival at one or more horizons by group, with
  SE, CI and the number at risk (the "5-year EFS 46.1% (SE 2.6)" of every paper);
* :func:`hsct_analysis` (and :func:`dataset_hsct_analysis` for an analysis dataset) — HSCT in
  CR1 as a time-dependent exposure: time-dependent Cox, Mantel–Byar, landmark at the median
  time to HSCT, Simon–Makuch curves, and the naive "ever transplanted" Cox shown for contrast
  only (it is biased by immortal time).

Each returns a frozen result with a ``summary`` DataFrame and a JSON-safe ``to_dict()``; the
presenters (``infantall analyze``, the coordinator page, the report) only format it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infantall.errors import InvalidInputError
from infantall.outcomes._json import json_safe, records
from infantall.outcomes.competing import CumulativeIncidenceResult, cumulative_incidence
from infantall.outcomes.cox import CoxResult, cox_ph
from infantall.outcomes.endpoints import AnalysisDataset
from infantall.outcomes.hsct import (
    LandmarkResult,
    MantelByarResult,
    counting_process,
    landmark,
    mantel_byar,
    simon_makuch,
    time_dependent_cox,
)
from infantall.outcomes.km import ConfType, SurvivalCurves, kaplan_meier_by_group
from infantall.protocols import get_protocol

__all__ = [
    "UNORDERED_LAST",
    "CumulativeIncidenceAtHorizons",
    "Estimate",
    "HSCTAnalysis",
    "SurvivalAtHorizons",
    "clinical_order",
    "cumulative_incidence_at_horizons",
    "dataset_hsct_analysis",
    "hsct_analysis",
    "ordered_groups",
    "survival_at_horizons",
]

#: Group labels that are not risk groups, shown after every risk group in this order.
UNORDERED_LAST: tuple[str, ...] = (
    "not_eligible",
    "not_applicable",
    "indeterminate",
    "unknown protocol",
    "unknown",
)


def clinical_order(labels: Iterable[Any], protocol: str | None) -> list[str]:
    """``labels`` (distinct, as strings) in the clinical order of ``protocol``'s risk groups.

    The protocol's own groups come first in the order it declares them
    (:attr:`infantall.protocols.Protocol.groups`, e.g. LR, MR, HR for Interfant-06; LR, IR,
    HR for JPLSG MLL-10), then any other label alphabetically, then the labels of
    :data:`UNORDERED_LAST` (indeterminate, unknown, ...). Without a protocol (or an unknown
    one) the known labels keep the order LR, SR, MR, IR, HR.
    """
    distinct = list(dict.fromkeys(str(v) for v in labels))
    own = ["LR", "SR", "MR", "IR", "HR"]
    if protocol:
        with contextlib.suppress(InvalidInputError):  # an unknown protocol: generic order
            own = [g for g in get_protocol(protocol).groups if g not in UNORDERED_LAST] or own
    first = [g for g in own if g in distinct]
    last = [g for g in UNORDERED_LAST if g in distinct]
    middle = sorted(set(distinct) - set(first) - set(last))
    return first + middle + last


def ordered_groups(values: Any, protocol: str | None) -> Any:
    """``values`` as a :class:`pandas.Categorical` in :func:`clinical_order`; the analyses
    (Kaplan–Meier, cumulative incidence, log-rank) keep a Categorical's order (typed ``Any``:
    pandas-stubs type a Categorical by its values)."""
    ser = pd.Series(values).astype(str)
    return pd.Categorical(ser, categories=clinical_order(ser.unique(), protocol))


@dataclass(frozen=True, slots=True)
class SurvivalAtHorizons:
    """Kaplan–Meier curves and their survival at the horizons.

    ``table`` has one row per group and horizon: ``group, time, n, events, n_risk, survival,
    std_err, lower, upper, estimable`` (probabilities, not percentages; ``time`` in the
    data's unit). A horizon beyond a group's follow-up (nobody at risk at it while the curve
    is above 0, e.g. a group without follow-up) is not estimable: ``estimable`` is False and
    survival, SE and CI are NaN (``None`` in ``to_dict()``), never the curve carried forward.
    """

    curves: SurvivalCurves
    horizons: tuple[float, ...]
    table: pd.DataFrame

    @property
    def summary(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()

    def row(self, group: str, horizon: float | None = None) -> pd.Series:
        """The row of ``group`` at ``horizon`` (default: the first horizon)."""
        h = self.horizons[0] if horizon is None else float(horizon)
        sel = self.table[(self.table["group"] == group) & (self.table["time"] == h)]
        if sel.empty:
            raise KeyError((group, h))
        return sel.iloc[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the group name, the horizons and the rows of the table."""
        return {
            "group_name": self.curves.group_name,
            "horizons": json_safe(list(self.horizons)),
            "estimates": records(self.table),
        }


def survival_at_horizons(
    time: Any,
    event: Any,
    group: Any = None,
    horizons: Sequence[float] = (),
    *,
    conf_type: ConfType = "log-log",
    group_name: str | None = None,
    protocol: str | None = None,
) -> SurvivalAtHorizons:
    """Survival at ``horizons`` (same unit as ``time``) by ``group`` (one curve when ``None``).

    The curves are :func:`~infantall.outcomes.km.kaplan_meier_by_group` and each row is
    :meth:`~infantall.outcomes.km.KaplanMeierResult.at` (R ``summary(survfit, times=)``),
    with the group's n and number of events added; a horizon nobody is followed to is not
    estimable (see :class:`SurvivalAtHorizons`). With ``protocol`` the groups are risk groups
    shown in that protocol's :func:`clinical_order`.
    """
    if group is not None and protocol is not None:
        group = ordered_groups(group, protocol)
    curves = kaplan_meier_by_group(time, event, group, conf_type=conf_type, group_name=group_name)
    return horizons_of(curves, horizons)


@dataclass(frozen=True, slots=True)
class CumulativeIncidenceAtHorizons:
    """Cumulative incidence of each cause by group at the horizons, with Gray's tests.

    ``table`` has one row per group, cause and horizon: ``group, cause, time, n, events,
    n_risk, estimate, std_err, lower, upper, estimable``. A horizon beyond a group's follow-up
    (nobody at risk while some patients are still event-free) is not estimable: NaN
    (``None`` in ``to_dict()``). ``result.tests`` are Gray's tests (one per cause) when
    grouped.
    """

    result: CumulativeIncidenceResult
    horizons: tuple[float, ...]
    table: pd.DataFrame
    group_name: str | None = None

    @property
    def summary(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()

    def gray(self, cause: int = 1) -> Any:
        """Gray's test of ``cause`` (:class:`~infantall.outcomes.GrayTestResult`), or ``None``
        when ungrouped."""
        return next((t for t in self.result.tests if t.cause == cause), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the group name, horizons, rows and Gray's tests."""
        return {
            "group_name": self.group_name,
            "horizons": json_safe(list(self.horizons)),
            "estimates": records(self.table),
            "gray_tests": [json_safe(t.as_dict()) for t in self.result.tests],
        }


def cumulative_incidence_at_horizons(
    time: Any,
    status: Any,
    group: Any = None,
    horizons: Sequence[float] = (),
    *,
    group_name: str | None = None,
    protocol: str | None = None,
) -> CumulativeIncidenceAtHorizons:
    """Cumulative incidence (Aalen–Johansen, cmprsk ``cuminc``) of every cause by ``group`` at
    ``horizons``, with Gray's test per cause when grouped
    (:func:`~infantall.outcomes.competing.cumulative_incidence`). With ``protocol`` the
    groups are risk groups in its :func:`clinical_order`.
    """
    t = pd.to_numeric(pd.Series(np.asarray(time, dtype=float)), errors="coerce")
    st = pd.Series(np.asarray(status)).reset_index(drop=True)
    g = None
    if group is not None:
        g = ordered_groups(group, protocol) if protocol is not None else pd.Series(group)
    res = cumulative_incidence(t, st, None if g is None else g)
    labels = pd.Series("all", index=t.index) if g is None else pd.Series(g).astype(str)
    hz = tuple(float(h) for h in horizons)
    rows = []
    for c in res.curves:
        mine = (labels == c.group).to_numpy()
        last = float(t[mine].max())
        free = 1.0 - sum(float(x.at([last])["estimate"].iloc[0])
                         for x in res.curves if x.group == c.group)  # fmt: skip
        for r in c.at(list(hz)).to_dict("records"):
            ok = r["time"] <= last or free <= 1e-12
            rows.append(
                {
                    **r,
                    "n": int(mine.sum()),
                    "events": int((st[mine] == c.cause).sum()),
                    "n_risk": int((t[mine] >= r["time"]).sum()),
                    "estimable": ok,
                }
            )
    cols = ["group", "cause", "time", "n", "events", "n_risk", "estimate", "std_err", "lower",
            "upper", "estimable"]  # fmt: skip
    table = pd.DataFrame(rows, columns=cols)
    for col in ("estimate", "std_err", "lower", "upper"):
        table[col] = table[col].where(table["estimable"])
    return CumulativeIncidenceAtHorizons(res, hz, table, group_name)


def horizons_of(curves: SurvivalCurves, horizons: Sequence[float]) -> SurvivalAtHorizons:
    """:class:`SurvivalAtHorizons` of curves already fitted (e.g. Simon–Makuch, landmark)."""
    hz = tuple(float(h) for h in horizons)
    parts = [c.at(list(hz)).assign(n=c.n, events=c.n_events) for c in curves.curves]
    table = pd.concat(parts, ignore_index=True)
    # nobody followed to the horizon and the curve above 0: the value is not known
    table["estimable"] = ~((table["n_risk"] == 0) & (table["survival"] > 0))
    for col in ("survival", "std_err", "lower", "upper"):
        table[col] = table[col].where(table["estimable"])
    columns = [
        "group", "time", "n", "events", "n_risk", "survival", "std_err", "lower", "upper",
        "estimable",
    ]  # fmt: skip
    return SurvivalAtHorizons(curves, hz, table[columns])


@dataclass(frozen=True, slots=True)
class Estimate:
    """One estimate or test of an analysis: a hazard ratio with its CI, a chi-square on 1 df
    and its p-value, the patients and events it rests on, and a note on how it was made.

    Fields that do not apply (no hazard ratio for a test) are ``None``.
    """

    label: str
    hazard_ratio: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    n: int | None = None
    events: int | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return {
            "label": self.label,
            "hazard_ratio": json_safe(self.hazard_ratio),
            "ci_lower": json_safe(self.ci_lower),
            "ci_upper": json_safe(self.ci_upper),
            "statistic": json_safe(self.statistic),
            "p_value": json_safe(self.p_value),
            "n": self.n,
            "events": self.events,
            "note": self.note,
        }


def _cox_estimate(label: str, fit: CoxResult, n: int, note: str = "") -> Estimate:
    row = fit.summary.iloc[0]
    return Estimate(
        label,
        hazard_ratio=float(row["hr"]),
        ci_lower=float(row["hr_lower"]),
        ci_upper=float(row["hr_upper"]),
        statistic=float(row["z"]) ** 2,
        p_value=float(row["p"]),
        n=n,
        events=fit.n_events,
        note=note,
    )


@dataclass(frozen=True, slots=True)
class HSCTAnalysis:
    """HSCT as a time-dependent exposure (see :func:`hsct_analysis`).

    ``landmark`` is ``None`` when no patient is still at risk at ``landmark_time`` (then
    ``landmark_note`` says why).
    """

    n: int
    n_exposed: int
    counting: pd.DataFrame
    time_dependent: CoxResult
    mantel_byar: MantelByarResult
    landmark_time: float
    landmark: LandmarkResult | None
    landmark_note: str
    naive: CoxResult
    simon_makuch: SurvivalCurves

    @property
    def estimates(self) -> tuple[Estimate, ...]:
        """Time-dependent Cox, Mantel–Byar, landmark log-rank and the naive Cox, in order."""
        mb = self.mantel_byar
        lm = self.landmark
        test = None if lm is None else lm.test
        return (
            _cox_estimate(
                "time-dependent Cox (Efron)",
                self.time_dependent,
                self.n,
                f"{len(self.counting)} (start, stop] rows",
            ),
            Estimate(
                "Mantel-Byar test",
                statistic=mb.chisq,
                p_value=mb.p_value,
                n=self.n,
                events=int(self.counting["event"].sum()),
                note=f"O={mb.observed:g}, E={mb.expected:.2f}",
            ),
            Estimate(
                f"landmark at {self.landmark_time:g}",
                statistic=None if test is None else test.chisq,
                p_value=None if test is None else test.p_value,
                n=None if lm is None else lm.n_at_risk,
                note=self.landmark_note,
            ),
            _cox_estimate("naive ever-HSCT Cox (immortal-time biased)", self.naive, self.n),
        )

    @property
    def summary(self) -> pd.DataFrame:
        """One row per estimate (the fields of :class:`Estimate`)."""
        return pd.DataFrame([e.to_dict() for e in self.estimates])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: counts, the landmark time and every estimate."""
        return {
            "n": self.n,
            "n_exposed": self.n_exposed,
            "counting_rows": len(self.counting),
            "landmark_time": json_safe(self.landmark_time),
            "estimates": [e.to_dict() for e in self.estimates],
        }


def _landmark(
    data: pd.DataFrame, time: str, event: str, at: float, exposure_time: str
) -> tuple[LandmarkResult | None, str]:
    try:
        lm = landmark(data, time, event, at, exposure_time=exposure_time)
    except InvalidInputError as exc:
        if exc.code != "empty_data":
            raise
        return None, f"not estimable: {exc.reason}"
    note = f"exposed = HSCT by landmark; {lm.n_excluded} excluded (event/censored before it)"
    return lm, note


def hsct_analysis(
    data: pd.DataFrame,
    time: str,
    event: str,
    exposure_time: str,
    *,
    landmark_time: float | None = None,
    counting: pd.DataFrame | None = None,
) -> HSCTAnalysis:
    """HSCT in CR1 as a time-dependent exposure, one row per patient in ``data``.

    ``exposure_time`` is the time to HSCT (missing: never transplanted). Computes the
    counting-process rows (unless given as ``counting``), the time-dependent Cox model (Efron),
    the Mantel–Byar test, the landmark analysis at ``landmark_time`` (default: the median
    time to HSCT among the transplanted), the Simon–Makuch curves and, for contrast only, the
    naive Cox model of "ever transplanted before the end of follow-up" from diagnosis.

    Raises
    ------
    InvalidInputError
        ``too_few_groups`` when no patient is exposed before the end of follow-up.
    """
    h = pd.to_numeric(data[exposure_time], errors="coerce")
    cp = counting_process(data, time, event, exposure_time) if counting is None else counting
    if cp["hsct"].sum() == 0:
        raise InvalidInputError(
            exposure_time,
            f"no patient has a {exposure_time} before the end of follow-up: nothing to compare",
            "too_few_groups",
        )
    lm_time = float(np.nanmedian(h)) if landmark_time is None else float(landmark_time)
    lm, lm_note = _landmark(data, time, event, lm_time, exposure_time)
    ever = data.assign(_ever=(h.notna() & (h < data[time])).astype(int))
    return HSCTAnalysis(
        n=len(data),
        n_exposed=int(h.notna().sum()),
        counting=cp,
        time_dependent=time_dependent_cox(cp, ["hsct"]),
        mantel_byar=mantel_byar(cp, "hsct"),
        landmark_time=lm_time,
        landmark=lm,
        landmark_note=lm_note,
        naive=cox_ph(ever, time, event, ["_ever"]),
        simon_makuch=simon_makuch(cp, "hsct"),
    )


def dataset_hsct_analysis(
    dataset: AnalysisDataset, paramcd: str = "EFS", *, landmark_time: float | None = None
) -> HSCTAnalysis:
    """:func:`hsct_analysis` of an endpoint of an analysis dataset (HSCT day ``HSCTDY``), on
    the dataset's counting-process rows
    (:meth:`~infantall.outcomes.endpoints.AnalysisDataset.hsct_counting_process`)."""
    return hsct_analysis(
        dataset.endpoint(paramcd),
        "time",
        "status",
        "HSCTDY",
        landmark_time=landmark_time,
        counting=dataset.hsct_counting_process(paramcd),
    )
