"""Domain histories of the patients in the caller's scope (what analyses work on)."""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.domain import ImplausibleValueWarning, PatientHistory
from infantall.registry.access import READ_ROLES, Principal, require_role
from infantall.registry.models import Event, Patient, Site
from infantall.registry.patients import _fields_of
from infantall.registry.validation import domain_patient_dict

__all__ = ["scoped_rows", "to_histories"]


def scoped_rows(
    session: Session, principal: Principal, *, include_voided: bool = False
) -> tuple[list[tuple[Patient, str]], dict[int, list[Event]]]:
    """Patients (with site codes) in the caller's scope and their events, in id order."""
    require_role(principal, READ_ROLES, "read patients")
    query = select(Patient, Site.code).join(Site).order_by(Patient.id)
    if not principal.reads_all_sites:
        query = query.where(Patient.site_id == (principal.site_id or -1))
    if not include_voided:
        query = query.where(Patient.voided_at.is_(None))
    patients = [(p, code) for p, code in session.execute(query)]
    events: dict[int, list[Event]] = defaultdict(list)
    ids = [p.id for p, _ in patients]
    chunk = 5000  # keep IN lists well below SQLite's variable limit
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        ev_query = select(Event).where(Event.patient_id.in_(part))
        if not include_voided:
            ev_query = ev_query.where(Event.voided_at.is_(None))
        for e in session.scalars(ev_query.order_by(Event.event_date, Event.id)):
            events[e.patient_id].append(e)
    return patients, events


def to_histories(
    patients: Sequence[tuple[Patient, str]], events: dict[int, list[Event]]
) -> list[PatientHistory]:
    """Domain histories of stored rows (they were validated when written)."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImplausibleValueWarning)
        for p, code in patients:
            patient = domain_patient_dict(p.registry_id, code, _fields_of(p))
            patient["age_days"] = p.age_days
            out.append(
                PatientHistory.from_dict(
                    {"patient": patient, "events": [e.data for e in events.get(p.id, [])]}
                )
            )
    return out
