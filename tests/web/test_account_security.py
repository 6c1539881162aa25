"""Issue 14, access and security: each numbered defect of the adversarial test, on SQLite and
PostgreSQL. Every test here fails on the code before the fix (the defect is named)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from sqlalchemy import select, update

from infantall.registry import auth as auth_service
from infantall.registry.errors import AuthenticationError
from infantall.registry.models import ApiToken, AuditEntry, User, utcnow
from infantall.registry.security import (
    MIN_PASSWORD_LENGTH,
    common_passwords,
    password_hasher,
    password_problems,
)
from infantall.registry.testing import SEED_PASSWORD
from infantall.web.deps import IsoDate
from infantall.web.errors import install_error_handlers
from infantall.web.ratelimit import RateLimiter

API = "/api/v1"
H = dict[str, dict[str, str]]
ORIGIN = {"Origin": "http://testserver"}
PATIENT = {
    "local_code": "SEC-001",
    "birth_date": "2024-03-01",
    "diagnosis_date": "2024-06-15",
    "sex": "female",
    "wbc": 320.5,
    "kmt2a": "rearranged",
    "notes": "mother's phone 555-0199",
}


def _patient(client: Any, auth: H) -> dict[str, Any]:
    r = client.post(f"{API}/patients", json=PATIENT, headers=auth["editor_a"])
    assert r.status_code == 201, r.text
    return dict(r.json())


def _actions(database: Any, action: str) -> list[AuditEntry]:
    with database.read_sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# defect 2: the admin reads every patient through the audit trail -------------------------


def test_admin_sees_audit_metadata_but_no_patient_values(client: Any, auth: H) -> None:
    p = _patient(client, auth)
    rows = client.get(f"{API}/audit", params={"entity": "patient"}, headers=auth["admin"])
    assert rows.status_code == 200
    assert any(r["entity_id"] == p["registry_id"] for r in rows.json()), rows.json()
    for row in rows.json():
        assert row["old"] is None and row["new"] is None and row["reason"] is None
        assert {"actor_username", "at", "action", "entity_id"} <= row.keys()
    assert (
        "2024-03-01" not in rows.text and "SEC-001" not in rows.text and "555-0199" not in rows.text
    )
    # values of the admin's own domain (accounts, sites) stay visible
    users = client.get(f"{API}/audit", params={"entity": "user"}, headers=auth["admin"]).json()
    assert any(r["new"] and r["new"].get("username") == "coord" for r in users)


# defect 2: privileged accounts minted silently -------------------------------------------


def test_granting_coordinator_or_admin_is_shown_to_every_admin(client: Any, auth: H) -> None:
    second = {"username": "admin2", "password": "second-admin-pass", "role": "admin"}
    assert client.post(f"{API}/users", json=second, headers=auth["admin"]).status_code == 201
    token2 = client.post(
        f"{API}/auth/login", json={"username": "admin2", "password": "second-admin-pass"}
    ).json()["access_token"]
    coord = {"username": "coord2", "password": "pooled-reader-77", "role": "coordinator"}
    assert client.post(f"{API}/users", json=coord, headers=auth["admin"]).status_code == 201
    viewer = client.get(f"{API}/users", headers=auth["admin"]).json()
    version = next(u["version"] for u in viewer if u["username"] == "viewer_b")
    elevate = {"version": version, "role": "coordinator"}
    assert (
        client.patch(f"{API}/users/viewer_b", json=elevate, headers=auth["admin"]).status_code
        == 200
    )
    grants = client.get(
        f"{API}/users/privilege-grants", headers={"Authorization": f"Bearer {token2}"}
    )
    assert grants.status_code == 200
    seen = {(g["username"], g["role"], g["previous_role"], g["granted_by"]) for g in grants.json()}
    assert ("admin2", "admin", None, "admin") in seen
    assert ("coord2", "coordinator", None, "admin") in seen
    assert ("viewer_b", "coordinator", "site_viewer", "admin") in seen
    assert client.get(f"{API}/users/privilege-grants", headers=auth["coord"]).status_code == 403


# defect 6: tokens survive a password reset or a role change ------------------------------


@pytest.mark.parametrize(
    "change",
    [{"password": "brand-new-secret-9"}, {"role": "site_viewer"}, {"active": False}],
    ids=["password", "role", "deactivate"],
)
def test_password_reset_and_role_change_revoke_tokens(
    client: Any, auth: H, registry: Any, change: dict[str, Any]
) -> None:
    _, database = registry
    assert client.get(f"{API}/auth/me", headers=auth["editor_a"]).status_code == 200
    users = client.get(f"{API}/users", headers=auth["admin"]).json()
    version = next(u["version"] for u in users if u["username"] == "editor_a")
    r = client.patch(
        f"{API}/users/editor_a", json={"version": version, **change}, headers=auth["admin"]
    )
    assert r.status_code == 200, r.text
    assert client.get(f"{API}/auth/me", headers=auth["editor_a"]).status_code == 401
    with database.read_sessions() as s:
        live = s.scalars(
            select(ApiToken.id)
            .join(User, User.id == ApiToken.user_id)
            .where(User.username == "editor_a", ApiToken.revoked_at.is_(None))
        ).all()
    assert live == []
    assert _actions(database, "tokens_revoked")


def test_unchanged_rights_keep_tokens(client: Any, auth: H) -> None:
    users = client.get(f"{API}/users", headers=auth["admin"]).json()
    version = next(u["version"] for u in users if u["username"] == "viewer_a")
    body = {"version": version, "active": True}
    assert (
        client.patch(f"{API}/users/viewer_a", json=body, headers=auth["admin"]).status_code == 200
    )
    assert client.get(f"{API}/auth/me", headers=auth["viewer_a"]).status_code == 200


# defect 7: the API login sets the session cookie without Secure in production ------------


def test_api_session_cookie_is_secure_in_production(registry: Any) -> None:
    from fastapi.testclient import TestClient

    from infantall.web import create_app

    settings, database = registry
    production = settings.model_copy(update={"environment": "production"})
    with TestClient(create_app(production, database=database), base_url="https://testserver") as c:
        r = c.post(
            f"{API}/auth/session",
            # a site role: admins and coordinators need a second factor in production
            json={"username": "editor_a", "password": SEED_PASSWORD},
            headers={"Origin": "https://testserver"},
        )
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie


# defect 11: API cookie routes skip the Origin check --------------------------------------


def test_cookie_state_changes_need_this_sites_origin(client: Any, auth: H) -> None:
    login = {"username": "editor_a", "password": SEED_PASSWORD}
    assert client.post(f"{API}/auth/session", json=login).status_code == 403  # login CSRF
    assert client.post(f"{API}/auth/session", json=login, headers=ORIGIN).status_code == 200
    body = {**PATIENT, "local_code": "SEC-ORIGIN"}
    for headers in ({}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}):
        r = client.post(f"{API}/patients", json=body, headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "origin_mismatch", headers
    assert client.get(f"{API}/patients").status_code == 200  # reads need no Origin
    assert client.post(f"{API}/patients", json=body, headers=ORIGIN).status_code == 201
    # a bearer token is not sent by browsers on their own: no Origin needed
    client.cookies.clear()
    other = {**body, "local_code": "SEC-BEARER"}
    assert client.post(f"{API}/patients", json=other, headers=auth["editor_a"]).status_code == 201


# defect 12: no Cache-Control on patient JSON; reads and rejected imports not audited -----


def test_patient_json_is_not_cached_and_reads_are_audited(
    client: Any, auth: H, registry: Any
) -> None:
    _, database = registry
    p = _patient(client, auth)
    r = client.get(f"{API}/patients/{p['registry_id']}", headers=auth["viewer_a"])
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    reads = _actions(database, "read")
    assert [(a.actor_username, a.entity, a.entity_id) for a in reads] == [
        ("viewer_a", "patient", p["registry_id"])
    ]
    assert "320.5" not in str(reads[0].new)
    # a read that fails (another site's patient) is not a read of a record
    assert client.get(f"{API}/patients/{p['registry_id']}", headers=auth["viewer_b"]).status_code
    assert len(_actions(database, "read")) == 1
    client.get(f"{API}/patients", headers=auth["editor_a"])
    assert len(_actions(database, "read")) == 2


def test_rejected_import_is_audited(client: Any, auth: H, registry: Any) -> None:
    _, database = registry
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["record_id", "birth_date", "diagnosis_date"])
    writer.writerow(["X-1", "not-a-date", "2024-06-15"])
    r = client.post(
        f"{API}/import",
        content=buffer.getvalue().encode(),
        headers={**auth["editor_a"], "Content-Type": "text/csv"},
    )
    assert r.status_code == 422
    rows = _actions(database, "import_rejected")
    assert [(a.actor_username, a.new) for a in rows] == [
        ("editor_a", {"path": "/api/v1/import", "status": 422})
    ]


# defect 10: rate limits, one answer for unknown and locked users, unlock, password policy


def test_login_rate_limited_per_account_and_per_address(app: Any, client: Any) -> None:
    settings = app.state.settings
    app.state.rate_limiter = RateLimiter(
        settings.model_copy(
            update={"login_rate_per_account": "3/minute", "login_rate_per_ip": "6/minute"}
        )
    )
    right = {"username": "viewer_a", "password": SEED_PASSWORD}
    codes = [client.post(f"{API}/auth/login", json=right).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.post(f"{API}/auth/login", json=right)
    assert limited.json()["code"] == "rate_limited"
    assert 0 < int(limited.headers["retry-after"]) <= 60
    # unknown names are counted the same way (the answer does not reveal which exist)
    ghost = {"username": "ghost", "password": "x" * 12}
    assert client.post(f"{API}/auth/login", json=ghost).status_code == 401  # 6th attempt
    seventh = client.post(f"{API}/auth/login", json=ghost)
    assert seventh.status_code == 429 and seventh.json()["code"] == "rate_limited"


def test_admin_unlocks_a_locked_account(client: Any, auth: H, registry: Any) -> None:
    settings, database = registry
    wrong = {"username": "viewer_a", "password": "wrong-password!"}
    for _ in range(settings.lockout_threshold):
        client.post(f"{API}/auth/login", json=wrong)
    right = {"username": "viewer_a", "password": SEED_PASSWORD}
    assert client.post(f"{API}/auth/login", json=right).status_code == 401
    users = client.get(f"{API}/users", headers=auth["admin"]).json()
    assert next(u for u in users if u["username"] == "viewer_a")["locked_until"] is not None
    assert client.post(f"{API}/users/viewer_a/unlock", headers=auth["coord"]).status_code == 403
    r = client.post(f"{API}/users/viewer_a/unlock", headers=auth["admin"])
    assert r.status_code == 200 and r.json()["locked_until"] is None
    assert client.post(f"{API}/auth/login", json=right).status_code == 200
    assert _actions(database, "unlock")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("aaaaaaaaaa", "password_too_short"),
        ("aaaaaaaaaaaa", "password_repetitive"),
        ("password1234", "password_common"),
        ("iloveyou2024!", "password_common"),
        ("new-user-x-secret", "password_contains_username"),
    ],
)
def test_weak_passwords_are_refused(client: Any, auth: H, password: str, code: str) -> None:
    body = {"username": "new-user-x", "password": password, "role": "site_viewer"}
    r = client.post(f"{API}/users", json={**body, "site_code": "SITE-A"}, headers=auth["admin"])
    assert r.status_code == 422
    assert code in {e["code"] for e in r.json()["errors"]}
    assert {e["field"] for e in r.json()["errors"]} == {"password"}


def test_common_password_list_is_shipped_and_pinned() -> None:
    # zxcvbn-python 4.5.0's "passwords" list (registry/data/README.md): 30,000 entries
    words = common_passwords()
    assert len(words) == 30_000
    assert {"123456", "password", "12345678", "qwerty"} <= words
    assert MIN_PASSWORD_LENGTH == 12
    assert password_problems("correct-horse-battery", "viewer_a") == []


# idle timeout -----------------------------------------------------------------------------


def test_session_expires_when_idle_and_slides_on_use(registry: Any, seeded: Any) -> None:
    settings, database = registry
    settings = settings.model_copy(update={"idle_timeout_minutes": 5})
    hasher = password_hasher(settings)
    with database.write_sessions() as s:
        issued = auth_service.login(
            s, settings, hasher, username="viewer_a", password=SEED_PASSWORD, kind="session"
        )
    now = utcnow()
    assert issued.expires_at - now <= dt.timedelta(minutes=5)  # not the 8-hour lifetime
    with database.write_sessions() as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == issued.token_id)
            .values(expires_at=now + dt.timedelta(seconds=30))
        )
        s.commit()
    with database.read_sessions() as s:
        auth_service.authenticate(s, issued.token, "ui", settings)
    with database.read_sessions() as s:
        slid = s.scalar(select(ApiToken.expires_at).where(ApiToken.id == issued.token_id))
    assert slid is not None and slid - utcnow() > dt.timedelta(minutes=4)
    with database.write_sessions() as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == issued.token_id)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        s.commit()
    with database.read_sessions() as s, pytest.raises(AuthenticationError):
        auth_service.authenticate(s, issued.token, "ui", settings)


# defect 13: OpenAPI drift -----------------------------------------------------------------


def test_openapi_documents_problem_json_for_every_error(app: Any) -> None:
    schema = app.openapi()
    assert "Problem" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("400", "401", "413", "415", "422", "429", "500"):
                content = responses[status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
            if method in ("post", "patch"):
                assert {"403", "404", "409"} <= responses.keys(), (method, path)


def test_documented_status_codes_cover_real_answers(client: Any, auth: H, app: Any) -> None:
    schema = app.openapi()
    probes = [
        ("get", "/patients/{patient_id}", f"{API}/patients/P-0000000000000000", auth["viewer_a"]),
        ("get", "/audit", f"{API}/audit", auth["viewer_a"]),
        ("post", "/patients", f"{API}/patients", auth["editor_a"]),
        ("get", "/auth/me", f"{API}/auth/me", {}),
    ]
    for method, template, url, headers in probes:
        r = client.request(method, url, json={} if method == "post" else None, headers=headers)
        assert r.status_code >= 400
        assert str(r.status_code) in schema["paths"][API + template][method]["responses"]
        assert r.headers["content-type"] == "application/problem+json"


# CSRF token bound to the session (defect 11) ----------------------------------------------

_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def test_csrf_token_is_bound_to_the_session(client: Any, registry: Any, seeded: Any) -> None:
    settings, database = registry
    token = _CSRF.search(client.get("/login").text)
    assert token is not None
    form = {"username": "viewer_a", "password": SEED_PASSWORD, "csrf_token": token[1]}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    page = _CSRF.search(client.get("/dashboard").text)
    assert page is not None
    with database.write_sessions() as s:
        other = auth_service.login(
            s,
            settings,
            password_hasher(settings),
            username="viewer_b",
            password=SEED_PASSWORD,
            kind="session",
        )
    # the same CSRF cookie and form token, but another session: refused
    client.cookies.set(settings.session_cookie_name, other.token)
    r = client.post("/logout", data={"csrf_token": page[1]}, follow_redirects=False)
    assert r.status_code == 403
    fresh = _CSRF.search(client.get("/dashboard").text)
    assert fresh is not None and fresh[1] != page[1]
    r = client.post("/logout", data={"csrf_token": fresh[1]}, follow_redirects=False)
    assert r.status_code == 303


def test_patient_pages_are_audited_reads(client: Any, auth: H, registry: Any) -> None:
    _, database = registry
    p = _patient(client, auth)
    token = _CSRF.search(client.get("/login").text)
    assert token is not None
    form = {"username": "viewer_a", "password": SEED_PASSWORD, "csrf_token": token[1]}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    assert client.get(f"/patients/{p['registry_id']}").status_code == 200
    assert client.get(f"/patients/{p['registry_id']}/history").status_code == 200
    reads = _actions(database, "read")
    assert [(a.actor_username, a.entity_id, a.channel) for a in reads] == [
        ("viewer_a", p["registry_id"], "ui"),
        ("viewer_a", p["registry_id"], "ui"),
    ]
    # another site's patient answers 404 and is no read
    client.cookies.clear()
    token = _CSRF.search(client.get("/login").text)
    assert token is not None
    other = {"username": "viewer_b", "password": SEED_PASSWORD, "csrf_token": token[1]}
    assert client.post("/login", data=other, follow_redirects=False).status_code == 303
    assert client.get(f"/patients/{p['registry_id']}").status_code == 404
    assert len(_actions(database, "read")) == 2


# defect 13: diagnosed_to=0 read as 1970-01-01 ---------------------------------------------


@pytest.mark.parametrize("value", ["0", "1718409600", "2024-6-1", "20240601"])
def test_iso_date_parameters_refuse_numbers(value: str) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    probe = FastAPI()
    install_error_handlers(probe)

    @probe.get("/probe")
    def _probe(diagnosed_to: IsoDate | None = None) -> dict[str, str | None]:
        return {"date": diagnosed_to.isoformat() if diagnosed_to else None}

    with TestClient(probe) as c:
        bad = c.get("/probe", params={"diagnosed_to": value})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("diagnosed_to")
        assert c.get("/probe", params={"diagnosed_to": "2024-06-01"}).json() == {
            "date": "2024-06-01"
        }


def test_request_flood_from_one_address_is_limited(registry: Any, seeded: Any) -> None:
    from fastapi.testclient import TestClient

    from infantall.web import create_app

    settings, database = registry
    small = settings.model_copy(update={"request_rate_per_ip": "5/minute"})
    with TestClient(create_app(small, database=database)) as c:
        answers = [c.get(f"{API}/import/dictionary") for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert answers[5].status_code == 429 and answers[5].json()["code"] == "rate_limited"
    assert int(answers[5].headers["retry-after"]) > 0
