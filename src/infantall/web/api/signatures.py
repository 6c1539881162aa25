"""E-signatures of a patient's data set: state and history, sign, unlock."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from infantall.registry import signatures as signature_service
from infantall.registry.signatures import (
    SignaturePublic,
    SignatureState,
    SignRequest,
    UnlockRequest,
)
from infantall.registry.text import ID_PATTERN
from infantall.web.deps import CurrentUser, HasherDep, SessionDep, SettingsDep

__all__ = ["router"]

router = APIRouter(prefix="/patients", tags=["signatures"])

PatientId = Annotated[str, Path(pattern=ID_PATTERN, description="Registry id, e.g. P-3f9c…")]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such record in your scope (missing or another site's)"},
    409: {"description": "Not locked (unlock), voided patient or stale content (sign)"},
}


@router.get("/{patient_id}/signatures", response_model=SignatureState, responses=_RESPONSES)
def signature_state(
    patient_id: PatientId, user: CurrentUser, session: SessionDep
) -> SignatureState:
    """Whether the patient is signed and locked, its current content digest, and every
    signature (active or superseded by an unlock) and unlock."""
    return signature_service.signature_state(session, user, patient_id)


@router.post(
    "/{patient_id}/signatures",
    response_model=SignaturePublic,
    status_code=status.HTTP_201_CREATED,
    responses=_RESPONSES,
)
def sign(
    patient_id: PatientId,
    body: SignRequest,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
) -> SignaturePublic:
    """Sign the patient's data set (investigators of its site): your password again and the
    meaning. The record is then locked: every change answers 409 ``record_locked`` until an
    unlock. A wrong password answers 403 ``signature_refused`` and counts as a failed login."""
    return signature_service.sign_patient(session, settings, hasher, user, patient_id, body)


@router.post("/{patient_id}/unlock", response_model=SignatureState, responses=_RESPONSES)
def unlock(
    patient_id: PatientId, body: UnlockRequest, user: CurrentUser, session: SessionDep
) -> SignatureState:
    """Unlock a signed patient with a reason (investigators of its site, coordinators). The
    signatures stay in the history, superseded by this unlock."""
    return signature_service.unlock_patient(session, user, patient_id, body)
