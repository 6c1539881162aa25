"""Stable error codes and warnings of the domain model.

Every rejected value is reported as :class:`~infantall.errors.InvalidInputError` with a
``field`` (dotted path, e.g. ``events[2].date``), a ``reason`` and one of the stable codes in
:data:`ERROR_CODES`. A record with several problems raises :class:`InvalidRecordError`, an
``InvalidInputError`` for its first problem that also carries the full list in ``.errors``
(what a registry answers with HTTP 422 and a CSV import lists per row).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, get_args

from pydantic import ValidationError
from pydantic_core.core_schema import ErrorType

from infantall.errors import InfantallWarning, InvalidInputError

__all__ = [
    "ERROR_CODES",
    "PYDANTIC_CODES",
    "ImplausibleValueWarning",
    "InvalidRecordError",
    "code_of",
    "errors_from_validation",
    "translate_errors",
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
    "wbc_too_high": (
        "The WBC is above 100,000 × 10^9/L: impossible (typed in cells/µL instead of 10^9/L?)."
    ),
    "blast_count_too_high": (
        "The day-8 peripheral blast count is above 10^8/µL (the WBC bound): impossible."
    ),
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
    "cr2_without_relapse": "A second remission (CR2) is recorded without an earlier relapse.",
    "salvage_without_indication": (
        "Salvage therapy is recorded without an earlier relapse, refractory disease or "
        "induction failure."
    ),
    "refractory_without_salvage": (
        "Refractory disease after salvage is recorded without an earlier salvage line."
    ),
    "hsct_status_mismatch": (
        "The disease status at HSCT contradicts the history (CR1 after a relapse, or CR2 "
        "without an earlier CR2)."
    ),
    "hsct_number_mismatch": "The HSCT numbers do not count the transplants in date order.",
    "invalid_salvage_line": "The salvage line is not a whole number of 1 or more.",
    "salvage_stop_before_start": "Salvage therapy stops before it starts.",
    "cr2_marrow_mismatch": "A second remission was recorded with an M2 or M3 marrow.",
    "invalid_hsct_number": "The HSCT number is not a whole number of 1 or more.",
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


#: pydantic error types -> stable codes. Codes outside :data:`ERROR_CODES` come only from
#: the constraints of transport schemas (the registry's request bodies: lengths, patterns,
#: malformed JSON); the domain's own types never raise them.
PYDANTIC_CODES: dict[str, str] = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "enum": "invalid_choice",
    "literal_error": "invalid_choice",
    "union_tag_invalid": "invalid_choice",
    "union_tag_not_found": "missing_field",
    "finite_number": "not_a_number",
    "int_from_float": "invalid_type",
    "date_from_datetime_inexact": "invalid_type",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "greater_than": "out_of_range",
    "less_than": "out_of_range",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "too_long": "too_long",
    "too_short": "too_short",
    "string_pattern_mismatch": "invalid_format",
    "json_invalid": "malformed_json",
}
#: pydantic's own error types; any other type was raised on purpose (``PydanticCustomError``
#: with a stable code of ours, e.g. ``invalid_code``) and is kept as it is.
_BUILTIN_TYPES = frozenset(get_args(ErrorType))
#: Where FastAPI says a request error was found (not part of the field path).
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _is_internal(part: int | str, tags: Collection[str]) -> bool:
    """pydantic puts validator names and the tag of a tagged union (the event kind) into
    ``loc``; they are not fields."""
    return isinstance(part, str) and (
        part.startswith(("function-", "tagged-union")) or part in tags
    )


def _field_path(loc: Sequence[int | str], tags: Collection[str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_internal(part, tags):
            continue
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _join(prefix: str, field: str) -> str:
    if not prefix:
        return field
    if not field:
        return prefix
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


def code_of(error_type: str) -> str:
    """The stable code of a pydantic error type."""
    code = PYDANTIC_CODES.get(error_type)
    if code is not None:
        return code
    if error_type not in _BUILTIN_TYPES:
        return error_type
    return "invalid_type" if "parsing" in error_type or "type" in error_type else "invalid"


def _ours(inner: object) -> list[InvalidInputError]:
    if isinstance(inner, InvalidRecordError):
        return list(inner.errors)
    if isinstance(inner, InvalidInputError):
        return [inner]
    return []


def translate_errors(
    raw: Sequence[Mapping[str, Any]], *, root: str = "record", tags: Collection[str] = ()
) -> list[InvalidInputError]:
    """pydantic (or FastAPI request) errors as :class:`InvalidInputError` with stable codes.

    The one translation of pydantic errors in infantall: the domain types, the registry's
    request schemas and the web forms all use it. Errors raised by our own validators travel
    inside pydantic's ``ctx`` and keep their code, re-rooted at the location where pydantic
    found them (``patient.wbc`` inside a history). ``root`` names an error of the whole
    record (``record`` for a domain type, ``body`` for a request); ``tags`` are the
    discriminator values pydantic puts into paths (the event kinds,
    :data:`infantall.domain.vocabulary.EVENT_KINDS`, which this module cannot import: the
    event types are built on it). Use :func:`infantall.domain.errors_from_pydantic`, which
    passes them.
    """
    out: list[InvalidInputError] = []
    for err in raw:
        loc = list(err.get("loc", ()))
        if loc and loc[0] in _LOCATIONS:
            loc = loc[1:]
        prefix = _field_path(loc, tags)
        ours = _ours((err.get("ctx") or {}).get("error"))
        if ours:
            out.extend(
                InvalidInputError(_join(prefix, e.field) or root, e.reason, e.code) for e in ours
            )
            continue
        code = code_of(str(err.get("type", "invalid")))
        if err.get("type") == "union_tag_invalid" and not (err.get("ctx") or {}).get("tag"):
            code = "missing_field"  # an empty kind was given: nothing chosen
        field = _join(prefix, _discriminator(err)) or root
        out.append(InvalidInputError(field, _reason(err), code))
    return out


def _discriminator(err: Mapping[str, Any]) -> str:
    """The field that picks a tagged union's member (the event ``kind``), for an error of that
    choice: it names the field a person got wrong, not the whole record."""
    if str(err.get("type", "")).startswith("union_tag_"):
        return str((err.get("ctx") or {}).get("discriminator", "")).strip("'")
    return ""


def _reason(err: Mapping[str, Any]) -> str:
    """A person's reason: lengths in characters, not pydantic's "items after validation"."""
    ctx = err.get("ctx") or {}
    kind = str(err.get("type", ""))
    if kind.endswith("too_long") and "max_length" in ctx:
        return f"at most {ctx['max_length']} characters"
    if kind.endswith("too_short") and "min_length" in ctx:
        n = int(ctx["min_length"])
        return "must not be empty" if n == 1 else f"at least {n} characters"
    return _choice_or_date_reason(kind, err, ctx) or str(err.get("msg", "invalid value"))


def _choice_or_date_reason(kind: str, err: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    """The reason of a kind of record not given or unknown, or of a date not read ("")."""
    if kind == "union_tag_invalid" and ctx.get("tag"):
        return f"unknown kind {ctx['tag']!r}; use one of {ctx.get('expected_tags', '')}"
    if kind == "union_tag_invalid":
        return f"required: one of {ctx.get('expected_tags', '')}"
    if kind == "union_tag_not_found":
        return "required: the kind of record"
    if kind in _DATE_PARSING:  # pydantic: "Input should be a valid date or datetime, <why>"
        why = str(err.get("msg", "")).partition(", ")[2]
        return f"not a calendar date{': ' + why if why else ''} (write YYYY-MM-DD)"
    return ""


#: pydantic's error types of a date string it could not read.
_DATE_PARSING = frozenset({"date_parsing", "date_from_datetime_parsing"})


def errors_from_validation(
    exc: ValidationError, tags: Collection[str] = ()
) -> list[InvalidInputError]:
    """Every error of a pydantic ``ValidationError`` raised by a domain type."""
    return translate_errors(exc.errors(), tags=tags)
