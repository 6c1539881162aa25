"""``registry verify``: everything the registry can check about itself, in one report.

* the database's own integrity (:func:`infantall.registry.db.integrity_check`);
* every stored history re-validated by the domain (each invalid one named, with its code);
* the audit trail's hash chain recomputed (each changed, replaced, inserted or missing row
  named by id), and optionally published daily anchors compared with the stored chain;
* replaying the audit trail rebuilds the current data;
* every active e-signature still matches its record's content (a signed record that changed
  is reported by signature id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from infantall.registry.audit import (
    audit_entries,
    compare_anchors,
    current_state,
    daily_anchors,
    replay,
    verify_chain,
)
from infantall.registry.db import Database, integrity_check
from infantall.registry.histories import stored_history_problems
from infantall.registry.models import AuditEntry
from infantall.registry.signatures import signature_problems

__all__ = ["PROBLEM_COLUMNS", "VerificationReport", "verify_registry"]

#: Columns of one problem found by :func:`verify_registry`.
PROBLEM_COLUMNS = ("check", "kind", "id", "detail")


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What :func:`verify_registry` found; ``ok`` when ``problems`` is empty."""

    audit_rows: int
    records: int
    patients_checked: int
    anchors: tuple[dict[str, Any], ...]
    problems: tuple[dict[str, Any], ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.problems

    def _status(self, check: str) -> str:
        found = sum(1 for p in self.problems if p["check"] == check)
        return "ok" if not found else f"{found} problem(s)"

    def as_record(self) -> dict[str, Any]:
        """The summary as one flat record."""
        return {
            "integrity": self._status("integrity"),
            "histories": self._status("history"),
            "audit_chain": self._status("audit_chain"),
            "audit_replay": self._status("audit_replay"),
            "signatures": self._status("signatures"),
            "records": self.records,
            "patients": self.patients_checked,
            "audit_rows": self.audit_rows,
        }

    @property
    def summary(self) -> pd.DataFrame:
        """One row per problem (columns :data:`PROBLEM_COLUMNS`)."""
        return pd.DataFrame(list(self.problems), columns=list(PROBLEM_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the summary record, every problem and the daily anchors."""
        return {
            "ok": self.ok,
            "summary": self.as_record(),
            "problems": [dict(p) for p in self.problems],
            "anchors": [dict(a) for a in self.anchors],
        }


def _problem(check: str, kind: str, ident: Any, detail: str) -> dict[str, Any]:
    return {
        "check": check,
        "kind": kind,
        "id": None if ident is None else str(ident),
        "detail": detail,
    }


def verify_registry(
    database: Database, *, published_anchors: Sequence[Mapping[str, Any]] = ()
) -> VerificationReport:
    """Run every check of the registry (read-only) and report each problem found."""
    problems = [
        _problem("integrity", "database", None, p) for p in integrity_check(database.engine)
    ]
    with database.read_sessions() as session:
        histories = stored_history_problems(session)
        problems += [
            _problem("history", p.code, p.patient_id, f"{p.site}: {p.field}: {p.reason}")
            for p in histories
        ]
        chain = verify_chain(session) + compare_anchors(session, published_anchors)
        problems += [
            _problem(
                "audit_chain",
                c.kind,
                c.audit_id if c.audit_id is not None else f"seq {c.seq}",
                c.detail,
            )
            for c in chain
        ]
        rebuilt = replay(audit_entries(session))
        current = current_state(session)
        differing = sorted(
            k for k in current.keys() | rebuilt.keys() if current.get(k) != rebuilt.get(k)
        )
        problems += [
            _problem(
                "audit_replay", "differs", f"{entity} {key}", "replaying the trail gives other data"
            )
            for entity, key in differing
        ]
        problems += [
            _problem(
                "signatures",
                "signed_content_changed",
                s.signature_id,
                f"patient {s.patient_id}: signed {s.signed_digest[:12]}, "
                f"now {s.current_digest[:12]}",
            )
            for s in signature_problems(session)
        ]
        rows = int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
        anchors = tuple(
            {"day": a.day.isoformat(), "seq": a.seq, "row_hash": a.row_hash}
            for a in daily_anchors(session)
        )
    return VerificationReport(
        audit_rows=rows,
        records=len(current),
        patients_checked=sum(1 for k in current if k[0] == "patient"),
        anchors=anchors,
        problems=tuple(problems),
    )
