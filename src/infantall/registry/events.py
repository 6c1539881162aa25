"""Clinical events of a patient: add, correct (with a reason) and void (never delete).

The new state of the whole patient history (patient + every non-voided event) is checked
by ``infantall.domain.PatientHistory`` before anything is written, so an event before
diagnosis or after death is refused with the domain's stable code.
"""

from __future__ import annotations

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.domain import Event as DomainEvent
from infantall.registry import audit
from infantall.registry.access import Principal, require_record_level
from infantall.registry.errors import ConflictError, NotFoundError
from infantall.registry.models import Event, Patient, utcnow
from infantall.registry.patients import (
    _active_events,
    _check_version,
    _fields_of,
    _flush_or_conflict,
    _void_row,
    load_patient,
    new_registry_id,
)
from infantall.registry.schemas import EventCorrect, EventPublic, VoidRequest
from infantall.registry.validation import domain_patient_dict, validate_history

__all__ = [
    "EVENT_ADAPTER",
    "add_event",
    "correct_event",
    "event_public",
    "list_events",
    "void_event",
]

#: Validates a JSON object as one domain event (the ``kind`` key selects the type).
EVENT_ADAPTER: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)
_EVENT_NOT_FOUND = "no such event"


def event_public(e: Event, patient_registry_id: str) -> EventPublic:
    """The public form of an event."""
    return EventPublic(
        registry_id=e.registry_id,
        patient_id=patient_registry_id,
        kind=e.kind,
        date=e.event_date,
        data=e.data,
        version=e.version,
        voided_at=e.voided_at,
        void_reason=e.void_reason,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def _check_history(
    session: Session,
    patient: Patient,
    site_code: str,
    replace: tuple[str, dict[str, object]] | None = None,
    drop: str | None = None,
) -> None:
    events = _active_events(session, patient.id)
    data = [e.data for e in events if e.registry_id != drop]
    ids = [e.registry_id for e in events if e.registry_id != drop]
    if replace is not None:
        event_id, new = replace
        if event_id in ids:
            data[ids.index(event_id)] = new
        else:
            data.append(new)
            ids.append(event_id)
    patient_dict = domain_patient_dict(patient.registry_id, site_code, _fields_of(patient))
    validate_history(patient_dict, data, ids, focus=replace[0] if replace else None)


def list_events(
    session: Session, principal: Principal, patient_id: str, *, include_voided: bool = False
) -> list[EventPublic]:
    """The events of a patient in the caller's scope, in date order (coordinators: 403
    ``pooled_only``)."""
    require_record_level(principal, "read a patient's events")
    patient, _ = load_patient(session, principal, patient_id)
    query = select(Event).where(Event.patient_id == patient.id)
    if not include_voided:
        query = query.where(Event.voided_at.is_(None))
    rows = session.scalars(query.order_by(Event.event_date, Event.id))
    return [event_public(e, patient_id) for e in rows]


def add_event(
    session: Session, principal: Principal, patient_id: str, event: DomainEvent
) -> EventPublic:
    """Record an event of a patient of the caller's site."""
    patient, code = load_patient(session, principal, patient_id, write=True, operation="add_event")
    if patient.voided_at is not None:
        raise ConflictError("the patient is voided", "voided")
    registry_id = new_registry_id("E")
    data = event.to_dict()
    _check_history(session, patient, code, replace=(registry_id, data))
    now = utcnow()
    row = Event(
        registry_id=registry_id,
        patient_id=patient.id,
        kind=event.kind,
        event_date=event.date,
        data=data,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    new = audit.snapshot("event", row)
    entry = audit.audit_row(
        principal, "create", "event", registry_id, site_id=patient.site_id, new=new
    )
    # Inserted and chained at the commit (PostgreSQL: with its link, in one statement).
    audit.record_at_commit(session, entry)
    session.commit()
    return event_public(row, patient_id)


def _load_event(
    session: Session, principal: Principal, patient_id: str, event_id: str, operation: str
) -> tuple[Patient, str, Event]:
    patient, code = load_patient(session, principal, patient_id, write=True, operation=operation)
    row = session.scalar(
        select(Event).where(Event.registry_id == event_id, Event.patient_id == patient.id)
    )
    if row is None:
        raise NotFoundError(_EVENT_NOT_FOUND)
    if row.voided_at is not None:
        raise ConflictError("the event is voided", "voided")
    return patient, code, row


def correct_event(
    session: Session, principal: Principal, patient_id: str, event_id: str, data: EventCorrect
) -> EventPublic:
    """Correct an event (same kind; a reason; the version read must be current)."""
    patient, code, row = _load_event(session, principal, patient_id, event_id, "correct_event")
    _check_version(row.version, data.version, f"event {event_id}")
    if data.event.kind != row.kind:
        raise ConflictError(
            f"an event of kind {row.kind} cannot become {data.event.kind}; "
            "void it and add a new one",
            "kind_change",
        )
    new = data.event.to_dict()
    _check_history(session, patient, code, replace=(event_id, new))
    old = audit.snapshot("event", row)
    row.data = new
    row.event_date = data.event.date
    row.updated_at = utcnow()
    _flush_or_conflict(session)
    audit.record(
        session,
        principal,
        "correct",
        "event",
        event_id,
        site_id=patient.site_id,
        old=old,
        new=audit.snapshot("event", row),
        reason=data.reason,
    )
    session.commit()
    return event_public(row, patient_id)


def void_event(
    session: Session, principal: Principal, patient_id: str, event_id: str, data: VoidRequest
) -> EventPublic:
    """Void an event (never delete) with a reason."""
    patient, _code, row = _load_event(session, principal, patient_id, event_id, "void_event")
    _void_row(session, principal, "event", event_id, row, patient.site_id, data)
    return event_public(row, patient_id)
