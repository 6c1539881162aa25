"""Form handling: the fields a page submits, and errors placed next to their fields.

Form values are passed to the same request schemas and services as the JSON API
(:mod:`infantall.registry.schemas`, :mod:`infantall.registry.patients`,
:mod:`infantall.registry.events`), so a page refuses exactly what the API refuses, with the
same field names and stable error codes
(:func:`infantall.registry.validation.errors_from_pydantic`). The fields, labels, units,
help texts and choices are the domain's (:mod:`infantall.domain.vocabulary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from infantall.domain import EVENT_TYPES, PATIENT_FIELDS, PPR_THRESHOLD_PER_UL, FieldSpec
from infantall.errors import InvalidInputError
from infantall.registry.errors import ConflictError, ValidationFailedError
from infantall.registry.schemas import PatientCreate
from infantall.registry.validation import PATIENT_FIELDS as STORED_PATIENT_FIELDS
from infantall.registry.validation import errors_from_pydantic

__all__ = [
    "DERIVED_FROM",
    "EVENT_FORMS",
    "EXTRA_LABELS",
    "PATIENT_FORM",
    "Field",
    "FieldErrors",
    "derived_values",
    "errors_of",
    "form_values",
    "labels_of",
    "option_label",
    "options_of",
    "typed_values",
    "validate_model",
    "version_of",
]


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a form: name, label, input type, choices and help text.

    ``choices`` are the stored codes; ``options`` the (code, human label) pairs to show.
    """

    name: str
    label: str
    kind: str = "text"  # text, date, number, select, textarea
    choices: tuple[str, ...] = ()
    required: bool = False
    help: str = ""
    step: str = "any"
    options: tuple[tuple[str, str], ...] = ()
    #: The field this one is derived from (then it is shown as derived, not asked).
    derived_from: str = ""
    derived_label: str = ""


#: Fields the domain derives from another when that one is given (``Patient`` sets the
#: prednisone response from the day-8 blast count): shown as derived, not asked.
DERIVED_FROM: Mapping[str, str] = {"prednisone_response": "day8_blasts"}
#: Labels of the inputs that are not domain fields (reasons, the import file).
EXTRA_LABELS: Mapping[str, str] = {
    "reason": "Reason for the change",
    "void.reason": "Reason for voiding",
    "version": "Record version",
    "kind": "Event kind",
    "file": "CSV file",
    "form": "Form",
}

#: The input type of each value type of the domain vocabulary.
_INPUT = {"date": "date", "number": "number", "integer": "number", "choice": "select"}


def _derived_help(name: str) -> str:
    source = DERIVED_FROM.get(name)
    if source is None:
        return ""
    return (
        f"Derived from {PATIENT_FIELDS[source].full_label} when that is entered (then leave "
        "this empty); choose it only when the count is not available."
    )


def _field(spec: FieldSpec, required: bool) -> Field:
    """The input of a domain field (label with unit, help, choices from the vocabulary)."""
    source = DERIVED_FROM.get(spec.name, "")
    return Field(
        derived_from=source,
        derived_label=PATIENT_FIELDS[source].full_label if source else "",
        name=spec.name,
        label=spec.full_label,
        kind=_INPUT.get(spec.type, "text"),
        choices=spec.codes,
        required=required,
        help=spec.help or _derived_help(spec.name),
        step="1" if spec.type == "integer" else "any",
        options=spec.choices,
    )


def _patient_form() -> tuple[Field, ...]:
    """The stored patient fields of the domain, between the site-local code and the notes;
    required as the request schema requires them."""
    required = {n for n, f in PatientCreate.model_fields.items() if f.is_required()}
    return (
        Field("local_code", "Site-local code", required=True,
              help="Pseudonym used at your site; never a name. Letters, digits, '.', '_', '-'."),
        *(_field(PATIENT_FIELDS[name], name in required) for name in STORED_PATIENT_FIELDS),
        Field("notes", "Notes (no identifiers)", "textarea"),
    )  # fmt: skip


#: The patient registration and correction form (fields of ``PatientCreate``).
PATIENT_FORM: tuple[Field, ...] = _patient_form()

#: The add-event forms, one per event type of the domain (kind -> (label, fields)), in the
#: domain's order.
EVENT_FORMS: dict[str, tuple[str, tuple[Field, ...]]] = {
    kind: (t.label, tuple(_field(spec, spec.required) for spec in t.fields))
    for kind, t in EVENT_TYPES.items()
}


def form_values(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """The non-blank text values of ``names`` (blank means "not given")."""
    out: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip() if name != "notes" else value
    return out


def version_of(form: FormData) -> int | str:
    """The record version a form was rendered with (a number unless tampered with)."""
    text = str(form.get("version") or "")
    return int(text) if text.isdigit() and len(text) < 12 else text


def typed_values(values: Mapping[str, Any], fields: Iterable[Field]) -> dict[str, Any]:
    """``values`` with the text of number fields turned into numbers, as a JSON client
    sends them (the request schemas take numbers strictly); text that is not a number is
    passed on unchanged, so the schema refuses it with the API's code."""
    kinds = {f.name: f for f in fields}
    out: dict[str, Any] = dict(values)
    for name, text in values.items():
        f = kinds.get(name)
        if f is None or f.kind != "number" or not isinstance(text, str):
            continue
        try:
            number = float(text.replace(",", "")) if f.step != "1" else int(text)
        except ValueError:
            continue
        out[name] = number
    return out


FieldErrors = dict[str, list[InvalidInputError]]


#: A blank reason: the schema's length check answers before its own ``reason_required``.
_REASON_REQUIRED = "a reason for the change is required"


def _reason_code(e: InvalidInputError) -> InvalidInputError:
    """``reason_required`` for a missing reason (not the length check's ``too_short``)."""
    blank = e.code in ("too_short", "missing_field") or (
        e.code == "invalid" and "at least 1" in e.reason  # the length check of a blank text
    )
    if e.field.rsplit(".", 1)[-1] == "reason" and blank:
        return InvalidInputError(e.field, _REASON_REQUIRED, "reason_required")
    return e


def errors_of(exc: Exception) -> list[InvalidInputError]:
    """The field errors carried by a registry or validation error (a missing reason as
    ``reason_required``)."""
    if isinstance(exc, ValidationFailedError):
        return [_reason_code(e) for e in exc.errors]
    if isinstance(exc, ValidationError):
        return [_reason_code(e) for e in errors_from_pydantic(exc.errors())]
    if isinstance(exc, ConflictError):
        field = "local_code" if exc.code == "duplicate_patient" else "form"
        return [InvalidInputError(field, exc.message, exc.code)]
    if isinstance(exc, InvalidInputError):
        return [exc]
    raise TypeError(f"not a validation error: {exc!r}")


def by_field(errors: Sequence[InvalidInputError], fields: Iterable[str]) -> FieldErrors:
    """Errors keyed by the form field they belong to; the rest under ``"form"``."""
    names = set(fields)
    out: FieldErrors = {}
    for e in errors:
        key = e.field if e.field in names else "form"
        out.setdefault(key, []).append(e)
    return out


def validate_model(model: type[BaseModel], data: Mapping[str, Any]) -> BaseModel:
    """``model.model_validate(data)``; pydantic errors become ``ValidationFailedError``."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise ValidationFailedError(errors_from_pydantic(exc.errors())) from None


def options_of(f: Any) -> tuple[tuple[str, str], ...]:
    """(code, human label) pairs of a select: the vocabulary's labels, never raw codes."""
    options = getattr(f, "options", None) or (f.get("options") if isinstance(f, dict) else None)
    if options:
        return tuple(options)
    codes = getattr(f, "choices", None) or (f.get("choices", ()) if isinstance(f, dict) else ())
    return tuple((c, c.replace("_", " ").capitalize()) for c in codes)


def option_label(f: Any, code: str) -> str:
    """The human label of ``code`` in the select ``f`` (``—`` when not entered)."""
    if not code:
        return "—"
    return dict(options_of(f)).get(code, code)


def labels_of(fields: Iterable[Field], prefix: str = "") -> dict[str, str]:
    """Field name -> human label of ``fields`` and of the inputs every form shares."""
    out = dict(EXTRA_LABELS)
    out.update({f"{prefix}{f.name}": f.label for f in fields})
    return out


def derived_values(values: Mapping[str, str]) -> dict[str, str]:
    """``values`` with each derived field set from its source when that is a number
    (the prednisone response class from the day-8 blasts, as ``Patient`` derives it)."""
    out = dict(values)
    text = values.get("day8_blasts", "").replace(",", "")
    try:
        blasts = float(text)
    except ValueError:
        return out
    out["prednisone_response"] = "poor" if blasts >= PPR_THRESHOLD_PER_UL else "good"
    return out
