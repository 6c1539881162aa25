"""Whether a patient's data set is locked by an e-signature (21 CFR 11.10(e), 11.70).

A patient is locked while it has a signature that no unlock supersedes: an unlock row
supersedes every signature of the patient up to its ``last_signature_id``. Both tables are
append-only, so the state is derived, never overwritten. Every change of the patient's data
set (edit, void, new event, correction, void of an event, risk group) passes through
:func:`ensure_unlocked` under the patient's row lock (or SQLite's single writer), so a
signature and a change cannot interleave.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from infantall.registry.errors import ConflictError
from infantall.registry.models import Signature, SignatureUnlock

__all__ = ["RECORD_LOCKED", "active_signature_ids", "ensure_unlocked", "superseded_up_to"]

#: The stable error code of a change refused because the record is signed and locked.
RECORD_LOCKED = "record_locked"


def _floor(patient_id: Any) -> Any:
    """The highest signature id an unlock of the patient supersedes (0 when none), as SQL."""
    return func.coalesce(
        select(func.max(SignatureUnlock.last_signature_id))
        .where(SignatureUnlock.patient_id == patient_id)
        .scalar_subquery(),
        0,
    )


def superseded_up_to(session: Session, patient_id: int) -> int:
    """The highest signature id an unlock of the patient supersedes (0 when none)."""
    return int(session.scalar(select(_floor(patient_id))) or 0)


#: The ids of :func:`active_signature_ids`; built once (it runs in every write's
#: critical section, where building the statement cost more than running it).
_ACTIVE = (
    select(Signature.id)
    .where(
        Signature.patient_id == bindparam("patient_id"),
        Signature.id > _floor(bindparam("patient_id")),
    )
    .order_by(Signature.id)
)


def active_signature_ids(session: Session, patient_id: int) -> list[int]:
    """Ids of the patient's signatures that no unlock supersedes (the lock), oldest first."""
    return list(session.scalars(_ACTIVE, {"patient_id": patient_id}))


def ensure_unlocked(session: Session, patient_id: int, registry_id: str) -> None:
    """Raise 409 ``record_locked`` if the patient's data set is signed and locked."""
    if active_signature_ids(session, patient_id):
        raise ConflictError(
            f"patient {registry_id} is signed and locked: an investigator or a coordinator "
            "must unlock it (with a reason) before any change",
            RECORD_LOCKED,
        )
