"""The frozen pydantic base class shared by every domain type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from infantall.domain.errors import InvalidRecordError, errors_from_validation
from infantall.errors import InvalidInputError

__all__ = ["DomainModel"]


class DomainModel(BaseModel):
    """Immutable, validated, JSON-friendly record.

    Construction (keyword arguments or :meth:`from_dict`) raises :class:`InvalidRecordError`
    (an :class:`~infantall.errors.InvalidInputError`) listing every problem with a stable
    code, instead of pydantic's ``ValidationError``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidRecordError(errors_from_validation(exc)) from None

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

        Field-level errors (types, choices, ranges) are all reported; cross-field errors
        (dates out of order, ...) are checked once the fields themselves are valid.
        """
        try:
            cls.from_dict(data)
        except InvalidRecordError as exc:
            return list(exc.errors)
        return []
