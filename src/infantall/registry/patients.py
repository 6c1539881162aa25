"""Patients: register, read, list, correct and void, within the caller's scope.

Every function takes the caller (:class:`~infantall.registry.access.Principal`) and applies
the same rules, so the JSON API, the web pages and the CSV import cannot differ
(anchors-reliability D1, A1). A patient of another site is reported exactly like a
missing one (404) and the attempt is written to the audit trail as ``access_denied``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from infantall.domain import Patient as DomainPatient
from infantall.errors import InvalidInputError
from infantall.registry import audit
from infantall.registry.access import (
    READ_ROLES,
    WRITE_ROLES,
    Principal,
    can_read_site,
    can_write_site,
    require_record_level,
    require_role,
)
from infantall.registry.errors import ConflictError, NotFoundError, ValidationFailedError
from infantall.registry.locks import ensure_unlocked
from infantall.registry.models import AuditEntry, Event, Patient, Role, Site, utcnow
from infantall.registry.schemas import (
    PatientCreate,
    PatientPage,
    PatientPublic,
    PatientUpdate,
    VoidRequest,
)
from infantall.registry.validation import (
    CHOICE_FIELDS,
    PATIENT_FIELDS,
    domain_patient_dict,
    validate_history,
    validate_patient,
)

__all__ = [
    "NOT_FOUND_MESSAGE",
    "PatientFilters",
    "create_patient",
    "get_patient",
    "list_patients",
    "load_patient",
    "new_registry_id",
    "patient_history",
    "patient_public",
    "update_patient",
    "void_patient",
]

#: The one message of every 404 for a patient (missing or out of scope alike).
NOT_FOUND_MESSAGE = "no such patient"
#: Fields a correction cannot empty (a choice can: back to *not entered*).
_NOT_NULL = frozenset(PATIENT_FIELDS) - {"wbc", "day8_blasts", "enrollment_date", *CHOICE_FIELDS}


def new_registry_id(prefix: str) -> str:
    """A random, non-enumerable registry id such as ``P-3f9c2a1b7d4e``."""
    return f"{prefix}-{secrets.token_hex(8)}"


def patient_public(p: Patient, site_code: str, warnings: list[str] | None = None) -> PatientPublic:
    """The public form of a patient."""
    return PatientPublic(
        registry_id=p.registry_id,
        site_code=site_code,
        local_code=p.local_code,
        birth_date=p.birth_date,
        diagnosis_date=p.diagnosis_date,
        age_days=p.age_days,
        sex=p.sex,
        wbc=p.wbc,
        immunophenotype=p.immunophenotype,
        cd10=p.cd10,
        kmt2a=p.kmt2a,
        fusion_partner=p.fusion_partner,
        cns=p.cns,
        day8_blasts=p.day8_blasts,
        prednisone_response=p.prednisone_response,
        day15_marrow=p.day15_marrow,
        enrollment_date=p.enrollment_date,
        protocol=p.protocol,
        notes=p.notes,
        version=p.version,
        voided_at=p.voided_at,
        void_reason=p.void_reason,
        created_at=p.created_at,
        updated_at=p.updated_at,
        warnings=warnings or [],
    )


def _deny(
    session: Session, principal: Principal, registry_id: str, operation: str
) -> NotFoundError:
    """Log an out-of-scope attempt in its own transaction; return the 404 to raise."""
    session.commit()  # end the read transaction first (SQLite: no snapshot upgrade)
    audit.record(
        session,
        principal,
        "access_denied",
        "patient",
        registry_id[:64],
        new={"operation": operation},
    )
    session.commit()
    return NotFoundError(NOT_FOUND_MESSAGE)


#: The patient by registry id, with its site code; built once (a statement built per call
#: costs more Python than running it: this runs inside every write's critical section).
_PATIENT = (
    select(Patient, Site.code)
    .join(Site, Site.id == Patient.site_id)
    .where(Patient.registry_id == bindparam("registry_id"))
)
_PATIENT_FOR_UPDATE = _PATIENT.with_for_update(of=Patient).execution_options(populate_existing=True)
_ACTIVE_EVENTS = (
    select(Event)
    .where(Event.patient_id == bindparam("patient_id"), Event.voided_at.is_(None))
    .order_by(Event.event_date, Event.id)
)


def load_patient(
    session: Session,
    principal: Principal,
    registry_id: str,
    *,
    write: bool = False,
    operation: str = "read",
    roles: frozenset[Role] | None = None,
    data_change: bool = True,
) -> tuple[Patient, str]:
    """The patient ``registry_id`` and its site code, if the caller may reach it.

    ``write`` loads it for a change (row-locked; refused while the patient is signed and
    locked, unless ``data_change`` is false: a write about the patient, not of its data
    set). ``roles`` loads it row-locked for an e-signature operation by those roles, within
    the caller's read scope.

    Raises
    ------
    PermissionDeniedError
        The caller's role cannot read (or write) patients at all.
    NotFoundError
        No such patient, or one outside the caller's scope (logged as ``access_denied``).
    ConflictError
        ``record_locked``: a change of a signed, locked patient.
    """
    wanted = roles if roles is not None else (WRITE_ROLES if write else READ_ROLES)
    require_role(principal, wanted, f"{operation} patients")
    locked = (write or roles is not None) and session.get_bind().dialect.name != "sqlite"
    # Serialise every change of one patient's history: the row lock is held until commit,
    # so a concurrent writer re-reads the history only after this one is stored (READ
    # COMMITTED sees it then). SQLite serialises writers with BEGIN IMMEDIATE.
    query = _PATIENT_FOR_UPDATE if locked else _PATIENT
    row = session.execute(query, {"registry_id": registry_id}).first()
    if row is None:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    patient, code = row
    allowed = can_write_site if write else can_read_site
    if not allowed(principal, patient.site_id):
        raise _deny(session, principal, registry_id, operation)
    if write and data_change:
        ensure_unlocked(session, patient.id, registry_id)
    return patient, code


def _stored(domain: DomainPatient, entered: Mapping[str, Any]) -> dict[str, Any]:
    """Column values from the validated domain patient (with what the domain derived,
    such as the prednisone response class from the day-8 blast count).

    A choice missing from ``entered`` (the fields as given) that the domain left at its
    ``unknown`` default is stored empty: *not entered*, apart from an entered ``unknown``.
    """
    values = {name: getattr(domain, name) for name in (*PATIENT_FIELDS, "age_days")}
    stored = {k: (v.value if isinstance(v, Enum) else v) for k, v in values.items()}
    for name in CHOICE_FIELDS:
        if entered.get(name) is None and stored[name] == "unknown":
            stored[name] = None
    return stored


def _fields_of(p: Patient) -> dict[str, Any]:
    return {name: getattr(p, name) for name in PATIENT_FIELDS}


def _active_events(session: Session, patient_id: int) -> list[Event]:
    return list(session.scalars(_ACTIVE_EVENTS, {"patient_id": patient_id}))


def _duplicate(session: Session, site_id: int, local_code: str, exclude: int | None) -> None:
    query = select(Patient.registry_id).where(
        Patient.site_id == site_id, Patient.local_code == local_code
    )
    if exclude is not None:
        query = query.where(Patient.id != exclude)
    existing = session.scalar(query)
    if existing is not None:
        raise ConflictError(
            f"local code {local_code} is already patient {existing} at this site",
            "duplicate_patient",
        )


def create_patient(session: Session, principal: Principal, data: PatientCreate) -> PatientPublic:
    """Register a patient at the caller's site (site editors)."""
    require_role(principal, WRITE_ROLES, "register patients")
    assert principal.site_id is not None  # a site_editor always has a site (admin checks)
    code = session.scalar(select(Site.code).where(Site.id == principal.site_id))
    if code is None:
        raise NotFoundError("the caller's site does not exist")
    registry_id = new_registry_id("P")
    fields = data.model_dump(include=set(PATIENT_FIELDS))
    domain, warnings = validate_patient(domain_patient_dict(registry_id, code, fields))
    _duplicate(session, principal.site_id, data.local_code, None)
    now = utcnow()
    patient = Patient(
        registry_id=registry_id,
        site_id=principal.site_id,
        local_code=data.local_code,
        notes=data.notes,
        created_at=now,
        updated_at=now,
        **_stored(domain, fields),
    )
    session.add(patient)
    _flush_or_conflict(session)
    # Inserted and chained at the commit (PostgreSQL: with its link, in one statement).
    audit.record_at_commit(session, audit.audit_row(
        principal, "create", "patient", registry_id, site_id=patient.site_id,
        new=audit.snapshot("patient", patient),
    ))  # fmt: skip
    _commit_or_conflict(session)
    return patient_public(patient, code, warnings)


def _flush_or_conflict(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ConflictError(
            "a patient with this local code already exists at this site", "duplicate_patient"
        ) from None
    except StaleDataError:
        session.rollback()
        raise ConflictError(
            "the record was changed meanwhile; reload it", "stale_version"
        ) from None


def _commit_or_conflict(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError(
            "a patient with this local code already exists at this site", "duplicate_patient"
        ) from None


def get_patient(session: Session, principal: Principal, registry_id: str) -> PatientPublic:
    """One patient in the caller's scope (coordinators: 403 ``pooled_only``)."""
    require_record_level(principal, "read a patient record")
    patient, code = load_patient(session, principal, registry_id)
    return patient_public(patient, code)


@dataclass(frozen=True, slots=True)
class PatientFilters:
    """Filters of a patient list (all optional; combined with AND)."""

    site_code: str | None = None
    sex: str | None = None
    kmt2a: str | None = None
    diagnosed_from: dt.date | None = None
    diagnosed_to: dt.date | None = None
    max_age_days: int | None = None
    local_code: str | None = None
    include_voided: bool = False


def _scoped(principal: Principal, query: Select[Patient, str]) -> Select[Patient, str]:
    if principal.reads_all_sites:
        return query
    return query.where(Patient.site_id == (principal.site_id or -1))


def _filtered(query: Select[Patient, str], f: PatientFilters) -> Select[Patient, str]:
    if f.site_code is not None:
        query = query.where(Site.code == f.site_code)
    if f.sex is not None:
        query = query.where(Patient.sex == f.sex)
    if f.kmt2a is not None:
        query = query.where(Patient.kmt2a == f.kmt2a)
    if f.diagnosed_from is not None:
        query = query.where(Patient.diagnosis_date >= f.diagnosed_from)
    if f.diagnosed_to is not None:
        query = query.where(Patient.diagnosis_date <= f.diagnosed_to)
    if f.max_age_days is not None:
        query = query.where(Patient.age_days <= f.max_age_days)
    if f.local_code is not None:
        query = query.where(Patient.local_code == f.local_code)
    if not f.include_voided:
        query = query.where(Patient.voided_at.is_(None))
    return query


def list_patients(
    session: Session,
    principal: Principal,
    filters: PatientFilters | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
) -> PatientPage:
    """A page of patients in the caller's scope, newest registration last (coordinators:
    403 ``pooled_only``)."""
    require_role(principal, READ_ROLES, "list patients")
    require_record_level(principal, "list patients")
    f = filters or PatientFilters()
    base = _filtered(_scoped(principal, select(Patient, Site.code).join(Site)), f)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(base.order_by(Patient.id).limit(limit).offset(offset)).all()
    return PatientPage(
        items=[patient_public(p, code) for p, code in rows], total=total, limit=limit, offset=offset
    )


def _check_version(current: int, given: int, what: str) -> None:
    if current != given:
        raise ConflictError(
            f"{what} is at version {current}, not {given}: it was changed meanwhile; reload it",
            "stale_version",
        )


def update_patient(
    session: Session, principal: Principal, registry_id: str, data: PatientUpdate
) -> PatientPublic:
    """Correct a patient (a reason is required; the version read must be current)."""
    patient, code = load_patient(session, principal, registry_id, write=True, operation="update")
    if patient.voided_at is not None:
        raise ConflictError("the patient is voided", "voided")
    _check_version(patient.version, data.version, f"patient {registry_id}")
    changes = data.model_dump(exclude_unset=True, exclude={"version", "reason"})
    nulls = sorted(
        k for k, v in changes.items() if v is None and (k in _NOT_NULL or k == "local_code")
    )
    if nulls:
        raise ValidationFailedError(
            [InvalidInputError(k, "this field cannot be emptied", "missing_field") for k in nulls]
        )
    fields = _fields_of(patient) | {k: v for k, v in changes.items() if k in PATIENT_FIELDS}
    if "day8_blasts" in changes and "prednisone_response" not in changes:
        fields["prednisone_response"] = "unknown"  # derived again from the new count
    domain, warnings = validate_patient(domain_patient_dict(registry_id, code, fields))
    events = _active_events(session, patient.id)
    validate_history(domain.to_dict(), [e.data for e in events], [e.registry_id for e in events])
    if "local_code" in changes:
        _duplicate(session, patient.site_id, changes["local_code"], patient.id)
    old = audit.snapshot("patient", patient)
    if "local_code" in changes:
        patient.local_code = changes["local_code"]
    if "notes" in changes:
        patient.notes = changes["notes"]
    for key, value in _stored(domain, fields).items():
        setattr(patient, key, value)
    patient.updated_at = utcnow()
    _flush_or_conflict(session)
    audit.record_at_commit(session, audit.audit_row(
        principal, "update", "patient", registry_id, site_id=patient.site_id, old=old,
        new=audit.snapshot("patient", patient), reason=data.reason,
    ))  # fmt: skip
    _commit_or_conflict(session)
    return patient_public(patient, code, warnings)


def void_patient(
    session: Session, principal: Principal, registry_id: str, data: VoidRequest
) -> PatientPublic:
    """Void a patient (never delete): it leaves lists but stays in the audit trail."""
    patient, code = load_patient(session, principal, registry_id, write=True, operation="void")
    if patient.voided_at is not None:
        raise ConflictError("the patient is already voided", "voided")
    _void_row(session, principal, "patient", registry_id, patient, patient.site_id, data)
    return patient_public(patient, code)


def _void_row(
    session: Session,
    principal: Principal,
    entity: str,
    record_id: str,
    row: Patient | Event,
    site_id: int,
    data: VoidRequest,
) -> None:
    """Void ``row`` (patient or event; never deleted): check its version, mark it voided
    with the reason, audit old and new values, commit."""
    _check_version(row.version, data.version, f"{entity} {record_id}")
    old = audit.snapshot(entity, row)
    row.voided_at = utcnow()
    row.void_reason = data.reason
    row.updated_at = row.voided_at
    _flush_or_conflict(session)
    audit.record_at_commit(session, audit.audit_row(
        principal, "void", entity, record_id, site_id=site_id, old=old,
        new=audit.snapshot(entity, row), reason=data.reason,
    ))  # fmt: skip
    session.commit()


def patient_history(session: Session, principal: Principal, registry_id: str) -> list[AuditEntry]:
    """The audit rows of a patient and of its events, oldest first (viewing is audited;
    coordinators: 403 ``pooled_only``)."""
    require_record_level(principal, "read a patient's history")
    patient, _ = load_patient(session, principal, registry_id, operation="read_history")
    event_ids = list(
        session.scalars(select(Event.registry_id).where(Event.patient_id == patient.id))
    )
    entries = list(
        session.scalars(
            select(AuditEntry)
            .where(
                ((AuditEntry.entity == "patient") & (AuditEntry.entity_id == registry_id))
                | ((AuditEntry.entity == "event") & AuditEntry.entity_id.in_(event_ids))
            )
            .where(AuditEntry.action.in_(sorted(audit.DATA_ACTIONS)))
            .order_by(AuditEntry.id)
        )
    )
    session.commit()
    audit.record(session, principal, "audit_view", "patient", registry_id, site_id=patient.site_id)
    session.commit()
    return entries
