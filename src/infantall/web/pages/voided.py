"""The voided records of a user's scope: patients and events, with when and why.

Nothing is ever deleted (OpenMRS "void, never purge"): a voided record leaves the lists
and analyses, and this view is where site editors and coordinators find it again. The
rows come from :func:`infantall.registry.histories.scoped_rows` with voided rows included.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from infantall.domain import EVENT_TYPES
from infantall.registry.access import Principal
from infantall.registry.histories import scoped_rows
from infantall.registry.models import Role

__all__ = ["VOIDED_ROLES", "VoidedRecord", "voided_records"]

#: Roles that see the voided records (site editors of their site, coordinators of all).
VOIDED_ROLES = frozenset({Role.site_editor, Role.coordinator})


@dataclass(frozen=True, slots=True)
class VoidedRecord:
    """One voided patient or event as the voided view lists it."""

    what: str
    registry_id: str
    patient_id: str
    local_code: str
    site_code: str
    date: dt.date | None
    voided_at: dt.datetime
    reason: str


def voided_records(session: Session, user: Principal) -> list[VoidedRecord]:
    """Voided patients, and voided events of every patient, most recently voided first."""
    patients, events = scoped_rows(session, user, include_voided=True)
    out: list[VoidedRecord] = []
    for p, code in patients:
        if p.voided_at is not None:
            reason = p.void_reason or ""
            out.append(VoidedRecord("Patient", p.registry_id, p.registry_id, p.local_code, code,
                                    p.diagnosis_date, p.voided_at, reason))  # fmt: skip
        for e in events.get(p.id, []):
            if e.voided_at is None:
                continue
            kind = EVENT_TYPES[e.kind].label if e.kind in EVENT_TYPES else e.kind
            out.append(VoidedRecord(kind, e.registry_id, p.registry_id, p.local_code, code,
                                    e.event_date, e.voided_at, e.void_reason or ""))  # fmt: skip
    return sorted(out, key=lambda r: r.voided_at, reverse=True)
