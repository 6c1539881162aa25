"""The registry's single validation layer: every channel (API, pages, CSV import) builds
the domain objects of ``infantall.domain`` from the stored rows, so the domain's rules and
stable error codes apply identically everywhere (anchors-reliability D1).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from infantall.domain import ImplausibleValueWarning, InvalidRecordError, Patient, PatientHistory
from infantall.errors import InvalidInputError
from infantall.registry.errors import ValidationFailedError
from infantall.registry.models import EVENT_KINDS

__all__ = [
    "PATIENT_FIELDS",
    "domain_patient_dict",
    "errors_from_pydantic",
    "validate_history",
    "validate_patient",
]

#: pydantic error types -> the registry's stable codes (the domain's where they exist).
PYDANTIC_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "enum": "invalid_choice",
    "literal_error": "invalid_choice",
    "union_tag_invalid": "invalid_choice",
    "union_tag_not_found": "missing_field",
    "finite_number": "not_a_number",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "greater_than": "out_of_range",
    "less_than": "out_of_range",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "string_pattern_mismatch": "invalid_format",
    "json_invalid": "malformed_json",
    "model_attributes_type": "invalid_type",
    "dict_type": "invalid_type",
}
_EVENT_TAGS = frozenset(EVENT_KINDS)
_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _field(loc: Sequence[Any]) -> str:
    parts = list(loc[1:]) if loc and loc[0] in _LOCATIONS else list(loc)
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (
            part.startswith(("function-", "tagged-union")) or part in _EVENT_TAGS
        ):
            continue  # pydantic internals and the tag of a domain event are not fields
        else:
            out = f"{out}.{part}" if out else str(part)
    return out or "body"


def errors_from_pydantic(raw: Sequence[Mapping[str, Any]]) -> list[InvalidInputError]:
    """pydantic (or FastAPI request) errors as :class:`InvalidInputError` with stable codes.

    Errors raised by the domain's own validators keep their field and code.
    """
    out: list[InvalidInputError] = []
    for err in raw:
        field = _field(err.get("loc", ()))
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, InvalidInputError):
            for e in _errors_of(inner):
                name = e.field if field == "body" else f"{field}.{e.field}"
                out.append(InvalidInputError(name, e.reason, e.code))
            continue
        typ = str(err.get("type", "invalid"))
        code = PYDANTIC_CODES.get(typ)
        if code is None:
            parsing = "parsing" in typ or typ.endswith("_type")
            code = "invalid_type" if parsing else typ if "_" in typ else "invalid"
        out.append(InvalidInputError(field, str(err.get("msg", "invalid value")), code))
    return out


#: Columns of ``patients`` that are fields of ``infantall.domain.Patient``.
PATIENT_FIELDS: tuple[str, ...] = (
    "birth_date",
    "diagnosis_date",
    "sex",
    "wbc",
    "immunophenotype",
    "cd10",
    "kmt2a",
    "fusion_partner",
    "cns",
    "day8_blasts",
    "prednisone_response",
    "day15_marrow",
    "enrollment_date",
    "protocol",
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
