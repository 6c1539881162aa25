"""Security of the server-rendered pages: CSRF tokens, response headers, session cookie.

* **CSRF**: the "signed double-submit cookie" of the OWASP CSRF Prevention Cheat Sheet,
  bound to the session. A random value lives in an HttpOnly, SameSite=Strict cookie; each
  form carries HMAC-SHA-256(secret key, that value and the SHA-256 of the session token) in
  a hidden field; a POST is accepted only when the field matches both cookies, so a token
  is worthless with another session (or after logout/login) and cannot be forged without
  the secret key. Where the browser sends an ``Origin`` header it must be this site
  (defence in depth; the cheat sheet's "verifying origin with standard headers").
* **Headers**: a restrictive Content-Security-Policy (no inline script or style, nothing
  from other origins, no framing, forms only to this site), ``nosniff``, referrer only to this site
  (``no-referrer`` would make browsers send ``Origin: null`` on form POSTs),
  ``no-store`` caching of pages that show patient data.
* **Session cookie**: the opaque session token of :func:`infantall.registry.auth.login`
  in an HttpOnly, SameSite=Lax cookie, ``Secure`` whenever the settings ask for it or the
  environment is production.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from infantall.registry.settings import RegistrySettings

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "SECURITY_HEADERS",
    "check_csrf",
    "csrf_cookie_value",
    "csrf_token",
    "delete_session_cookie",
    "new_csrf_value",
    "secure_cookies",
    "set_csrf_cookie",
    "set_security_headers",
    "set_session_cookie",
]

#: Name of the cookie that holds the random CSRF value.
CSRF_COOKIE = "infantall_csrf"
#: Name of the hidden form field that holds the signed CSRF token.
CSRF_FIELD = "csrf_token"

#: No inline script or style anywhere: every page uses /static/app.css only and no script.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    "style-src 'self'; "
    "img-src 'self' data:; "
    "form-action 'self'; "
    "frame-ancestors 'none'; "
    "base-uri 'none'"
)
#: Headers set on every page, redirect and static file of the pages.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def set_security_headers(response: Response, *, cache: bool = False) -> Response:
    """Add :data:`SECURITY_HEADERS` (and ``Cache-Control: no-store`` unless ``cache``)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response


def secure_cookies(settings: RegistrySettings) -> bool:
    """Whether cookies get the ``Secure`` attribute (always in production)."""
    return settings.session_cookie_secure or settings.environment == "production"


def csrf_cookie_value(request: Request) -> str | None:
    """What the CSRF token of this browser signs: its random CSRF cookie value (if it has
    one of the right shape) bound to the digest of its session cookie, when it has one."""
    value = request.cookies.get(CSRF_COOKIE)
    if value is None or not 20 <= len(value) <= 100:
        return None
    settings: RegistrySettings = request.app.state.settings
    session = request.cookies.get(settings.session_cookie_name)
    if session:
        return f"{value}|{hashlib.sha256(session.encode('utf-8', 'replace')).hexdigest()}"
    return value


def csrf_token(settings: RegistrySettings, cookie_value: str) -> str:
    """The form token that matches ``cookie_value`` (HMAC under the app's secret key)."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()


def set_csrf_cookie(response: Response, settings: RegistrySettings, value: str) -> None:
    """Store the random CSRF value in an HttpOnly, SameSite=Strict cookie."""
    # As long-lived as the session cookie: a browser that keeps its session keeps the value
    # its forms were signed with.
    response.set_cookie(
        CSRF_COOKIE,
        value,
        max_age=settings.token_ttl_minutes * 60,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(settings),
        path="/",
    )


def new_csrf_value() -> str:
    """A fresh random CSRF cookie value."""
    return secrets.token_urlsafe(32)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Browsers omit Origin on some same-origin requests; the token is the real check.
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def check_csrf(request: Request, settings: RegistrySettings, submitted: str | None) -> bool:
    """Whether a form POST carries the token of this browser's CSRF cookie (and, when the
    browser says where it comes from, comes from this site)."""
    cookie = csrf_cookie_value(request)
    if cookie is None or not submitted or not _same_origin(request):
        return False
    return hmac.compare_digest(csrf_token(settings, cookie), submitted)


def set_session_cookie(
    response: Response, settings: RegistrySettings, token: str, max_age: int
) -> None:
    """Store the session token (HttpOnly, SameSite=Lax; Secure per :func:`secure_cookies`)."""
    response.set_cookie(
        settings.session_cookie_name,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path="/",
    )


def delete_session_cookie(response: Response, settings: RegistrySettings) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(
        settings.session_cookie_name,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )
