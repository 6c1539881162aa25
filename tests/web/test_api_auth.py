"""Authentication: argon2 hashes, bearer tokens and session cookies, revocation, lockout."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from infantall.registry.models import ApiToken, AuditEntry, User
from infantall.registry.testing import SEED_PASSWORD

API = "/api/v1"
H = dict[str, dict[str, str]]


def test_login_gives_a_token_stored_only_as_a_digest(client: Any, registry: Any) -> None:
    r = client.post(f"{API}/auth/login", json={"username": "editor_a", "password": SEED_PASSWORD})
    assert r.status_code == 200
    token = r.json()["access_token"]
    me = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {
        "username": "editor_a",
        "role": "site_editor",
        "site_code": "SITE-A",
        "token_id": r.json()["token_id"],
    }
    _, database = registry
    with database.read_sessions() as s:
        hashes = s.scalars(select(ApiToken.token_hash)).all()
        password_hash = s.scalar(select(User.password_hash).where(User.username == "editor_a"))
    assert token not in hashes and all(len(h) == 64 for h in hashes)
    assert password_hash is not None and password_hash.startswith("$argon2id$")


def test_missing_wrong_and_revoked_credentials_are_401(client: Any, auth: H) -> None:
    assert client.get(f"{API}/patients").status_code == 401
    bad = client.get(f"{API}/patients", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"
    assert client.post(f"{API}/auth/logout", headers=auth["viewer_a"]).status_code == 200
    assert client.get(f"{API}/patients", headers=auth["viewer_a"]).status_code == 401
    # an admin revokes another user's token; it fails on the very next request
    token_id = client.get(f"{API}/auth/me", headers=auth["viewer_b"]).json()["token_id"]
    assert (
        client.post(f"{API}/auth/tokens/{token_id}/revoke", headers=auth["editor_a"]).status_code
        == 404
    )
    assert (
        client.post(f"{API}/auth/tokens/{token_id}/revoke", headers=auth["admin"]).status_code
        == 200
    )
    assert client.get(f"{API}/auth/me", headers=auth["viewer_b"]).status_code == 401


def test_lockout_after_repeated_failures(client: Any, registry: Any) -> None:
    settings, database = registry
    wrong = {"username": "viewer_a", "password": "wrong-password!"}
    codes = [
        client.post(f"{API}/auth/login", json=wrong).status_code
        for _ in range(settings.lockout_threshold)
    ]
    assert codes == [401] * settings.lockout_threshold
    locked = client.post(
        f"{API}/auth/login", json={"username": "viewer_a", "password": SEED_PASSWORD}
    )
    unknown = client.post(f"{API}/auth/login", json={"username": "nobody", "password": "x" * 12})
    # issue 14 defect 10: a locked account answers exactly like an unknown user
    assert locked.status_code == unknown.status_code == 401
    assert locked.json() == unknown.json()
    assert unknown.json()["detail"] == "invalid username or password"
    with database.read_sessions() as s:
        actions = s.scalars(
            select(AuditEntry.action).where(
                AuditEntry.action.in_(["login_failed", "lockout", "login_locked"])
            )
        ).all()
    assert sorted(actions).count("login_failed") == settings.lockout_threshold + 1
    assert "lockout" in actions and "login_locked" in actions


def test_session_cookie_for_pages(client: Any) -> None:
    client.headers["Origin"] = "http://testserver"
    r = client.post(f"{API}/auth/session", json={"username": "coord", "password": SEED_PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert client.get(f"{API}/auth/me").json()["role"] == "coordinator"
    # a cross-site HTML form cannot post JSON: other media types are refused
    form = client.post(
        f"{API}/patients",
        content=b"local_code=X",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415
    assert client.post(f"{API}/auth/logout").status_code == 200
    assert client.get(f"{API}/auth/me").status_code == 401


def test_admin_manages_sites_and_users(client: Any, auth: H) -> None:
    r = client.post(
        f"{API}/sites",
        json={"code": "SITE-C", "name": "Hospital C", "country": "NL"},
        headers=auth["admin"],
    )
    assert r.status_code == 201
    assert (
        client.post(
            f"{API}/sites", json={"code": "SITE-C", "name": "again"}, headers=auth["admin"]
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"{API}/sites", json={"code": "SITE-D", "name": "D"}, headers=auth["coord"]
        ).status_code
        == 403
    )
    new = {
        "username": "editor_c",
        "password": "long-enough-pw",
        "role": "site_editor",
        "site_code": "SITE-C",
    }
    assert client.post(f"{API}/users", json=new, headers=auth["admin"]).status_code == 201
    no_site = client.post(
        f"{API}/users", json={**new, "username": "x1", "site_code": None}, headers=auth["admin"]
    )
    assert no_site.json()["code"] == "site_required"
    moved = client.patch(
        f"{API}/users/editor_c", json={"version": 1, "role": "site_viewer"}, headers=auth["admin"]
    )
    assert moved.status_code == 200
    assert moved.json()["role"] == "site_viewer" and moved.json()["site_code"] == "SITE-C"
    sites = [s["code"] for s in client.get(f"{API}/sites", headers=auth["viewer_a"]).json()]
    assert sites == ["SITE-A"]
    assert client.get(f"{API}/users", headers=auth["editor_a"]).status_code == 403
