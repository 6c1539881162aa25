"""Error responses: RFC 9457 problem details with a stable ``code`` and per-field errors.

Bodies never carry stack traces, SQL or file paths (anchors-reliability F1).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from infantall.errors import InvalidInputError
from infantall.registry.error_codes import REGISTRY_ERROR_CODES
from infantall.registry.errors import LockedOutError, RegistryError, ValidationFailedError
from infantall.registry.validation import errors_from_pydantic

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_SCHEMA",
    "document_problems",
    "install_error_handlers",
    "problem",
    "request_errors",
]

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
    503: "Service unavailable",
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


async def _database_lost(request: Request, exc: DBAPIError) -> JSONResponse:
    """503 ``database_unavailable`` for a lost connection; any other database error goes on
    to the handler of the unexpected (500).

    A pooled PostgreSQL connection the server dropped less than ``db.IDLE_PING_SECONDS``
    after its last use is found by the query that uses it; SQLAlchemy then invalidates the
    pool, so a retry gets a fresh connection. That is the server's passing state, not a
    fault of the request.
    """
    if not exc.connection_invalidated:
        raise exc
    _log.warning("a database connection was lost: %s", type(exc.orig).__name__)
    detail = "the connection to the database was lost; try again"
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        detail += " after reading the record: a change lost at its commit may be stored"
    return problem(503, detail, "database_unavailable", headers={"Retry-After": "1"})


def install_error_handlers(app: FastAPI) -> None:
    """Map registry errors, request validation and HTTP errors to problem responses."""

    @app.exception_handler(ValidationFailedError)
    async def _validation_failed(_: Request, exc: ValidationFailedError) -> JSONResponse:
        errors = [e.as_dict() for e in exc.errors]
        return problem(422, exc.message, exc.code, errors)

    @app.exception_handler(InvalidInputError)
    async def _invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        # A service that checks one field raises this alone (e.g. an import over the site's
        # byte limit): the same 422 problem as a validation failure, never a 500.
        return problem(422, f"{exc.field}: {exc.reason}", exc.code, [exc.as_dict()])

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

    app.add_exception_handler(DBAPIError, _database_lost)  # type: ignore[arg-type]

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        _log.exception("unexpected error", exc_info=exc)
        return problem(500, "internal error; the incident was logged", "internal_error")


#: The JSON schema of a problem body (RFC 9457 plus the registry's ``code`` and ``errors``).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {
            "type": "string",
            "description": "Stable error code: the table is x-error-codes (code -> status, "
            "meaning); field codes of errors[] are the domain's",
        },
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
#: Answers any API operation may give, whatever its route: the request guard (400, 413,
#: 415, 429), authentication (401), the unexpected (500) and a lost database connection
#: (503 ``database_unavailable``).
_ALWAYS = (400, 401, 413, 415, 422, 429, 500, 503)
#: Answers of operations that name a record or act on one.
_BY_METHOD = {
    "get": (403, 404),
    "post": (403, 404, 409),
    "patch": (403, 404, 409),
    "put": (403, 404, 409),
    "delete": (403, 404, 409),
}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _STATUS_TITLES.get(status, "Error") + " (RFC 9457 problem details)",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _add_problems(operation: dict[str, Any], method: str, audited: bool = False) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in (*_ALWAYS, *_BY_METHOD.get(method, ()), *((503,) if audited else ())):
        key = str(status)
        existing = responses.get(key)
        documented = _problem_response(status)
        if existing is not None and existing.get("description"):
            documented["description"] = existing["description"]
        responses[key] = documented


def document_problems(app: FastAPI, audited_reads: re.Pattern[str] | None = None) -> None:
    """Document ``application/problem+json`` and every error status on every API operation.

    FastAPI documents only the success answer and a 422 in its own validation shape; the
    app answers every error as a problem (:func:`problem`), so the schema says so: each
    operation lists the guard's and authentication's answers (400, 401, 413, 415, 422,
    429, 500) and, by method, 403/404/409, each with the ``Problem`` schema; a GET whose
    path matches ``audited_reads`` also 503 (its audit row could not be committed).
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = {
            **PROBLEM_SCHEMA,
            "x-error-codes": {
                code: {"status": status, "meaning": meaning}
                for code, (status, meaning) in REGISTRY_ERROR_CODES.items()
            },
        }
        for path, item in schema.get("paths", {}).items():
            audited = audited_reads is not None and audited_reads.match(path) is not None
            for method, operation in item.items():
                if method in _BY_METHOD or method == "head":
                    _add_problems(operation, method, audited and method == "get")
        if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
