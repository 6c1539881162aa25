"""Risk groups computed by ``infantall.protocols`` and stored with the protocol version.

The registry never takes a risk group from a user: it derives it from the stored data
(anchors-reliability D3, "let the server derive it"), so the group always matches its
inputs, and records which version of the rule set produced it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.errors import InvalidInputError
from infantall.protocols import PROTOCOLS, stratify
from infantall.registry import audit
from infantall.registry.access import Principal, require_record_level
from infantall.registry.errors import ConflictError, ValidationFailedError
from infantall.registry.histories import to_histories
from infantall.registry.models import Event, RiskAssignment
from infantall.registry.patients import load_patient, new_registry_id
from infantall.registry.schemas import RiskGroupPublic

__all__ = ["compute_risk_groups", "list_risk_groups"]


def _public(row: RiskAssignment, patient_id: str) -> RiskGroupPublic:
    return RiskGroupPublic(
        registry_id=row.registry_id,
        patient_id=patient_id,
        protocol=row.protocol,
        protocol_version=row.protocol_version,
        risk_group=row.risk_group,
        decision=row.decision,
        computed_at=row.computed_at,
    )


def compute_risk_groups(
    session: Session, principal: Principal, patient_id: str, protocols: Sequence[str] | None = None
) -> list[RiskGroupPublic]:
    """Stratify a patient under ``protocols`` (default: all) and store the decisions."""
    patient, code = load_patient(session, principal, patient_id, write=True, operation="stratify")
    if patient.voided_at is not None:
        raise ConflictError("the patient is voided", "voided")
    chosen = list(protocols) if protocols else list(PROTOCOLS)
    unknown = [p for p in chosen if p not in PROTOCOLS]
    if unknown:
        raise ValidationFailedError(
            [
                InvalidInputError(
                    "protocols",
                    f"unknown protocol {p!r}; use one of {sorted(PROTOCOLS)}",
                    "invalid_choice",
                )
                for p in unknown
            ]
        )
    events = list(
        session.scalars(
            select(Event)
            .where(Event.patient_id == patient.id, Event.voided_at.is_(None))
            .order_by(Event.event_date, Event.id)
        )
    )
    history = to_histories([(patient, code)], {patient.id: events})[0]
    out = []
    for protocol in chosen:
        decision = stratify(history, protocol)
        row = RiskAssignment(
            registry_id=new_registry_id("R"),
            patient_id=patient.id,
            protocol=decision.protocol,
            protocol_version=decision.version,
            risk_group=decision.group,
            decision=decision.to_dict(),
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            principal,
            "create",
            "risk_assignment",
            row.registry_id,
            site_id=patient.site_id,
            new=audit.snapshot("risk_assignment", row),
        )
        out.append(_public(row, patient_id))
    session.commit()
    return out


def list_risk_groups(
    session: Session, principal: Principal, patient_id: str
) -> list[RiskGroupPublic]:
    """Every stored risk group of a patient, newest last (coordinators: 403
    ``pooled_only``)."""
    require_record_level(principal, "read a patient's risk groups")
    patient, _ = load_patient(session, principal, patient_id)
    rows = session.scalars(
        select(RiskAssignment)
        .where(RiskAssignment.patient_id == patient.id)
        .order_by(RiskAssignment.id)
    )
    return [_public(r, patient_id) for r in rows]
