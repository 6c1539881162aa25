"""The registry's single validation layer: every channel (API, pages, CSV import) builds
the domain objects of ``infantall.domain`` from the stored rows, so the domain's rules and
stable error codes apply identically everywhere (anchors-reliability D1). pydantic errors
are translated by the domain's one translation, impossible values refused by the domain's
bounds (:mod:`infantall.domain.bounds`, also used by the request schemas).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from infantall import domain
from infantall.domain import ImplausibleValueWarning, InvalidRecordError, Patient, PatientHistory
from infantall.errors import InvalidInputError
from infantall.registry.errors import ValidationFailedError

__all__ = [
    "CHOICE_FIELDS",
    "PATIENT_FIELDS",
    "domain_patient_dict",
    "errors_from_pydantic",
    "validate_history",
    "validate_patient",
]


def errors_from_pydantic(raw: Sequence[Mapping[str, Any]]) -> list[InvalidInputError]:
    """pydantic (or FastAPI request) errors with the domain's stable codes, an error of the
    whole request named ``body`` (:func:`infantall.domain.errors_from_pydantic`)."""
    return domain.errors_from_pydantic(raw, root="body")


#: Patient fields that the registry derives itself instead of storing what it is given:
#: the id (the registry id), the age (from the dates) and the site (the caller's).
_DERIVED = frozenset({"patient_id", "age_days", "site"})
#: Columns of ``patients`` that are fields of ``infantall.domain.Patient`` (in its order).
PATIENT_FIELDS: tuple[str, ...] = tuple(n for n in domain.PATIENT_FIELDS if n not in _DERIVED)
#: The stored choice fields: each may be *not entered* (empty), which analyses read as the
#: domain's ``unknown``.
CHOICE_FIELDS: tuple[str, ...] = tuple(
    n for n in PATIENT_FIELDS if domain.PATIENT_FIELDS[n].type == "choice"
)


def domain_patient_dict(
    registry_id: str, site_code: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """The dictionary ``infantall.domain.Patient.from_dict`` takes for a registry patient."""
    data = {name: fields.get(name) for name in PATIENT_FIELDS}
    data = {k: v for k, v in data.items() if v is not None}
    data["patient_id"] = registry_id
    data["site"] = site_code
    return data


def _errors_of(exc: InvalidInputError) -> list[InvalidInputError]:
    return list(exc.errors) if isinstance(exc, InvalidRecordError) else [exc]


def validate_patient(data: Mapping[str, Any]) -> tuple[Patient, list[str]]:
    """The domain patient and the warnings (implausible but kept values) it raised.

    Raises
    ------
    ValidationFailedError
        With every domain error (field, reason, stable code).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImplausibleValueWarning)
        try:
            patient = Patient.from_dict(data)
        except InvalidInputError as exc:
            raise ValidationFailedError(_errors_of(exc)) from None
    return patient, [str(w.message) for w in caught if issubclass(w.category, Warning)]


def validate_history(
    patient: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    event_ids: Sequence[str],
    focus: str | None = None,
) -> PatientHistory:
    """Validate the patient with all its (non-voided) events as one domain history.

    Errors that point at ``events[i]`` are renamed to the event's registry id
    (``events[<id>].date``), or to the bare field when ``i`` is the event being written
    (``focus``), so the caller sees which record is at fault.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImplausibleValueWarning)
        try:
            return PatientHistory.from_dict({"patient": dict(patient), "events": list(events)})
        except InvalidInputError as exc:
            raise ValidationFailedError(
                [_rename(e, event_ids, focus) for e in _errors_of(exc)]
            ) from None


def _rename(
    err: InvalidInputError, event_ids: Sequence[str], focus: str | None
) -> InvalidInputError:
    field = err.field
    if field.startswith("events["):
        index_text, _, rest = field[len("events[") :].partition("]")
        if index_text.isdigit() and int(index_text) < len(event_ids):
            event_id = event_ids[int(index_text)]
            if event_id == focus:
                field = rest.lstrip(".") or "event"
            else:
                field = f"events[{event_id}]{rest}"
    elif field.startswith("patient."):
        field = field[len("patient.") :]
    return InvalidInputError(field, err.reason, err.code)
