"""Request guards applied before any route (anchors-reliability B5, B6; OWASP API4).

* Bodies larger than the limit are refused with 413 before they are read in full.
* JSON bodies of the API must be ``application/json`` (415 otherwise, which also keeps
  cross-site HTML forms from riding on the session cookie) and must be strict JSON: no
  NaN/Infinity (RFC 8259), no duplicate keys, nesting no deeper than the limit, no NUL
  characters or lone surrogates in strings (400 with a stable code). The body is parsed
  once here and replayed to the route unchanged.
* Requests beyond ``request_rate_per_ip`` from one client address get 429 (``Retry-After``).
* Every API response carries ``Cache-Control: no-store`` and ``X-Content-Type-Options:
  nosniff``: patient data must not stay in a browser's or a proxy's cache (HIPAA
  §164.312(a); OWASP ASVS v5 14.3.2).
* Reads of patient-level data are audited before their answer starts, and rejected CSV
  imports after theirs (:mod:`infantall.web.read_audit`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infantall.registry.settings import RegistrySettings
from infantall.web.errors import problem
from infantall.web.ratelimit import RateLimiter
from infantall.web.read_audit import audit_rejected_import, audited_send

__all__ = ["API_RESPONSE_HEADERS", "RequestGuard"]

#: Headers added to every response under ``/api/``.
API_RESPONSE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: API paths whose body is not JSON (the CSV import).
_RAW_BODY_SUFFIXES = ("/import",)


class _Reject(Exception):
    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code


def _duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Reject(400, f"duplicate key {key!r} in a JSON object", "duplicate_key")
        seen[key] = value
    return seen


def _no_constants(name: str) -> Any:
    raise _Reject(400, f"{name} is not valid JSON (RFC 8259)", "malformed_json")


def _check_tree(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise _Reject(400, f"JSON nested deeper than {max_depth} levels", "too_deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise _Reject(400, "NUL characters are not allowed", "invalid_character")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _Reject(400, "lone surrogate in a string", "invalid_encoding") from None


def check_json_body(body: bytes, max_depth: int) -> None:
    """Raise ``_Reject`` unless ``body`` is strict, shallow, clean JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Reject(400, "the body is not valid UTF-8", "invalid_encoding") from None
    try:
        value = json.loads(text, object_pairs_hook=_duplicate_keys, parse_constant=_no_constants)
    except RecursionError:
        raise _Reject(400, f"JSON nested deeper than {max_depth} levels", "too_deep") from None
    except json.JSONDecodeError as exc:
        raise _Reject(400, f"malformed JSON: {exc.msg} at {exc.pos}", "malformed_json") from None
    _check_tree(value, max_depth)


class RequestGuard:
    """Pure ASGI middleware: rate limit, size, media type, JSON hygiene, API cache headers
    and the audit of patient reads."""

    def __init__(self, app: ASGIApp, settings: RegistrySettings, limiter: RateLimiter) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        retry = self.limiter.request_allowed(str(client[0]) if client else "unknown")
        if retry is not None:
            response = problem(
                429, "too many requests", "rate_limited", headers={"Retry-After": str(retry)}
            )
            await response(scope, receive, send)
            return
        path: str = scope["path"]
        status: list[int] = []
        send = _watch(audited_send(scope, send), status, api=path.startswith("/api/"))
        scope.setdefault("state", {})
        if scope["method"] in _BODY_METHODS:
            await self._guard_body(scope, receive, send)
        else:
            await self.app(scope, receive, send)
        if status:
            await audit_rejected_import(scope, status[0])

    async def _guard_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        raw = path.endswith(_RAW_BODY_SUFFIXES)
        limit = self.settings.max_import_bytes if raw else self.settings.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = await self._read(receive, headers, limit)
            if path.startswith("/api/") and not raw and body:
                media = headers.get("content-type", "").split(";")[0].strip().lower()
                if media != "application/json":
                    raise _Reject(
                        415, "send the body as application/json", "unsupported_media_type"
                    )
                check_json_body(body, self.settings.max_json_depth)
        except _Reject as rej:
            response = problem(rej.status, rej.detail, rej.code)
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _read(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _Reject(413, f"the body is larger than {limit} bytes", "body_too_large")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Reject(413, f"the body is larger than {limit} bytes", "body_too_large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _watch(send: Send, status: list[int], *, api: bool) -> Send:
    """``send`` that records the status and, for the API, adds the cache headers."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
            if not api:
                await send(message)
                return
            names = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in API_RESPONSE_HEADERS if k not in names]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped
