"""Stable error codes and warnings of the domain model.

Every rejected value is reported as :class:`~infantall.errors.InvalidInputError` with a
``field`` (dotted path, e.g. ``events[2].date``), a ``reason`` and one of the stable codes in
:data:`ERROR_CODES`. A record with several problems raises :class:`InvalidRecordError`, an
``InvalidInputError`` for its first problem that also carries the full list in ``.errors``
(what a registry answers with HTTP 422 and a CSV import lists per row).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from infantall.errors import InfantallWarning, InvalidInputError

__all__ = [
    "ERROR_CODES",
    "ImplausibleValueWarning",
    "InvalidRecordError",
    "errors_from_validation",
]

#: Every error code the domain model raises, with its meaning (documented in README.md,
#: tested against the code).
ERROR_CODES: dict[str, str] = {
    "missing_field": "A required field is missing.",
    "unknown_field": "A field that the record type does not have was given.",
    "invalid_type": "The value has the wrong type or cannot be parsed (number, date, text).",
    "invalid_choice": "The value is not one of the allowed choices of the field.",
    "not_a_number": "A numeric value is NaN or infinite.",
    "diagnosis_before_birth": "The date of diagnosis is before the date of birth.",
    "negative_age": "The age at diagnosis in days is negative.",
    "not_an_infant": "The age at diagnosis is above 365 days: not infant ALL.",
    "age_mismatch": "age_days disagrees with the dates of birth and diagnosis.",
    "negative_wbc": "The white blood cell count is negative.",
    "negative_blast_count": "The day-8 peripheral blast count is negative.",
    "prednisone_response_mismatch": (
        "The prednisone response class disagrees with the day-8 blast count "
        "(good < 1,000/µL, poor ≥ 1,000/µL)."
    ),
    "fusion_partner_mismatch": (
        "The KMT2A fusion partner contradicts the KMT2A status (a partner with a germline "
        "KMT2A, or 'none' with a rearranged KMT2A)."
    ),
    "enrollment_before_diagnosis": "The enrollment date is before the date of diagnosis.",
    "response_marrow_mismatch": "A complete remission was recorded with an M2 or M3 marrow.",
    "mrd_out_of_range": "An MRD value is not a fraction between 0 and 1.",
    "invalid_hla_match": "The HLA match is not of the form 'k/n' with 0 ≤ k ≤ n (e.g. 5/6, 8/8).",
    "invalid_grade": "A late-effect grade is not between 1 and 5 (CTCAE).",
    "missing_diagnosis_date": "Dated events were given but the date of diagnosis is unknown.",
    "event_before_diagnosis": "An event is dated before the date of diagnosis.",
    "events_out_of_order": (
        "Events are impossible in this order (e.g. any event, such as HSCT, after death)."
    ),
    "multiple_deaths": "More than one death was recorded.",
    "invalid": "Another validation error (the reason says which).",
}


class ImplausibleValueWarning(InfantallWarning):
    """A value is implausible but possible (WBC above 1,000 × 10^9/L, age 0 days); kept."""


class InvalidRecordError(InvalidInputError):
    """A record failed validation; ``errors`` lists every problem found.

    The exception itself describes the first problem (``field``, ``reason``, ``code``), so
    code that handles a single :class:`InvalidInputError` keeps working.
    """

    def __init__(self, errors: Sequence[InvalidInputError]) -> None:
        if not errors:
            raise ValueError("InvalidRecordError needs at least one error")
        self.errors: list[InvalidInputError] = list(errors)
        first = self.errors[0]
        super().__init__(first.field, first.reason, first.code)
        if len(self.errors) > 1:
            self.args = (f"{self.args[0]} (and {len(self.errors) - 1} more)",)

    def as_list(self) -> list[dict[str, str]]:
        """Every error as the JSON objects the CLI and the API print."""
        return [e.as_dict() for e in self.errors]


_PYDANTIC_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "enum": "invalid_choice",
    "literal_error": "invalid_choice",
    "union_tag_invalid": "invalid_choice",
    "union_tag_not_found": "missing_field",
    "finite_number": "not_a_number",
}


def _field_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not out:
            out = str(part)
        else:
            out += f".{part}"
    return out


def _join(prefix: str, field: str) -> str:
    if not prefix:
        return field
    if not field:
        return prefix
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


def errors_from_validation(exc: ValidationError) -> list[InvalidInputError]:
    """Translate a pydantic ``ValidationError`` into our errors with stable codes.

    Cross-field errors raised by our own validators travel inside pydantic's ``ctx`` and are
    re-rooted at the location where pydantic found them (``patient`` inside a history).
    """
    out: list[InvalidInputError] = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not _is_tag(p)]
        prefix = _field_path(loc)
        ctx: dict[str, Any] = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, InvalidRecordError):
            out.extend(
                InvalidInputError(_join(prefix, e.field), e.reason, e.code) for e in inner.errors
            )
            continue
        if isinstance(inner, InvalidInputError):
            out.append(InvalidInputError(_join(prefix, inner.field), inner.reason, inner.code))
            continue
        typ = err["type"]
        code = _PYDANTIC_CODES.get(typ)
        if code is None:
            code = "invalid_type" if ("parsing" in typ or "type" in typ) else "invalid"
        out.append(InvalidInputError(prefix or "record", str(err["msg"]), code))
    return out


def _is_tag(part: int | str) -> bool:
    """Pydantic puts the discriminator value of a tagged union into ``loc``; drop it."""
    return isinstance(part, str) and part in _EVENT_TAGS


_EVENT_TAGS = frozenset(
    {
        "response",
        "mrd",
        "relapse",
        "death",
        "hsct",
        "second_malignancy",
        "last_contact",
        "late_effect",
    }
)
