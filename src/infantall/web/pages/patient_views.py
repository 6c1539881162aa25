"""What a patient's pages show: the domain history, live risk decisions, audit changes.

Built from the registry services (:func:`~infantall.registry.patients.get_patient`,
:func:`~infantall.registry.events.list_events`,
:func:`~infantall.services.risk_groups.list_risk_groups`,
:func:`~infantall.registry.patients.patient_history`) and :func:`infantall.protocols.stratify_all`.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infantall.domain import PatientHistory
from infantall.registry.models import AuditEntry
from infantall.registry.schemas import EventPublic, PatientPublic, RiskGroupPublic
from infantall.registry.validation import domain_patient_dict

__all__ = [
    "AuditChange",
    "audit_changes",
    "domain_history",
    "latest_stored",
    "live_decisions",
    "patient_form_values",
]

_HIDDEN_AUDIT_KEYS = frozenset({"updated_at", "created_at", "id", "patient_id", "site_id"})


def domain_history(patient: PatientPublic, events: Sequence[EventPublic]) -> PatientHistory:
    """The patient's domain history (stored rows were validated when written)."""
    data = domain_patient_dict(patient.registry_id, patient.site_code, patient.model_dump())
    data["age_days"] = patient.age_days
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implausible values were reported when written
        return PatientHistory.from_dict(
            {"patient": data, "events": [e.data for e in events if e.voided_at is None]}
        )


def live_decisions(history: PatientHistory) -> dict[str, Any]:
    """The decision of every protocol for the stored data (``infantall.protocols``)."""
    from infantall.protocols import stratify_all

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dict(stratify_all(history))


def latest_stored(rows: Sequence[RiskGroupPublic]) -> dict[str, RiskGroupPublic]:
    """The most recently stored risk group per protocol."""
    out: dict[str, RiskGroupPublic] = {}
    for r in rows:
        out[r.protocol] = r
    return out


@dataclass(frozen=True, slots=True)
class AuditChange:
    """One audit row as the history tab shows it."""

    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    reason: str | None
    changes: list[tuple[str, str, str]]


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if k not in ("kind",))
    return str(value)


def _flat(values: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if isinstance(value, Mapping):
            out.update({f"{key}.{k}": v for k, v in value.items() if k != "kind"})
        else:
            out[key] = value
    return out


def _diff(
    old_values: Mapping[str, Any] | None, new_values: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    old, new = _flat(old_values), _flat(new_values)
    keys = [k for k in new if k not in _HIDDEN_AUDIT_KEYS]
    keys += [k for k in old if k not in new and k not in _HIDDEN_AUDIT_KEYS]
    return [
        (k, _text(old.get(k)) if old else "", _text(new.get(k)))
        for k in keys
        if not old or old.get(k) != new.get(k)
    ]


def audit_changes(entries: Sequence[AuditEntry]) -> list[AuditChange]:
    """Audit rows with the fields each one changed (old → new), newest first."""
    return [
        AuditChange(
            at=e.at,
            actor=f"{e.actor_username or '?'} ({e.actor_role or '?'})",
            action=e.action,
            entity=e.entity,
            entity_id=e.entity_id or "",
            reason=e.reason,
            changes=_diff(e.old, e.new),
        )
        for e in reversed(entries)
    ]


def patient_form_values(patient: PatientPublic) -> dict[str, str]:
    """The current values of a patient as form strings."""
    out = {}
    for name, value in patient.model_dump().items():
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            out[name] = str(int(value))
        else:
            out[name] = str(value)
    return out
