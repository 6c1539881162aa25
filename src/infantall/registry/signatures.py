"""Electronic signatures of a patient's data set, and the lock they put on it.

21 CFR Part 11: the signature manifestation shows the signer's printed name, the date and
time (UTC, the server's clock) and the meaning of the signature (§11.50); it is bound to the
record by the SHA-256 of the record's canonical content at signing time, so it cannot be
moved to other content (§11.70); signing needs the signer's password again (§11.200(a)).
Only an ``investigator`` of the patient's site signs. A signed patient is locked: every
change is refused with ``record_locked`` (:mod:`infantall.registry.locks`) until an
investigator of the site or a coordinator unlocks it with a reason. An unlock removes
nothing: the signature stays in the history, shown as superseded by that unlock. Signing,
a refused signing and an unlock are audit rows (hash-chained like every other).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal

from argon2 import PasswordHasher
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.registry import audit
from infantall.registry.access import SIGN_ROLES, UNLOCK_ROLES, Principal
from infantall.registry.auth import reauthenticate
from infantall.registry.errors import ConflictError, PermissionDeniedError
from infantall.registry.locks import active_signature_ids, superseded_up_to
from infantall.registry.models import (
    Event,
    Patient,
    RiskAssignment,
    Role,
    Signature,
    SignatureUnlock,
    User,
    utcnow,
)
from infantall.registry.patients import load_patient, new_registry_id
from infantall.registry.settings import RegistrySettings
from infantall.registry.text import Reason

__all__ = [
    "MEANINGS",
    "SignRequest",
    "SignatureProblem",
    "SignaturePublic",
    "SignatureState",
    "UnlockPublic",
    "UnlockRequest",
    "content_digest",
    "manifestation",
    "sign_patient",
    "signature_problems",
    "signature_state",
    "unlock_patient",
]

#: What a signature may mean (§11.50(a)(3)).
MEANINGS = ("reviewed and approved", "author", "reviewed", "approved", "verified")
Meaning = Literal["reviewed and approved", "author", "reviewed", "approved", "verified"]
_STRICT = ConfigDict(extra="forbid", str_max_length=4000)
_DIGEST = r"^[0-9a-f]{64}$"


class SignRequest(BaseModel):
    """Sign a patient's data set: the signer's password again and the meaning.

    ``content_digest``, when given, is the digest the signer reviewed (shown on the patient
    page): if the record changed meanwhile, nothing is signed (409 ``stale_content``).
    """

    model_config = _STRICT

    password: Annotated[str, Field(min_length=1, max_length=256)]
    meaning: Meaning
    content_digest: Annotated[str | None, Field(pattern=_DIGEST)] = None


class UnlockRequest(BaseModel):
    """Unlock a signed patient: why (required, audited)."""

    model_config = _STRICT

    reason: Reason


class SignaturePublic(BaseModel):
    """A signature with its manifestation and whether an unlock superseded it."""

    registry_id: str
    patient_id: str
    username: str
    printed_name: str
    meaning: str
    signed_at: dt.datetime
    content_digest: str
    patient_version: int
    status: Literal["active", "superseded"]
    superseded_by: str | None
    manifestation: str


class UnlockPublic(BaseModel):
    """An unlock: who, when, why."""

    registry_id: str
    username: str
    unlocked_at: dt.datetime
    reason: str


class SignatureState(BaseModel):
    """A patient's lock, its current content digest and its signing history.

    ``content_digest`` is null for a coordinator: it reads the pooled view only, and a digest
    of what that view shows (no local code, notes or free text) is not the record's."""

    patient_id: str
    locked: bool
    content_digest: str | None
    signatures: list[SignaturePublic]
    unlocks: list[UnlockPublic]


class SignatureProblem(BaseModel):
    """An active signature whose record no longer has the content it signed."""

    signature_id: str
    patient_id: str
    signed_digest: str
    current_digest: str


def _normalised(value: Any) -> Any:
    # A JSON round trip: the same text whether the values come from Python or the database.
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def content_digest(session: Session, patient: Patient) -> str:
    """SHA-256 (hex) of the patient's data set: the patient, every event (voided ones with
    their void) and every risk group, each as its audit snapshot, in id order."""
    events = session.scalars(select(Event).where(Event.patient_id == patient.id).order_by(Event.id))
    risks = session.scalars(
        select(RiskAssignment)
        .where(RiskAssignment.patient_id == patient.id)
        .order_by(RiskAssignment.id)
    )
    content = {
        "patient": audit.snapshot("patient", patient),
        "events": [audit.snapshot("event", e) for e in events],
        "risk_groups": [audit.snapshot("risk_assignment", r) for r in risks],
    }
    text = json.dumps(
        _normalised(content), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifestation(printed_name: str, username: str, signed_at: dt.datetime, meaning: str) -> str:
    """The human-readable signature manifestation (§11.50(a))."""
    when = signed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"Signed electronically by {printed_name} ({username}) on {when}; meaning: {meaning}"


def _public(s: Signature, patient_id: str, unlocks: list[SignatureUnlock]) -> SignaturePublic:
    by = next((u.registry_id for u in unlocks if u.last_signature_id >= s.id), None)
    return SignaturePublic(
        registry_id=s.registry_id,
        patient_id=patient_id,
        username=s.username,
        printed_name=s.printed_name,
        meaning=s.meaning,
        signed_at=s.signed_at,
        content_digest=s.content_digest,
        patient_version=s.patient_version,
        status="active" if by is None else "superseded",
        superseded_by=by,
        manifestation=manifestation(s.printed_name, s.username, s.signed_at, s.meaning),
    )


def _state(session: Session, patient: Patient) -> SignatureState:
    signatures = list(
        session.scalars(
            select(Signature).where(Signature.patient_id == patient.id).order_by(Signature.id)
        )
    )
    unlocks = list(
        session.scalars(
            select(SignatureUnlock)
            .where(SignatureUnlock.patient_id == patient.id)
            .order_by(SignatureUnlock.id)
        )
    )
    public = [_public(s, patient.registry_id, unlocks) for s in signatures]
    return SignatureState(
        patient_id=patient.registry_id,
        locked=any(s.status == "active" for s in public),
        content_digest=content_digest(session, patient),
        signatures=public,
        unlocks=[
            UnlockPublic(
                registry_id=u.registry_id,
                username=u.username,
                unlocked_at=u.unlocked_at,
                reason=u.reason,
            )
            for u in unlocks
        ],
    )


def signature_state(session: Session, principal: Principal, registry_id: str) -> SignatureState:
    """The lock and signing history of a patient in the caller's read scope."""
    patient, _ = load_patient(session, principal, registry_id, operation="read_signatures")
    state = _state(session, patient)
    if principal.role is Role.coordinator:
        return state.model_copy(update={"content_digest": None})
    return state


def _refused(session: Session, principal: Principal, patient: Patient, meaning: str) -> None:
    audit.record(
        session,
        principal,
        "sign_refused",
        "patient",
        patient.registry_id,
        site_id=patient.site_id,
        new={"meaning": meaning},
    )
    session.commit()


def sign_patient(
    session: Session,
    settings: RegistrySettings,
    hasher: PasswordHasher,
    principal: Principal,
    registry_id: str,
    data: SignRequest,
) -> SignaturePublic:
    """Sign the patient's data set (investigator of its site) and lock it (committed).

    Raises
    ------
    PermissionDeniedError
        The caller is no investigator (``forbidden``), or the password does not match
        (``signature_refused``; audited, counted towards the lockout).
    NotFoundError
        No such patient in the caller's site.
    ConflictError
        ``voided`` patient; ``stale_content`` when the record is not the one reviewed.
    """
    patient, _ = load_patient(session, principal, registry_id, roles=SIGN_ROLES, operation="sign")
    if patient.voided_at is not None:
        raise ConflictError("the patient is voided", "voided")
    try:
        user: User = reauthenticate(session, settings, hasher, principal, data.password)
    except PermissionDeniedError:
        _refused(session, principal, patient, data.meaning)
        raise
    digest = content_digest(session, patient)
    if data.content_digest is not None and data.content_digest != digest:
        raise ConflictError(
            "the record changed since you reviewed it: reload it and review it again",
            "stale_content",
        )
    row = Signature(
        registry_id=new_registry_id("S"),
        patient_id=patient.id,
        site_id=patient.site_id,
        user_id=user.id,
        username=user.username,
        printed_name=user.full_name or user.username,
        meaning=data.meaning,
        signed_at=utcnow(),
        content_digest=digest,
        patient_version=patient.version,
    )
    session.add(row)
    session.flush()
    public = _public(row, registry_id, [])
    audit.record(
        session,
        principal,
        "sign",
        "patient",
        registry_id,
        site_id=patient.site_id,
        new={
            "signature": row.registry_id,
            "printed_name": row.printed_name,
            "meaning": row.meaning,
            "signed_at": row.signed_at.isoformat(),
            "content_digest": digest,
            "manifestation": public.manifestation,
        },
    )
    session.commit()
    return public


def unlock_patient(
    session: Session, principal: Principal, registry_id: str, data: UnlockRequest
) -> SignatureState:
    """Unlock a signed patient with a reason (investigator of its site, or coordinator).

    Every active signature becomes superseded (still shown); audited; committed.

    Raises
    ------
    ConflictError
        ``not_locked``: the patient has no active signature.
    """
    patient, _ = load_patient(
        session, principal, registry_id, roles=UNLOCK_ROLES, operation="unlock"
    )
    active = active_signature_ids(session, patient.id)
    if not active:
        raise ConflictError(f"patient {registry_id} is not locked", "not_locked")
    codes = list(session.scalars(select(Signature.registry_id).where(Signature.id.in_(active))))
    row = SignatureUnlock(
        registry_id=new_registry_id("U"),
        patient_id=patient.id,
        last_signature_id=max(active),
        user_id=principal.user_id,
        username=principal.username,
        unlocked_at=utcnow(),
        reason=data.reason,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        "record_unlock",
        "patient",
        registry_id,
        site_id=patient.site_id,
        old={"locked": True, "signatures": sorted(codes)},
        new={"locked": False, "unlock": row.registry_id},
        reason=data.reason,
    )
    session.commit()
    return _state(session, patient)


def signature_problems(session: Session) -> list[SignatureProblem]:
    """Every active signature whose patient's content no longer has the signed digest."""
    problems = []
    patients = session.scalars(
        select(Patient).where(Patient.id.in_(select(Signature.patient_id).distinct()))
    )
    for patient in patients:
        floor = superseded_up_to(session, patient.id)
        active = session.scalars(
            select(Signature).where(Signature.patient_id == patient.id, Signature.id > floor)
        ).all()
        if not active:
            continue
        current = content_digest(session, patient)
        problems += [
            SignatureProblem(
                signature_id=s.registry_id,
                patient_id=patient.registry_id,
                signed_digest=s.content_digest,
                current_digest=current,
            )
            for s in active
            if s.content_digest != current
        ]
    return problems
