"""The append-only audit trail: one row per write, security events, and replay.

Each data change stores the full new state of the record (and the old one), so the trail
alone rebuilds the current data (:func:`replay`), which REDCap promises of its log ("full
record history can be tracked and reassembled") and 21 CFR 11.10(e) requires ("changes
shall not obscure previously recorded information").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Session

from infantall.registry.access import Principal
from infantall.registry.models import (
    AuditEntry,
    Event,
    Patient,
    RiskAssignment,
    Site,
    User,
    utcnow,
)

__all__ = [
    "DATA_ACTIONS",
    "ENTITY_MODELS",
    "current_state",
    "record",
    "replay",
    "snapshot",
]

#: Actions that change data; their rows carry the full new state of the record.
DATA_ACTIONS = frozenset({"create", "update", "void", "correct"})
#: Audited entities and their ORM classes (what :func:`replay` rebuilds).
ENTITY_MODELS: dict[str, type[DeclarativeBase]] = {
    "site": Site,
    "user": User,
    "patient": Patient,
    "event": Event,
    "risk_assignment": RiskAssignment,
}
#: Columns never written to the audit trail (secrets and login counters).
_EXCLUDED = {"user": frozenset({"password_hash", "failed_logins", "locked_until"})}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def snapshot(entity: str, obj: Any) -> dict[str, Any]:
    """The record as a JSON-friendly dict of its columns (secrets left out)."""
    excluded = _EXCLUDED.get(entity, frozenset())
    return {
        col.key: _jsonable(getattr(obj, col.key))
        for col in obj.__table__.columns
        if col.key not in excluded
    }


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_id: str | None,
    *,
    site_id: int | None = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    reason: str | None = None,
    username: str | None = None,
) -> AuditEntry:
    """Add one audit row to ``session`` (committed with the change it describes)."""
    entry = AuditEntry(
        at=utcnow(),
        actor_id=principal.user_id if principal else None,
        actor_username=principal.username if principal else username,
        actor_role=principal.role.value if principal else None,
        actor_site_id=principal.site_id if principal else None,
        action=action,
        entity=entity,
        entity_id=entity_id,
        site_id=site_id,
        old=old,
        new=new,
        reason=reason,
        channel=principal.channel if principal else "api",
    )
    session.add(entry)
    return entry


def replay(entries: Iterable[AuditEntry]) -> dict[tuple[str, str], dict[str, Any]]:
    """Rebuild every audited record from the trail alone, starting from nothing.

    Returns a mapping ``(entity, primary key) -> record state``; compare it with
    :func:`current_state`.
    """
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        if entry.action in DATA_ACTIONS and entry.new is not None:
            state[(entry.entity, str(entry.new["id"]))] = dict(entry.new)
    return state


def current_state(session: Session) -> dict[tuple[str, str], dict[str, Any]]:
    """The current data of every audited table, in the shape :func:`replay` returns."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for entity, model in ENTITY_MODELS.items():
        for obj in session.scalars(select(model)):
            snap = snapshot(entity, obj)
            state[(entity, str(snap["id"]))] = snap
    return state


def audit_entries(session: Session) -> list[AuditEntry]:
    """Every audit row in the order written."""
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
