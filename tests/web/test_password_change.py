"""Changing one's own password (``POST /api/v1/auth/password``, ``infantall registry
password``), on SQLite and PostgreSQL. Before, an account kept for ever the password an
administrator chose at creation or reset: the administrator knew the password that signs
the account's e-signatures (21 CFR 11.300(b), 11.200(a)(3))."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from infantall.cli import app as cli_app
from infantall.registry.models import AuditEntry, User
from infantall.registry.testing import SEED_PASSWORD

API = "/api/v1"
H = dict[str, dict[str, str]]
NEW = "a fresh long passphrase 42"


def _login(client: Any, password: str, username: str = "editor_a") -> Any:
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


def _audit_text(database: Any) -> str:
    with database.read_sessions() as s:
        rows = s.scalars(select(AuditEntry)).all()
    return " ".join(f"{r.action} {r.old} {r.new} {r.reason}" for r in rows)


def test_a_user_changes_their_own_password(client: Any, auth: H, registry: Any) -> None:
    _, database = registry
    other = _login(client, SEED_PASSWORD).json()["access_token"]
    changed = client.post(
        f"{API}/auth/password",
        json={"current_password": SEED_PASSWORD, "new_password": NEW},
        headers=auth["editor_a"],
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["revoked_tokens"] >= 2
    # every token of the account ends, this request's too; other accounts keep theirs
    for token in (auth["editor_a"], {"Authorization": f"Bearer {other}"}):
        assert client.get(f"{API}/auth/me", headers=token).status_code == 401
    assert client.get(f"{API}/auth/me", headers=auth["viewer_a"]).status_code == 200
    assert _login(client, SEED_PASSWORD).status_code == 401
    assert _login(client, NEW).status_code == 200
    text = _audit_text(database)
    assert "password_changed" in text and NEW not in text and SEED_PASSWORD not in text


def test_a_wrong_current_password_changes_nothing(client: Any, auth: H, registry: Any) -> None:
    _, database = registry
    with database.read_sessions() as s:
        before = s.scalar(select(User.password_hash).where(User.username == "editor_a"))
    refused = client.post(
        f"{API}/auth/password",
        json={"current_password": "not the password at all", "new_password": NEW},
        headers=auth["editor_a"],
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "password_refused")
    with database.read_sessions() as s:
        user = s.scalar(select(User).where(User.username == "editor_a"))
        assert user is not None and user.password_hash == before
        assert user.failed_logins == 1  # counted towards the lockout, as a failed login
    assert client.get(f"{API}/auth/me", headers=auth["editor_a"]).status_code == 200
    assert _login(client, SEED_PASSWORD).status_code == 200


def test_the_new_password_meets_the_policy(client: Any, auth: H) -> None:
    for new, code in (
        ("short", "password_too_short"),
        ("password1234", "password_common"),
        ("editor_a and some more words", "password_contains_username"),
    ):
        r = client.post(
            f"{API}/auth/password",
            json={"current_password": SEED_PASSWORD, "new_password": new},
            headers=auth["editor_a"],
        )
        assert r.status_code == 422, (new, r.text)
        assert ("new_password", code) in {(e["field"], e["code"]) for e in r.json()["errors"]}
    assert client.get(f"{API}/auth/me", headers=auth["editor_a"]).status_code == 200
    assert _login(client, SEED_PASSWORD).status_code == 200


def test_the_command_line_changes_the_password(registry: Any, seeded: Any) -> None:
    settings, _ = registry
    url = ["--database-url", settings.database_url]
    env = {"INFANTALL_PASSWORD": SEED_PASSWORD, "INFANTALL_NEW_PASSWORD": NEW}
    done = CliRunner().invoke(
        cli_app, ["registry", "password", "--user", "viewer_a", *url, "--format", "json"], env=env
    )
    assert done.exit_code == 0, done.output
    assert '"changed"' in done.output
    again = CliRunner().invoke(
        cli_app, ["registry", "password", "--user", "viewer_a", *url], env=env
    )
    # the old password no longer logs in
    assert again.exit_code != 0 and "invalid username or password" in again.output


_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def _page_login(client: Any, username: str, password: str) -> None:
    token = _CSRF.search(client.get("/login").text)
    assert token is not None
    form = {"username": username, "password": password, "csrf_token": token[1]}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def test_the_page_changes_the_password(client: Any) -> None:
    """A clinician changes the password from the pages: a link beside "Log out", the form,
    one message per problem and nothing changed, then the login page with a notice."""
    _page_login(client, "viewer_a", SEED_PASSWORD)
    dashboard = client.get("/dashboard").text
    assert 'href="/account/password"' in dashboard
    page = client.get("/account/password")
    assert page.status_code == 200 and 'autocomplete="new-password"' in page.text
    token = _CSRF.search(page.text)
    assert token is not None

    def post(current: str, new: str, again: str) -> Any:
        form = {"current_password": current, "new_password": new, "confirm_password": again,
                "csrf_token": token[1]}  # fmt: skip
        return client.post("/account/password", data=form, follow_redirects=False)

    differ = post(SEED_PASSWORD, NEW, NEW + "x")
    assert differ.status_code == 422 and "The two new passwords differ." in differ.text
    weak = post(SEED_PASSWORD, "short", "short")
    assert weak.status_code == 422 and "at least 12 characters" in weak.text
    wrong = post("not the password at all", NEW, NEW)
    assert wrong.status_code == 422 and "nothing was changed" in wrong.text
    done = post(SEED_PASSWORD, NEW, NEW)
    assert done.status_code == 303 and done.headers["location"] == "/login?done=password_changed"
    assert (
        "every session of your account has ended" in client.get("/login?done=password_changed").text
    )
    assert client.get("/dashboard", follow_redirects=False).status_code in (302, 303, 401)
    assert _login(client, NEW, "viewer_a").status_code == 200
