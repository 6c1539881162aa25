"""Data-quality queries over stored patient histories (what a coordinator sends to sites).

The domain model refuses impossible records when they are written (an event before
diagnosis or after death: ``event_before_diagnosis``, ``events_out_of_order``). These
queries list records that were accepted but need a data manager's look: missing KMT2A
status, overdue follow-up, and clinically out-of-order sequences that are possible but
usually a typing error. Each query has a stable code (:data:`QUALITY_QUERIES`) tested
against this table.

:func:`check_quality` is the one entry point of the CLI (``infantall registry quality``),
the API (``GET /api/v1/quality``) and the coordinator's page: a frozen
:class:`QualityReport` with a ``summary`` table (one row per query) and ``to_dict()``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from infantall.domain import KMT2AStatus, MRDTimePoint, PatientHistory
from infantall.errors import InvalidInputError

__all__ = [
    "FINDING_COLUMNS",
    "FOLLOW_UP_OVERDUE_DAYS",
    "MRD_ORDER",
    "QUALITY_QUERIES",
    "QualityFinding",
    "QualityReport",
    "check_quality",
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


#: Columns of :attr:`QualityReport.findings_table` (one row per finding).
FINDING_COLUMNS = ("query", "site", "patient_id", "detail")


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Every data-quality query run over a set of histories on one day.

    ``findings`` are ordered by query (the order of :data:`QUALITY_QUERIES`), site, patient.
    """

    as_of: dt.date
    overdue_days: int
    patients: int
    findings: tuple[QualityFinding, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Findings per query code, every code of :data:`QUALITY_QUERIES` present (0 or more)."""
        found = Counter(f.query for f in self.findings)
        return {code: found.get(code, 0) for code in QUALITY_QUERIES}

    @property
    def summary(self) -> pd.DataFrame:
        """One row per query: ``query`` (code), ``description`` and ``records`` found."""
        counts = self.counts
        return pd.DataFrame(
            {
                "query": list(QUALITY_QUERIES),
                "description": list(QUALITY_QUERIES.values()),
                "records": [counts[c] for c in QUALITY_QUERIES],
            }
        )

    @property
    def findings_table(self) -> pd.DataFrame:
        """One row per finding (columns :data:`FINDING_COLUMNS`)."""
        return pd.DataFrame(
            [[getattr(f, c) for c in FINDING_COLUMNS] for f in self.findings],
            columns=list(FINDING_COLUMNS),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: the day, the overdue threshold, counts per query, every finding."""
        counts = self.counts
        return {
            "as_of": self.as_of.isoformat(),
            "overdue_days": self.overdue_days,
            "patients": self.patients,
            "queries": [
                {"query": c, "description": d, "records": counts[c]}
                for c, d in QUALITY_QUERIES.items()
            ],
            "findings": [asdict(f) for f in self.findings],
        }


def check_quality(
    histories: Iterable[PatientHistory],
    as_of: dt.date,
    *,
    overdue_days: int = FOLLOW_UP_OVERDUE_DAYS,
) -> QualityReport:
    """Run every query of :data:`QUALITY_QUERIES` over ``histories`` on the day ``as_of``.

    ``overdue_days`` is the follow-up threshold of ``follow_up_overdue`` (default
    :data:`FOLLOW_UP_OVERDUE_DAYS`).

    Raises
    ------
    InvalidInputError
        ``out_of_range`` when ``overdue_days`` is below 1.
    """
    if overdue_days < 1:
        raise InvalidInputError(
            "overdue_days", f"must be at least 1 day, not {overdue_days}", "out_of_range"
        )
    chosen = list(histories)
    findings = quality_findings(chosen, as_of, overdue_days=overdue_days)
    return QualityReport(as_of, overdue_days, len(chosen), tuple(findings))
