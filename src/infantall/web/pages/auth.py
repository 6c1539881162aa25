"""Login, logout, the home redirect, the admin overview and the static files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import FileResponse, Response

from infantall.registry import admin
from infantall.registry import auth as auth_service
from infantall.registry.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from infantall.registry.models import Role
from infantall.web.deps import HasherDep, LimiterDep, SessionDep, SettingsDep
from infantall.web.pages.rendering import (
    CheckedForm,
    PageRoute,
    PageUser,
    redirect,
    render,
)
from infantall.web.pages.security import delete_session_cookie, set_session_cookie
from infantall.web.ratelimit import RateLimitedError, client_address

__all__ = ["STATIC_DIR", "home_of", "router", "safe_next"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,60}\.(css|png|svg|ico|txt)$")
_MEDIA = {
    "css": "text/css",
    "png": "image/png",
    "svg": "image/svg+xml",
    "ico": "image/x-icon",
    "txt": "text/plain",
}
_HOME = {
    Role.site_editor: "/dashboard",
    Role.site_viewer: "/dashboard",
    Role.investigator: "/dashboard",
    Role.coordinator: "/coordinator",
    Role.admin: "/admin",
}
_NEXT = re.compile(r"^/[A-Za-z0-9/_.-]{0,200}$")


def home_of(role: Role) -> str:
    """The first page of a role."""
    return _HOME[role]


def safe_next(value: str | None) -> str | None:
    """A local path to go to after login (never another site: no ``//`` or scheme)."""
    if value and _NEXT.match(value) and not value.startswith("//"):
        return value
    return None


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The pages' own static files (hand-written CSS); nothing outside the folder."""
    path = STATIC_DIR / name
    if not _STATIC_NAME.match(name) or not path.is_file():
        raise NotFoundError("no such file")
    return FileResponse(path, media_type=_MEDIA[name.rsplit(".", 1)[1]])


@router.get("/")
def index(user: PageUser) -> Response:
    """Send each role to its first page."""
    return redirect(home_of(user.role))


@router.get("/login")
def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=300)] = None
) -> Response:
    """The login form."""
    return render(request, "login.html", {"next": safe_next(next) or ""})


def _login_failed(request: Request, message: str, status: int, username: str, nxt: str) -> Response:
    ctx = {"next": nxt, "username": username, "login_error": message}
    return render(request, "login.html", ctx, status=status)


@router.post("/login")
def login(
    request: Request,
    form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
) -> Response:
    """Check the password; on success set the session cookie and go to the role's page.

    Unknown users, wrong passwords and locked accounts get the same page; too many attempts
    from one address or for one account get 429 before any password is checked."""
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    code = str(form.get("totp_code") or "").strip()[:6] or None
    nxt = safe_next(str(form.get("next") or "")) or ""
    if not username or not password or len(username) > 64 or len(password) > 256:
        return _login_failed(request, "Enter your username and password.", 422, username, nxt)
    try:
        limiter.check_login(client_address(request), username)
        issued = auth_service.login(
            session,
            settings,
            hasher,
            username=username,
            password=password,
            kind="session",
            channel="ui",
            totp_code=code,
        )
    except PermissionDeniedError as exc:  # totp_enrolment_required (production)
        return _login_failed(request, exc.message, 403, username, nxt)
    except RateLimitedError as exc:
        minutes = max(1, -(-exc.retry_after // 60))
        message = (
            "Too many login attempts. "
            f"Try again in {minutes} minute{'s' if minutes > 1 else ''}, "
            "or ask your registry administrator."
        )
        return _login_failed(request, message, 429, username, nxt)
    except AuthenticationError as exc:
        if exc.code == "totp_required":
            return _login_failed(request, exc.message, 401, username, nxt)
        message = (
            "Invalid username or password, or the account is locked after repeated failed "
            f"logins ({settings.lockout_threshold} failed attempts lock an account for "
            f"{settings.lockout_minutes} minutes; your registry administrator can unlock it)."
        )
        return _login_failed(request, message, 401, username, nxt)
    response = redirect(nxt or home_of(Role(issued.role)))
    set_session_cookie(response, settings, issued.token, settings.token_ttl_minutes * 60)
    return response


@router.post("/logout")
def logout(
    user: PageUser, form: CheckedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    """Revoke the session (it fails on the next request) and forget the cookie."""
    auth_service.revoke_token(session, user)
    response = redirect("/login?done=logged_out")
    delete_session_cookie(response, settings)
    return response


@router.get("/account/password")
def password_page(request: Request, user: PageUser, session: SessionDep) -> Response:
    """The form to change one's own password."""
    return render(request, "password.html", {"problems": []}, user=user, session=session)


@router.post("/account/password")
def change_password(
    request: Request,
    user: PageUser,
    form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
) -> Response:
    """Change one's own password (:func:`infantall.registry.auth.change_password`); on
    success every session ends and the browser goes to the login page."""
    current = str(form.get("current_password") or "")[:256]
    new = str(form.get("new_password") or "")[:256]
    if new != str(form.get("confirm_password") or "")[:256]:
        problems = ["The two new passwords differ."]
    else:
        try:
            limiter.check_login(client_address(request), user.username)
            auth_service.change_password(session, settings, hasher, user, current, new)
        except ValidationFailedError as exc:
            problems = [e.reason[:1].upper() + e.reason[1:] + "." for e in exc.errors]
        except (PermissionDeniedError, RateLimitedError) as exc:
            problems = [exc.message]
        else:
            response = redirect("/login?done=password_changed")
            delete_session_cookie(response, settings)
            return response
    ctx = {"problems": problems}
    return render(request, "password.html", ctx, status=422, user=user, session=session)


@router.get("/admin")
def admin_page(request: Request, user: PageUser, session: SessionDep) -> Response:
    """Sites and accounts (administrators; they read no patient data)."""
    sites = admin.list_sites(session, user)
    users = admin.list_users(session, user)
    grants = admin.list_privilege_grants(session, user)
    return render(
        request,
        "admin.html",
        {"sites": sites, "users": users, "privilege_grants": grants},
        user=user,
        session=session,
    )
