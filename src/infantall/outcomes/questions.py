"""One analysis per question that the CLI, the web pages and the report all ask.

* :func:`survival_at_horizons` — Kaplan–Meier survival at one or more horizons by group, with
  SE, CI and the number at risk (the "5-year EFS 46.1% (SE 2.6)" of every paper);
* :func:`cumulative_incidence_at_horizons` — the cumulative incidence of one cause at
  horizons by group, with Gray's test;
* :func:`clinical_order` — risk groups in each protocol's own order.

The HSCT analyses are in :mod:`infantall.outcomes.hsct_questions`.

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
from infantall.outcomes.km import ConfType, SurvivalCurves, kaplan_meier_by_group
from infantall.protocols import get_protocol

__all__ = [
    "UNORDERED_LAST",
    "CumulativeIncidenceAtHorizons",
    "SurvivalAtHorizons",
    "clinical_order",
    "cumulative_incidence_at_horizons",
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
