"""Patients and their events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status

from infantall.domain import Event as DomainEvent
from infantall.domain import KMT2AStatus, Sex
from infantall.registry import events as event_service
from infantall.registry import patients as patient_service
from infantall.registry.schemas import (
    AuditPublic,
    EventCorrect,
    EventPublic,
    PatientCreate,
    PatientPage,
    PatientPublic,
    PatientUpdate,
    VoidRequest,
)
from infantall.registry.text import CODE_PATTERN, ID_PATTERN
from infantall.web.deps import (
    CurrentUser,
    IsoDate,
    SessionDep,
    SettingsDep,
    on_the_loop,
    run_read,
    run_write,
)

__all__ = ["router"]

router = APIRouter(prefix="/patients", tags=["patients"])

PatientId = Annotated[str, Path(pattern=ID_PATTERN, description="Registry id, e.g. P-3f9c…")]
EventId = Annotated[str, Path(pattern=ID_PATTERN, description="Registry id, e.g. E-8a1d…")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such record in your scope (missing or another site's)"}
}
_FORBIDDEN = (
    "Your role may not do this; ``pooled_only``: coordinators read the pooled, "
    "de-identified view only"
)
_READ: dict[int | str, dict[str, Any]] = {**_NOT_FOUND, 403: {"description": _FORBIDDEN}}


@router.get("", response_model=PatientPage, responses={403: {"description": _FORBIDDEN}})
def list_patients(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    *,
    site: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    sex: Sex | None = None,
    kmt2a: KMT2AStatus | None = None,
    diagnosed_from: IsoDate | None = None,
    diagnosed_to: IsoDate | None = None,
    max_age_days: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    local_code: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    include_voided: bool = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> PatientPage:
    """Patients in your scope, filtered and paginated (``limit`` is capped by the server).
    Coordinators: 403 ``pooled_only``."""
    filters = patient_service.PatientFilters(
        site_code=site,
        sex=sex.value if sex else None,
        kmt2a=kmt2a.value if kmt2a else None,
        diagnosed_from=diagnosed_from,
        diagnosed_to=diagnosed_to,
        max_age_days=max_age_days,
        local_code=local_code,
        include_voided=include_voided,
    )
    limit = min(limit, settings.page_size_max)
    return patient_service.list_patients(session, user, filters, limit=limit, offset=offset)


@router.post("", response_model=PatientPublic, status_code=status.HTTP_201_CREATED)
@on_the_loop
async def create_patient(
    request: Request, body: PatientCreate, user: CurrentUser, session: SessionDep
) -> PatientPublic:
    """Register a patient at your site (site editors). Duplicate local code: 409."""
    return await run_write(request, patient_service.create_patient, session, user, body)


@router.get("/{patient_id}", response_model=PatientPublic, responses=_READ)
async def get_patient(
    request: Request, patient_id: PatientId, user: CurrentUser, session: SessionDep
) -> PatientPublic:
    """One patient. Coordinators: 403 ``pooled_only``."""
    return await run_read(request, patient_service.get_patient, session, user, patient_id)


@router.patch("/{patient_id}", response_model=PatientPublic, responses=_NOT_FOUND)
@on_the_loop
async def update_patient(
    request: Request,
    patient_id: PatientId,
    body: PatientUpdate,
    user: CurrentUser,
    session: SessionDep,
) -> PatientPublic:
    """Correct a patient: give the version you read and a reason; stale version: 409."""
    return await run_write(request, patient_service.update_patient, session, user, patient_id, body)


@router.post("/{patient_id}/void", response_model=PatientPublic, responses=_NOT_FOUND)
@on_the_loop
async def void_patient(
    request: Request,
    patient_id: PatientId,
    body: VoidRequest,
    user: CurrentUser,
    session: SessionDep,
) -> PatientPublic:
    """Void a patient with a reason (nothing is ever deleted)."""
    return await run_write(request, patient_service.void_patient, session, user, patient_id, body)


@router.get("/{patient_id}/history", response_model=list[AuditPublic], responses=_READ)
def patient_history(
    patient_id: PatientId, user: CurrentUser, session: SessionDep
) -> list[AuditPublic]:
    """Every change of the patient and its events, oldest first, with old and new values.
    Coordinators: 403 ``pooled_only``."""
    entries = patient_service.patient_history(session, user, patient_id)
    return [AuditPublic.model_validate(e, from_attributes=True) for e in entries]


@router.get("/{patient_id}/events", response_model=list[EventPublic], responses=_READ)
def list_events(
    patient_id: PatientId, user: CurrentUser, session: SessionDep, include_voided: bool = False
) -> list[EventPublic]:
    """The patient's events in date order. Coordinators: 403 ``pooled_only``."""
    return event_service.list_events(session, user, patient_id, include_voided=include_voided)


@router.post(
    "/{patient_id}/events",
    response_model=EventPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_NOT_FOUND,
)
@on_the_loop
async def add_event(
    request: Request,
    patient_id: PatientId,
    body: DomainEvent,
    user: CurrentUser,
    session: SessionDep,
) -> EventPublic:
    """Record an event (``kind``: response, mrd, relapse, death, hsct, second_malignancy,
    last_contact, late_effect). The whole history is re-validated by the domain model."""
    return await run_write(request, event_service.add_event, session, user, patient_id, body)


@router.patch("/{patient_id}/events/{event_id}", response_model=EventPublic, responses=_NOT_FOUND)
@on_the_loop
async def correct_event(
    request: Request,
    patient_id: PatientId,
    event_id: EventId,
    body: EventCorrect,
    user: CurrentUser,
    session: SessionDep,
) -> EventPublic:
    """Correct an event: the version you read, a reason, and the corrected event."""
    return await run_write(
        request, event_service.correct_event, session, user, patient_id, event_id, body
    )


@router.post(
    "/{patient_id}/events/{event_id}/void", response_model=EventPublic, responses=_NOT_FOUND
)
@on_the_loop
async def void_event(
    request: Request,
    patient_id: PatientId,
    event_id: EventId,
    body: VoidRequest,
    user: CurrentUser,
    session: SessionDep,
) -> EventPublic:
    """Void an event with a reason."""
    return await run_write(
        request, event_service.void_event, session, user, patient_id, event_id, body
    )
