"""The small exception tree of infantall (see STYLE.md §6).

Every error a user can cause is an :class:`InvalidInputError` naming the field, the reason
and a stable code; every warning derives from :class:`InfantallWarning` so that users can
filter them in one line.
"""

from __future__ import annotations

__all__ = ["DataFileError", "InfantallError", "InfantallWarning", "InvalidInputError"]


class InfantallError(Exception):
    """Base class of every error raised on purpose by infantall."""


class InvalidInputError(InfantallError, ValueError):
    """A value given by a user is invalid.

    Parameters
    ----------
    field
        The name of the offending field (dotted path for nested values, e.g. ``events[2].date``).
    reason
        A sentence a person can act on.
    code
        A stable, documented machine-readable code such as ``negative_wbc``.
    """

    def __init__(self, field: str, reason: str, code: str = "invalid") -> None:
        self.field = field
        self.reason = reason
        self.code = code
        super().__init__(f"{field}: {reason} [{code}]")

    def as_dict(self) -> dict[str, str]:
        """The error as the JSON object the CLI and the API print."""
        return {"field": self.field, "reason": self.reason, "code": self.code}


class DataFileError(InfantallError):
    """A data file shipped with or given to infantall is malformed.

    The message names the file, the record and the field.
    """

    def __init__(self, file: str, record: str, field: str, reason: str) -> None:
        self.file = file
        self.record = record
        self.field = field
        self.reason = reason
        super().__init__(f"{file}: record {record}: field {field!r}: {reason}")


class InfantallWarning(UserWarning):
    """Base class of every warning issued by infantall (implausible but possible input, ...)."""
