"""Errors of the registry services; the web layer maps each to one HTTP status."""

from __future__ import annotations

from collections.abc import Sequence

from infantall.errors import InfantallError, InvalidInputError

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "LockedOutError",
    "NotFoundError",
    "PermissionDeniedError",
    "RegistryError",
    "ValidationFailedError",
]


class RegistryError(InfantallError):
    """Base class of the registry's service errors (``code`` is stable and documented)."""

    status = 400
    code = "registry_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFoundError(RegistryError):
    """No such record in the caller's scope (also for another site's record: no leak)."""

    status = 404
    code = "not_found"


class PermissionDeniedError(RegistryError):
    """The caller's role may not perform this operation at all (function-level check)."""

    status = 403
    code = "forbidden"


class AuthenticationError(RegistryError):
    """Missing, malformed, expired or revoked credentials."""

    status = 401
    code = "not_authenticated"


class LockedOutError(RegistryError):
    """Too many failed logins: the account is locked for ``retry_after`` seconds."""

    status = 429
    code = "account_locked"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConflictError(RegistryError):
    """A stale version (optimistic concurrency) or a duplicate record."""

    status = 409
    code = "conflict"


class ValidationFailedError(RegistryError):
    """One or more invalid fields; nothing was changed."""

    status = 422
    code = "invalid_input"

    def __init__(self, errors: Sequence[InvalidInputError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(f"{first.field}: {first.reason}", first.code)
