"""Error responses: RFC 9457 problem details with a stable ``code`` and per-field errors.

Bodies never carry stack traces, SQL or file paths (anchors-reliability F1).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from infantall.registry.errors import LockedOutError, RegistryError, ValidationFailedError
from infantall.registry.validation import errors_from_pydantic

__all__ = ["PROBLEM_MEDIA_TYPE", "install_error_handlers", "problem", "request_errors"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("infantall.web")

_STATUS_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
}


def problem(
    status: int,
    detail: str,
    code: str,
    errors: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _STATUS_TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = [dict(e) for e in errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def request_errors(raw: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """FastAPI/pydantic validation errors as ``{field, reason, code}`` objects."""
    return [e.as_dict() for e in errors_from_pydantic(raw)]


def install_error_handlers(app: FastAPI) -> None:
    """Map registry errors, request validation and HTTP errors to problem responses."""

    @app.exception_handler(ValidationFailedError)
    async def _validation_failed(_: Request, exc: ValidationFailedError) -> JSONResponse:
        errors = [e.as_dict() for e in exc.errors]
        return problem(422, exc.message, exc.code, errors)

    @app.exception_handler(LockedOutError)
    async def _locked(_: Request, exc: LockedOutError) -> JSONResponse:
        return problem(429, exc.message, exc.code, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RegistryError)
    async def _registry(_: Request, exc: RegistryError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(exc.status, exc.message, exc.code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = request_errors(exc.errors())
        first = errors[0] if errors else {"field": "body", "reason": "invalid", "code": "invalid"}
        return problem(422, f"{first['field']}: {first['reason']}", first["code"], errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, str(exc.detail), code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        _log.exception("unexpected error", exc_info=exc)
        return problem(500, "internal error; the incident was logged", "internal_error")
