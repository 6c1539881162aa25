"""The login page with a second factor (issue 14): after enrolment the page asks for the
one-time code, refuses a wrong or replayed one and logs in with a valid one."""

from __future__ import annotations

import datetime as dt

import pyotp
from fastapi.testclient import TestClient

from infantall.registry.testing import SEED_PASSWORD
from infantall.registry.totp import STEP_SECONDS
from pages.conftest import csrf_of

API = "/api/v1"


def _code(secret: str, steps_ahead: int) -> str:
    return pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC).timestamp() + steps_ahead * STEP_SECONDS)


def _post_login(c: TestClient, code: str | None) -> tuple[int, str]:
    data = {"username": "editor_a", "password": SEED_PASSWORD}
    if code is not None:
        data["totp_code"] = code
    r = c.post("/login", data={**data, "csrf_token": csrf_of(c.get("/login").text)})
    return r.status_code, r.text


def test_login_page_asks_for_and_checks_the_one_time_code(client: TestClient) -> None:
    assert 'name="totp_code"' in client.get("/login").text
    body = {"username": "editor_a", "password": SEED_PASSWORD}
    secret = client.post(f"{API}/auth/totp/enrol", json=body).json()["secret"]
    confirm = client.post(f"{API}/auth/totp/confirm", json={**body, "code": _code(secret, 0)})
    assert confirm.status_code == 200, confirm.text
    status, page = _post_login(client, None)
    assert status == 401 and "6-digit code" in page
    code = _code(secret, 1)
    assert _post_login(client, str((int(code) + 1) % 1_000_000).zfill(6))[0] == 401
    status, _ = _post_login(client, code)
    assert status == 303
    client.cookies.clear()
    assert _post_login(client, code)[0] == 401  # the same code again: replay refused
