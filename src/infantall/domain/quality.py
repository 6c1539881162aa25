"""Data-quality queries over stored patient histories (what a coordinator sends to sites).

The domain model refuses impossible records when they are written (an event before
diagnosis or after death: ``event_before_diagnosis``, ``events_out_of_order``). These
queries list records that were accepted but need a data manager's look: missing KMT2A
status, overdue follow-up, and clinically out-of-order sequences that are possible but
usually a typing error. Each query has a stable code (:data:`QUALITY_QUERIES`) tested
against this table.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from infantall.domain import KMT2AStatus, MRDTimePoint, PatientHistory

__all__ = [
    "FOLLOW_UP_OVERDUE_DAYS",
    "MRD_ORDER",
    "QUALITY_QUERIES",
    "QualityFinding",
    "follow_up_overdue",
    "quality_findings",
]

#: A living patient whose last information is older than this is "follow-up overdue".
#: Infant-ALL registries ask sites for follow-up at least once a year (Interfant-06 case
#: report forms are yearly after the end of therapy); a registry may choose another value.
FOLLOW_UP_OVERDUE_DAYS = 365

#: Stable code -> what the query finds.
QUALITY_QUERIES: dict[str, str] = {
    "missing_kmt2a": "KMT2A status unknown: every infant-ALL protocol stratifies on it.",
    "follow_up_overdue": (
        f"Alive, and the last information is more than {FOLLOW_UP_OVERDUE_DAYS} days old."
    ),
    "relapse_before_response": "A relapse is dated before the end-of-induction response.",
    "hsct_before_response": "An HSCT is dated before the end-of-induction response.",
    "relapse_without_remission": "A relapse is recorded, but no complete remission.",
    "mrd_out_of_sequence": "MRD time points are dated against their protocol order.",
}

#: Protocol order of MRD time points (earlier first); others are not compared.
MRD_ORDER: tuple[MRDTimePoint, ...] = (
    MRDTimePoint.day_15,
    MRDTimePoint.end_of_induction,
    MRDTimePoint.end_of_early_consolidation,
    MRDTimePoint.end_of_consolidation,
    MRDTimePoint.start_of_octadad,
)


@dataclass(frozen=True, slots=True)
class QualityFinding:
    """One record that a query found: the query code, patient id, site and what is wrong."""

    query: str
    patient_id: str
    site: str
    detail: str


def follow_up_overdue(h: PatientHistory, today: dt.date, days: int) -> bool:
    """Whether a living patient's last information is more than ``days`` before ``today``."""
    last = h.last_follow_up
    return h.death is None and last is not None and (today - last).days > days


def _missing_kmt2a(h: PatientHistory) -> str | None:
    return "KMT2A status is unknown" if h.patient.kmt2a is KMT2AStatus.unknown else None


def _relapse_before_response(h: PatientHistory) -> str | None:
    resp = h.induction_response
    if resp is None:
        return None
    early = [r.date for r in h.relapses if r.date < resp.date]
    return f"relapse {early[0]} before response {resp.date}" if early else None


def _hsct_before_response(h: PatientHistory) -> str | None:
    resp = h.induction_response
    if resp is None:
        return None
    early = [t.date for t in h.transplants if t.date < resp.date]
    return f"HSCT {early[0]} before response {resp.date}" if early else None


def _relapse_without_remission(h: PatientHistory) -> str | None:
    resp = h.induction_response
    if h.relapses and (resp is None or not resp.is_cr):
        return f"relapse {h.relapses[0].date} without a recorded CR"
    return None


def _mrd_out_of_sequence(h: PatientHistory) -> str | None:
    rank = {tp: i for i, tp in enumerate(MRD_ORDER)}
    dated = sorted(
        ((rank[e.time_point], e.date, e.time_point.value) for e in h.events if e.kind == "mrd"
         and e.time_point in rank),
        key=lambda x: x[0],
    )  # fmt: skip
    for (_, d1, tp1), (_, d2, tp2) in itertools.pairwise(dated):
        if d2 < d1:
            return f"MRD {tp2} on {d2} is before {tp1} on {d1}"
    return None


_CHECKS: dict[str, Callable[[PatientHistory], str | None]] = {
    "missing_kmt2a": _missing_kmt2a,
    "relapse_before_response": _relapse_before_response,
    "hsct_before_response": _hsct_before_response,
    "relapse_without_remission": _relapse_without_remission,
    "mrd_out_of_sequence": _mrd_out_of_sequence,
}


def quality_findings(
    histories: Iterable[PatientHistory],
    today: dt.date,
    *,
    overdue_days: int = FOLLOW_UP_OVERDUE_DAYS,
) -> list[QualityFinding]:
    """Every finding of every query of :data:`QUALITY_QUERIES`, by query then patient."""
    found: list[QualityFinding] = []
    for h in histories:
        pid, site = h.patient.patient_id, h.patient.site or ""
        for code, check in _CHECKS.items():
            detail = check(h)
            if detail is not None:
                found.append(QualityFinding(code, pid, site, detail))
        if follow_up_overdue(h, today, overdue_days):
            found.append(
                QualityFinding(
                    "follow_up_overdue", pid, site, f"last information {h.last_follow_up}"
                )
            )
    order = list(QUALITY_QUERIES)
    return sorted(found, key=lambda f: (order.index(f.query), f.site, f.patient_id))
