"""Templates, the page route class and the dependencies every page uses.

Pages are Jinja2 templates with autoescaping on for every template. :class:`PageRoute`
turns the registry's errors into HTML pages (404 for another site's patient exactly as for
a missing one, 403, 409, ...), redirects to the login page when the session is missing or
expired, and adds the security headers of :mod:`infantall.web.pages.security` to every
response. Pages hold no business logic: they call :mod:`infantall.registry` services.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response

from infantall import RESEARCH_DISCLAIMER, __version__
from infantall.registry import admin
from infantall.registry.access import SITE_ROLES, Principal
from infantall.registry.auth import authenticate
from infantall.registry.db import scope_session
from infantall.registry.errors import AuthenticationError, RegistryError
from infantall.registry.settings import RegistrySettings
from infantall.web.deps import SessionDep, SettingsDep
from infantall.web.pages.forms import EXTRA_LABELS, option_label, options_of
from infantall.web.pages.security import (
    CSRF_FIELD,
    check_csrf,
    csrf_cookie_value,
    csrf_token,
    new_csrf_value,
    set_csrf_cookie,
    set_security_headers,
)

__all__ = [
    "TEMPLATES_DIR",
    "CheckedForm",
    "CsrfFailedError",
    "LoginRequiredError",
    "PageRoute",
    "PageUser",
    "environment",
    "error_page",
    "page_user",
    "redirect",
    "render",
]

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
_log = logging.getLogger("infantall.web.pages")

#: One-line notices shown after a redirect (``?done=<key>``); only these keys are shown.
NOTICES: Mapping[str, str] = {
    "registered": "Patient registered; risk groups computed and stored.",
    "event_added": "Event recorded; risk groups recomputed.",
    "corrected": "Correction saved with its reason (see the audit history).",
    "voided": "Record voided with its reason. Nothing was deleted.",
    "risk_computed": "Risk groups recomputed and stored with the protocol versions.",
    "logged_out": "You are logged out.",
    "password_changed": "Password changed; every session of your account has ended. Log in "
    "with the new password.",
    "signed": "Signed. The record is locked: every change is refused until it is unlocked.",
    "unlocked": "Unlocked with its reason; the signatures stay in the history as superseded.",
}


class LoginRequiredError(Exception):
    """No valid session: the browser is sent to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__("login required")
        self.next_path = next_path


class CsrfFailedError(Exception):
    """A form POST without a valid CSRF token."""


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the pages (autoescaping on for every template)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["when"] = _when
    env.globals["DISCLAIMER"] = RESEARCH_DISCLAIMER
    env.globals["VERSION"] = __version__
    env.globals["CSRF_FIELD"] = CSRF_FIELD
    env.globals["options_of"] = options_of
    env.globals["option_label"] = option_label
    return env


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:,.{digits}f}"
    return str(value)


def _when(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _csrf(request: Request, settings: RegistrySettings) -> str:
    value = csrf_cookie_value(request)
    if value is None:
        value = getattr(request.state, "new_csrf", None) or new_csrf_value()
        request.state.new_csrf = value
    return csrf_token(settings, value)


def _site_code(session: Session, user: Principal) -> str | None:
    if user.role in SITE_ROLES:
        sites = admin.list_sites(session, user)
        return sites[0].code if sites else None
    return None


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    user: Principal | None = None,
    session: Session | None = None,
) -> HTMLResponse:
    """Render ``template`` with the page context (user, CSRF token, notice, disclaimer)."""
    settings: RegistrySettings = request.app.state.settings
    done = request.query_params.get("done", "")
    ctx: dict[str, Any] = {
        "user": user,
        "site_code": _site_code(session, user) if user and session else None,
        "csrf_token": _csrf(request, settings),
        "notice": NOTICES.get(done),
        "path": request.url.path,
        "errors": {},
        "error_list": [],
        "field_labels": EXTRA_LABELS,
    }
    ctx.update(context or {})
    html = environment().get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status)


def redirect(path: str) -> RedirectResponse:
    """A 303 redirect to a local path."""
    return RedirectResponse(path, status_code=303)


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """An error page (no navigation that could leak anything)."""
    return render(
        request, "error.html", {"title": title, "message": message, "status": status}, status=status
    )


_TITLES = {
    401: "Not logged in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "Invalid input",
    429: "Too many attempts",
}


def _handle(request: Request, exc: Exception) -> Response:
    if isinstance(exc, LoginRequiredError):
        return redirect(f"/login?next={quote(exc.next_path, safe='/')}")
    if isinstance(exc, CsrfFailedError):
        return error_page(
            request,
            403,
            "Form expired",
            "The form was not accepted: its security token is missing or does not match "
            "this browser. Go back, reload the page and submit it again.",
        )
    if isinstance(exc, RequestValidationError):
        # A malformed id in the URL is reported like any record outside the caller's scope.
        return error_page(request, 404, "Not found", "No such page or record.")
    if isinstance(exc, AuthenticationError):
        return redirect(f"/login?next={quote(request.url.path, safe='/')}")
    if isinstance(exc, RegistryError):
        return error_page(request, exc.status, _TITLES.get(exc.status, "Error"), exc.message)
    raise exc


class PageRoute(APIRoute):
    """A route whose errors become HTML pages and whose responses get security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except (
                LoginRequiredError,
                CsrfFailedError,
                RequestValidationError,
                RegistryError,
            ) as exc:
                response = _handle(request, exc)
            new = getattr(request.state, "new_csrf", None)
            if new is not None:
                set_csrf_cookie(response, request.app.state.settings, new)
            return set_security_headers(response)

        return run


def page_user(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    """The logged-in user of a page (else a redirect to the login page)."""
    token = request.cookies.get(settings.session_cookie_name)
    next_path = request.url.path
    if not token:
        raise LoginRequiredError(next_path)
    try:
        principal = authenticate(session, token, "ui", scope=True)
    except AuthenticationError:
        raise LoginRequiredError(next_path) from None
    # PostgreSQL row-level security: set by the token lookup for this transaction, kept
    # here for the session's later ones.
    scope_session(session, principal, applied=True)
    return principal


async def checked_form(request: Request, settings: SettingsDep) -> FormData:
    """The submitted form, after the CSRF check."""
    form = await request.form(max_files=1, max_fields=200)
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not check_csrf(request, settings, token):
        _log.warning("CSRF check failed on %s", request.url.path)
        raise CsrfFailedError
    return form


PageUser = Annotated[Principal, Depends(page_user)]
CheckedForm = Annotated[FormData, Depends(checked_form)]
