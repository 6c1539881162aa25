"""Patient pages: overview (risk groups, timeline), register, correct, void, events, audit.

Every read and write goes through the registry services the JSON API uses, so a page
refuses what the API refuses, with the same field names and codes; another site's patient
is a 404 exactly like a missing one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from infantall.errors import InvalidInputError
from infantall.registry import events as event_service
from infantall.registry import patients as patient_service
from infantall.registry import signatures as signature_service
from infantall.registry.access import (
    SIGN_ROLES,
    UNLOCK_ROLES,
    WRITE_ROLES,
    Principal,
)
from infantall.registry.errors import ConflictError, ValidationFailedError
from infantall.registry.schemas import (
    EventCorrect,
    PatientCreate,
    PatientPublic,
    PatientUpdate,
    VoidRequest,
)
from infantall.registry.text import ID_PATTERN
from infantall.services import risk_groups as risk
from infantall.web.deps import SessionDep
from infantall.web.pages.figures import cached_figure, event_label, timeline_figure
from infantall.web.pages.forms import (
    DERIVED_FROM,
    EVENT_FORMS,
    PATIENT_FORM,
    by_field,
    derived_values,
    errors_of,
    form_values,
    labels_of,
    typed_values,
    validate_model,
    version_of,
)
from infantall.web.pages.patient_views import (
    audit_changes,
    domain_history,
    latest_stored,
    live_decisions,
    patient_form_values,
)
from infantall.web.pages.rendering import CheckedForm, PageRoute, PageUser, redirect, render

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PatientId = Annotated[str, Path(pattern=ID_PATTERN)]
EventId = Annotated[str, Path(pattern=ID_PATTERN)]
_PATIENT_NAMES = [f.name for f in PATIENT_FORM]
_UPDATE_NAMES = [n for n in _PATIENT_NAMES if n in PatientUpdate.model_fields]
_WRITE_ERRORS = (ValidationFailedError, ValidationError, InvalidInputError, ConflictError)


def _without_derived(values: dict[str, str]) -> dict[str, str]:
    """``values`` without the fields the domain derives from a given source field."""
    return {k: v for k, v in values.items() if DERIVED_FROM.get(k) not in values}


def _status(exc: Exception) -> int:
    """409 for a stale version or a duplicate (like the API), else 422."""
    return 409 if isinstance(exc, ConflictError) else 422


def _can_write(user: Principal) -> bool:
    return user.role in WRITE_ROLES


def _base(session: Session, user: Principal, pid: str) -> dict[str, Any]:
    patient = patient_service.get_patient(session, user, pid)
    return {"patient": patient, "can_write": _can_write(user)}


@router.get("/patients/new")
def new_patient_page(request: Request, user: PageUser, session: SessionDep) -> Response:
    """The registration form (site editors)."""
    return _patient_form(request, user, session, {}, [], status=200)


def _patient_form(
    request: Request,
    user: Principal,
    session: Session,
    values: dict[str, str],
    errors: list[InvalidInputError],
    *,
    status: int,
) -> Response:
    ctx = {
        "fields": PATIENT_FORM,
        "values": derived_values(values),
        "errors": by_field(errors, _PATIENT_NAMES),
        "error_list": errors,
        "field_labels": labels_of(PATIENT_FORM),
        "can_write": _can_write(user),
    }
    return render(request, "patient_new.html", ctx, status=status, user=user, session=session)


@router.post("/patients/new")
def register_patient(
    request: Request, user: PageUser, form: CheckedForm, session: SessionDep
) -> Response:
    """Register a patient with ``PatientCreate`` and store its risk groups."""
    values = _without_derived(form_values(form, _PATIENT_NAMES))
    try:
        data = validate_model(PatientCreate, typed_values(values, PATIENT_FORM))
        assert isinstance(data, PatientCreate)
        created = patient_service.create_patient(session, user, data)
    except _WRITE_ERRORS as exc:
        return _patient_form(request, user, session, values, errors_of(exc), status=_status(exc))
    risk.compute_risk_groups(session, user, created.registry_id)
    return redirect(f"/patients/{created.registry_id}?done=registered")


@router.get("/patients/{pid}")
def patient_page(request: Request, pid: PatientId, user: PageUser, session: SessionDep) -> Response:
    """Diagnosis features, risk group under each protocol, timeline of events."""
    ctx = _base(session, user, pid)
    events = event_service.list_events(session, user, pid)
    history = domain_history(ctx["patient"], events)
    signed = signature_service.signature_state(session, user, pid)
    ctx.update(
        tab="overview",
        signed=signed,
        can_write=ctx["can_write"] and not signed.locked,
        can_sign=user.role in SIGN_ROLES,
        can_unlock=user.role in UNLOCK_ROLES,
        meanings=signature_service.MEANINGS,
        events=events,
        labels={e.registry_id: _label(e.data) for e in events},
        decisions=live_decisions(history),
        stored=latest_stored(risk.list_risk_groups(session, user, pid)),
        timeline=cached_figure(
            ("timeline", json.dumps(history.to_dict(), sort_keys=True, default=str)),
            lambda: timeline_figure(history),
        ),
        fields=PATIENT_FORM,
        kind_labels={kind: title for kind, (title, _) in EVENT_FORMS.items()},
    )
    return render(request, "patient.html", ctx, user=user, session=session)


@router.post("/patients/{pid}/risk-groups")
def recompute_risk(
    pid: PatientId, user: PageUser, form: CheckedForm, session: SessionDep
) -> Response:
    """Recompute and store the risk groups under every protocol."""
    risk.compute_risk_groups(session, user, pid)
    return redirect(f"/patients/{pid}?done=risk_computed")


def _edit_page(
    request: Request,
    user: Principal,
    session: Session,
    patient: PatientPublic,
    values: dict[str, str],
    errors: list[InvalidInputError],
    *,
    void_errors: list[InvalidInputError] | None = None,
    status: int = 200,
) -> Response:
    ctx = {
        "patient": patient,
        "can_write": _can_write(user),
        "tab": "edit",
        "fields": PATIENT_FORM,
        "values": derived_values(values),
        "field_labels": {
            **labels_of(PATIENT_FORM),
            **({"reason": "Reason for voiding"} if void_errors else {}),
        },
        "error_prefix": "void-" if void_errors else "",  # the summary links to the void form
        "errors": by_field(errors, [*_PATIENT_NAMES, "reason"]),
        "error_list": errors + (void_errors or []),
        "void_errors": by_field(void_errors or [], ["reason"]),
    }
    return render(request, "patient_edit.html", ctx, status=status, user=user, session=session)


@router.get("/patients/{pid}/edit")
def edit_page(request: Request, pid: PatientId, user: PageUser, session: SessionDep) -> Response:
    """The correction form, filled with the current values."""
    patient = patient_service.get_patient(session, user, pid)
    return _edit_page(request, user, session, patient, patient_form_values(patient), [])


def _same(current: Any, submitted: str | None) -> bool:
    if current is None or submitted is None:
        return current is None and submitted is None
    if isinstance(current, float):
        try:
            return float(submitted) == current
        except ValueError:
            return False
    return str(current) == submitted


@router.post("/patients/{pid}/edit")
def correct_patient(
    request: Request, pid: PatientId, user: PageUser, form: CheckedForm, session: SessionDep
) -> Response:
    """Correct a patient: only the changed fields, the version read and a reason."""
    patient = patient_service.get_patient(session, user, pid)
    values = _without_derived(form_values(form, _PATIENT_NAMES))
    derived = {k for k, source in DERIVED_FROM.items() if source in values}
    body: dict[str, Any] = {
        name: values.get(name)
        for name in _UPDATE_NAMES
        if name not in derived and not _same(getattr(patient, name), values.get(name))
    }
    body = typed_values(body, PATIENT_FORM)
    body["version"] = version_of(form)
    body["reason"] = str(form.get("reason") or "")
    try:
        data = validate_model(PatientUpdate, body)
        assert isinstance(data, PatientUpdate)
        patient_service.update_patient(session, user, pid, data)
    except _WRITE_ERRORS as exc:
        values["reason"] = body["reason"]
        errors = errors_of(exc)
        return _edit_page(request, user, session, patient, values, errors, status=_status(exc))
    risk.compute_risk_groups(session, user, pid)
    return redirect(f"/patients/{pid}?done=corrected")


@router.post("/patients/{pid}/void")
def void_patient(
    request: Request, pid: PatientId, user: PageUser, form: CheckedForm, session: SessionDep
) -> Response:
    """Void a patient with a reason (nothing is deleted)."""
    patient = patient_service.get_patient(session, user, pid)
    body = {"version": version_of(form), "reason": str(form.get("reason") or "")}
    try:
        data = validate_model(VoidRequest, body)
        assert isinstance(data, VoidRequest)
        patient_service.void_patient(session, user, pid, data)
    except _WRITE_ERRORS as exc:
        values = patient_form_values(patient)
        void_errors = errors_of(exc)
        return _edit_page(
            request, user, session, patient, values, [], void_errors=void_errors,
            status=_status(exc),
        )  # fmt: skip
    return redirect("/dashboard?done=voided")


def _events_page(
    request: Request,
    user: Principal,
    session: Session,
    pid: str,
    *,
    open_kind: str = "",
    values: dict[str, str] | None = None,
    errors: list[InvalidInputError] | None = None,
    status: int = 200,
) -> Response:
    ctx = _base(session, user, pid)
    events = event_service.list_events(session, user, pid, include_voided=True)
    kind_fields = [f.name for f in EVENT_FORMS.get(open_kind, ("", ()))[1]]
    ctx.update(
        tab="events",
        events=events,
        labels={e.registry_id: _label(e.data) for e in events},
        event_forms=EVENT_FORMS,
        open_kind=open_kind,
        values=values or {},
        errors=by_field(errors or [], kind_fields),
        error_list=errors or [],
        error_prefix=f"{open_kind}-" if open_kind else "",
        field_labels=labels_of(EVENT_FORMS.get(open_kind, ("", ()))[1]),
    )
    return render(request, "patient_events.html", ctx, status=status, user=user, session=session)


def _label(data: dict[str, Any]) -> str:
    try:
        return event_label(event_service.EVENT_ADAPTER.validate_python(data))
    except ValidationError:
        return ""


@router.get("/patients/{pid}/events")
def events_page(request: Request, pid: PatientId, user: PageUser, session: SessionDep) -> Response:
    """The events of a patient, the add-event forms, correct and void actions."""
    return _events_page(request, user, session, pid)


@router.post("/patients/{pid}/events")
def add_event(
    request: Request, pid: PatientId, user: PageUser, form: CheckedForm, session: SessionDep
) -> Response:
    """Record an event: the domain event of the chosen kind, through ``add_event``."""
    kind = str(form.get("kind") or "")
    if kind not in EVENT_FORMS:
        err = InvalidInputError("kind", f"unknown event kind {kind!r}", "invalid_choice")
        return _events_page(request, user, session, pid, errors=[err], status=422)
    values = form_values(form, [f.name for f in EVENT_FORMS[kind][1]])
    try:
        typed = typed_values(values, EVENT_FORMS[kind][1])
        event = event_service.EVENT_ADAPTER.validate_python({"kind": kind, **typed})
        event_service.add_event(session, user, pid, event)
    except _WRITE_ERRORS as exc:
        return _events_page(
            request, user, session, pid, open_kind=kind, values=values, errors=errors_of(exc),
            status=_status(exc),
        )  # fmt: skip
    risk.compute_risk_groups(session, user, pid)
    return redirect(f"/patients/{pid}/events?done=event_added")


def _find_event(session: Session, user: Principal, pid: str, eid: str) -> Any:
    for e in event_service.list_events(session, user, pid):
        if e.registry_id == eid:
            return e
    from infantall.registry.errors import NotFoundError

    raise NotFoundError("no such event")


def _correct_page(
    request: Request,
    user: Principal,
    session: Session,
    pid: str,
    event: Any,
    values: dict[str, str],
    errors: list[InvalidInputError],
    status: int = 200,
) -> Response:
    ctx = _base(session, user, pid)
    title, fields = EVENT_FORMS[event.kind]
    ctx.update(
        tab="events",
        event=event,
        title=title,
        fields=fields,
        values=values,
        errors=by_field(errors, [*(f.name for f in fields), "reason"]),
        error_list=errors,
        field_labels=labels_of(fields),
    )
    return render(request, "event_correct.html", ctx, status=status, user=user, session=session)


@router.get("/patients/{pid}/events/{eid}/correct")
def correct_event_page(
    request: Request, pid: PatientId, eid: EventId, user: PageUser, session: SessionDep
) -> Response:
    """The correction form of one event, filled with its values."""
    event = _find_event(session, user, pid, eid)
    values = {k: str(v) for k, v in event.data.items() if v is not None}
    return _correct_page(request, user, session, pid, event, values, [])


@router.post("/patients/{pid}/events/{eid}/correct")
def correct_event(
    request: Request,
    pid: PatientId,
    eid: EventId,
    user: PageUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    """Correct an event with a reason (``EventCorrect``, version checked)."""
    event = _find_event(session, user, pid, eid)
    names = [f.name for f in EVENT_FORMS[event.kind][1]]
    values = form_values(form, names)
    reason = str(form.get("reason") or "")
    body = {
        "version": version_of(form),
        "reason": reason,
        "event": {"kind": event.kind, **typed_values(values, EVENT_FORMS[event.kind][1])},
    }
    try:
        data = validate_model(EventCorrect, body)
        assert isinstance(data, EventCorrect)
        event_service.correct_event(session, user, pid, eid, data)
    except _WRITE_ERRORS as exc:
        errors = [_strip_event_prefix(e) for e in errors_of(exc)]
        values["reason"] = reason
        status = _status(exc)
        return _correct_page(request, user, session, pid, event, values, errors, status=status)
    risk.compute_risk_groups(session, user, pid)
    return redirect(f"/patients/{pid}/events?done=corrected")


def _strip_event_prefix(e: InvalidInputError) -> InvalidInputError:
    if e.field.startswith("event."):
        return InvalidInputError(e.field[len("event.") :], e.reason, e.code)
    return e


@router.post("/patients/{pid}/events/{eid}/void")
def void_event(
    request: Request,
    pid: PatientId,
    eid: EventId,
    user: PageUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    """Void an event with a reason."""
    body = {"version": version_of(form), "reason": str(form.get("reason") or "")}
    try:
        data = validate_model(VoidRequest, body)
        assert isinstance(data, VoidRequest)
        event_service.void_event(session, user, pid, eid, data)
    except _WRITE_ERRORS as exc:
        errors = [InvalidInputError(f"void.{e.field}", e.reason, e.code) for e in errors_of(exc)]
        return _events_page(request, user, session, pid, errors=errors, status=_status(exc))
    risk.compute_risk_groups(session, user, pid)
    return redirect(f"/patients/{pid}/events?done=voided")


@router.get("/patients/{pid}/history")
def history_page(request: Request, pid: PatientId, user: PageUser, session: SessionDep) -> Response:
    """The audit history of the patient and its events (who, when, old → new, reason)."""
    entries = patient_service.patient_history(session, user, pid)
    ctx = _base(session, user, pid)
    ctx.update(tab="history", changes=audit_changes(entries))
    return render(request, "patient_history.html", ctx, user=user, session=session)
