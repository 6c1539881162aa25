"""Form handling: the fields a page submits, and errors placed next to their fields.

Form values are passed to the same request schemas and services as the JSON API
(:mod:`infantall.registry.schemas`, :mod:`infantall.registry.patients`,
:mod:`infantall.registry.events`), so a page refuses exactly what the API refuses, with the
same field names and stable error codes
(:func:`infantall.registry.validation.errors_from_pydantic`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from infantall.domain import (
    CD10Status,
    CNSStatus,
    Conditioning,
    DeathCause,
    DonorType,
    FusionPartner,
    Immunophenotype,
    InductionResponse,
    KMT2AStatus,
    LateEffectType,
    MarrowStatus,
    MRDMethod,
    MRDTimePoint,
    PrednisoneResponse,
    RelapseSite,
    Sex,
)
from infantall.errors import InvalidInputError
from infantall.registry.errors import ConflictError, ValidationFailedError
from infantall.registry.validation import errors_from_pydantic

__all__ = [
    "EVENT_FORMS",
    "PATIENT_FORM",
    "Field",
    "FieldErrors",
    "errors_of",
    "form_values",
    "typed_values",
    "validate_model",
    "version_of",
]


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a form: name, label, input type, choices and help text."""

    name: str
    label: str
    kind: str = "text"  # text, date, number, select, textarea
    choices: tuple[str, ...] = ()
    required: bool = False
    help: str = ""
    step: str = "any"


def _choices(enum: type[Enum]) -> tuple[str, ...]:
    return tuple(str(m.value) for m in enum)


#: The patient registration and correction form (fields of ``PatientCreate``).
PATIENT_FORM: tuple[Field, ...] = (
    Field("local_code", "Site-local code", required=True,
          help="Pseudonym used at your site; never a name. Letters, digits, '.', '_', '-'."),
    Field("birth_date", "Date of birth", "date", required=True),
    Field("diagnosis_date", "Date of diagnosis", "date", required=True),
    Field("sex", "Sex", "select", _choices(Sex)),
    Field("wbc", "WBC at diagnosis (10⁹/L)", "number",
          help="Same number as 10³/µL. Values above 1,000 are kept with a warning."),
    Field("immunophenotype", "Immunophenotype", "select", _choices(Immunophenotype)),
    Field("cd10", "CD10", "select", _choices(CD10Status)),
    Field("kmt2a", "KMT2A status", "select", _choices(KMT2AStatus)),
    Field("fusion_partner", "KMT2A fusion partner", "select", _choices(FusionPartner)),
    Field("cns", "CNS status", "select", _choices(CNSStatus)),
    Field("day8_blasts", "Day-8 peripheral blasts (/µL)", "number",
          help="Prednisone response is derived: < 1,000/µL good, ≥ 1,000/µL poor."),
    Field("prednisone_response", "Prednisone response", "select",
          _choices(PrednisoneResponse)),
    Field("day15_marrow", "Day-15 marrow", "select", _choices(MarrowStatus)),
    Field("enrollment_date", "Enrollment date", "date"),
    Field("protocol", "Treatment protocol id", help="e.g. interfant-06"),
    Field("notes", "Notes (no identifiers)", "textarea"),
)  # fmt: skip

_DATE = Field("date", "Date", "date", required=True)

#: The add-event forms, one per kind of domain event (fields of the domain event types).
EVENT_FORMS: dict[str, tuple[str, tuple[Field, ...]]] = {
    "response": ("End-of-induction response", (
        _DATE,
        Field("status", "Response", "select", _choices(InductionResponse), required=True),
        Field("marrow", "Marrow", "select", _choices(MarrowStatus)),
    )),
    "mrd": ("MRD result", (
        _DATE,
        Field("value", "MRD (fraction; 1e-4 = 0.01%)", "number", required=True),
        Field("time_point", "Time point", "select", _choices(MRDTimePoint)),
        Field("method", "Method", "select", _choices(MRDMethod)),
        Field("detection_limit", "Detection limit (fraction)", "number"),
    )),
    "hsct": ("HSCT", (
        _DATE,
        Field("donor", "Donor", "select", _choices(DonorType)),
        Field("hla_match", "HLA match (k/n, e.g. 5/6)"),
        Field("conditioning", "Conditioning", "select", _choices(Conditioning)),
    )),
    "relapse": ("Relapse", (
        _DATE,
        Field("site", "Site", "select", _choices(RelapseSite)),
    )),
    "second_malignancy": ("Second malignancy", (
        _DATE,
        Field("diagnosis", "Diagnosis"),
    )),
    "late_effect": ("Late effect", (
        _DATE,
        Field("effect", "Effect", "select", _choices(LateEffectType)),
        Field("grade", "CTCAE grade (1-5)", "number", step="1"),
    )),
    "last_contact": ("Last contact", (_DATE,)),
    "death": ("Death", (
        _DATE,
        Field("cause", "Cause", "select", _choices(DeathCause)),
    )),
}  # fmt: skip


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


def errors_of(exc: Exception) -> list[InvalidInputError]:
    """The field errors carried by a registry or validation error."""
    if isinstance(exc, ValidationFailedError):
        return list(exc.errors)
    if isinstance(exc, ValidationError):
        return errors_from_pydantic(exc.errors())
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
