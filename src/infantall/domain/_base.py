"""The frozen pydantic base class shared by every domain type."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from infantall.domain.errors import InvalidRecordError, errors_from_validation
from infantall.errors import InfantallWarning, InvalidInputError

__all__ = ["DomainModel"]

#: Codes of errors a field has on its own (reported by the first pass).
_FIELD_LEVEL_CODES = frozenset(
    {"missing_field", "unknown_field", "invalid_type", "invalid_choice", "not_a_number", "invalid"}
)
#: Set while a record is re-validated without its failing fields (no third pass).
_SECOND_PASS: ContextVar[bool] = ContextVar("infantall_domain_second_pass", default=False)
_PLACEHOLDERS: dict[str, Any] = {"patient_id": "?", "date": "1900-01-01"}


def _root(field: str) -> str:
    return field.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]


class DomainModel(BaseModel):
    """Immutable, validated, JSON-friendly record.

    Construction (keyword arguments or :meth:`from_dict`) raises :class:`InvalidRecordError`
    (an :class:`~infantall.errors.InvalidInputError`) listing every problem with a stable
    code, instead of pydantic's ``ValidationError``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)
    #: Discriminator values that pydantic puts into error paths (the event kinds, for a
    #: type that holds events); they are dropped from the field paths of errors.
    _event_tags: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            errors = errors_from_validation(exc, type(self)._event_tags)
            if not _SECOND_PASS.get():
                errors += type(self)._cross_field_errors(data, errors)
            raise InvalidRecordError(errors) from None

    @classmethod
    def _prune(
        cls, data: dict[str, Any], errors: list[InvalidInputError]
    ) -> list[tuple[dict[str, Any], Callable[[str], str]]]:
        """Versions of ``data`` without the fields that failed on their own (required ones
        replaced by a neutral stand-in value), each with how to map error paths back to
        ``data``."""
        bad = {_root(e.field) for e in errors} & set(cls.model_fields)
        if not bad:
            return []
        pruned = {k: v for k, v in data.items() if k not in bad}
        for name in bad:
            if cls.model_fields[name].is_required():
                pruned[name] = _PLACEHOLDERS.get(name, "?")
        return [(pruned, lambda field: field)]

    @classmethod
    def _cross_field_errors(
        cls, data: dict[str, Any], errors: list[InvalidInputError]
    ) -> list[InvalidInputError]:
        """Cross-field errors of the rest of the record, once the fields that failed on their
        own are set aside: so that one pass reports ALL problems of a record."""
        seen = {(e.field, e.code) for e in errors}
        out: list[InvalidInputError] = []
        for pruned, remap in cls._prune(data, errors):
            token = _SECOND_PASS.set(True)
            try:
                with warnings.catch_warnings():
                    # implausible values were or will be reported on the record itself
                    warnings.simplefilter("ignore", InfantallWarning)
                    cls.model_validate(pruned)
                continue
            except InvalidRecordError as exc:
                found = exc.errors
            except ValidationError as exc:
                found = errors_from_validation(exc, cls._event_tags)
            finally:
                _SECOND_PASS.reset(token)
            for e in found:
                key = (remap(e.field), e.code)
                if e.code not in _FIELD_LEVEL_CODES and key not in seen:
                    seen.add(key)
                    out.append(InvalidInputError(key[0], e.reason, e.code))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from a JSON-friendly mapping (as produced by :meth:`to_dict`)."""
        if not isinstance(data, Mapping):
            raise InvalidRecordError(
                [InvalidInputError("record", "expected a JSON object (mapping)", "invalid_type")]
            )
        return cls(**{str(k): v for k, v in data.items()})

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-compatible values (dates as ISO strings, enums as strings)."""
        return self.model_dump(mode="json")

    @classmethod
    def collect_errors(cls, data: Mapping[str, Any]) -> list[InvalidInputError]:
        """Every validation error of ``data`` (empty when it is valid).

        Field-level errors (types, choices, ranges) and cross-field errors (dates out of
        order, ...) are reported together: cross-field checks run on the rest of the record,
        with the fields (or events) that failed on their own set aside.
        """
        try:
            cls.from_dict(data)
        except InvalidRecordError as exc:
            return list(exc.errors)
        return []
