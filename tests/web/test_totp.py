"""TOTP second factor (issue 14, defect 10; RFC 6238 with ``pyotp``), on SQLite and
PostgreSQL: enrolment shows the secret once and stores it encrypted, login then needs a
valid code that cannot be replayed, an admin disables it with an audited reason, and in
production an admin or coordinator without a second factor cannot log in."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from infantall.cli import app as cli_app
from infantall.registry.models import AuditEntry, TotpEnrolmentCode, User
from infantall.registry.testing import SEED_PASSWORD, DatabaseTemplates
from infantall.registry.totp import STEP_SECONDS, issue_enrolment_code

API = "/api/v1"


def _login(client: Any, username: str, code: str | None = None) -> Any:
    body: dict[str, Any] = {"username": username, "password": SEED_PASSWORD}
    if code is not None:
        body["totp_code"] = code
    return client.post(f"{API}/auth/login", json=body)


def _code(secret: str, steps_ahead: int = 0) -> str:
    now = dt.datetime.now(dt.UTC).timestamp()
    return pyotp.TOTP(secret).at(now + steps_ahead * STEP_SECONDS)


def _enrol(client: Any, username: str, enrolment_code: str | None = None) -> str:
    body = {"username": username, "password": SEED_PASSWORD}
    if enrolment_code is not None:
        body["enrolment_code"] = enrolment_code
    r = client.post(f"{API}/auth/totp/enrol", json=body)
    assert r.status_code == 200, r.text
    secret: str = r.json()["secret"]
    r = client.post(
        f"{API}/auth/totp/confirm",
        json={"username": username, "password": SEED_PASSWORD, "code": _code(secret)},
    )
    assert r.status_code == 200 and r.json() == {"username": username, "totp_enabled": True}
    return secret


def test_enrolment_shows_the_secret_once_and_stores_it_encrypted(
    client: Any, registry: Any, auth: Any
) -> None:
    _, database = registry
    r = client.post(f"{API}/auth/totp/enrol", json={"username": "coord", "password": SEED_PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    uri = urlparse(body["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [body["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["infantall"]
    assert len(body["secret"]) == 32  # 160 bits of base32
    with database.read_sessions() as s:
        stored = s.scalar(select(User.totp_secret).where(User.username == "coord"))
    assert stored is not None and body["secret"] not in stored
    users = client.get(f"{API}/users", headers=auth["admin"]).text
    assert body["secret"] not in users and stored not in users
    # a wrong password starts nothing; pending: login still works without a code
    bad = client.post(f"{API}/auth/totp/enrol", json={"username": "coord", "password": "x"})
    assert bad.status_code == 401
    assert _login(client, "coord").status_code == 200
    # a wrong first code does not enable it
    wrong = str((int(_code(body["secret"])) + 1) % 1_000_000).zfill(6)
    r = client.post(
        f"{API}/auth/totp/confirm",
        json={"username": "coord", "password": SEED_PASSWORD, "code": wrong},
    )
    assert r.status_code == 401
    r = client.post(
        f"{API}/auth/totp/confirm",
        json={"username": "coord", "password": SEED_PASSWORD, "code": _code(body["secret"])},
    )
    assert r.status_code == 200
    again = client.post(
        f"{API}/auth/totp/enrol", json={"username": "coord", "password": SEED_PASSWORD}
    )
    assert again.status_code == 409 and again.json()["code"] == "totp_already_enabled"


def test_login_with_valid_invalid_and_replayed_codes(client: Any, registry: Any) -> None:
    _, database = registry
    secret = _enrol(client, "editor_a")
    missing = _login(client, "editor_a")
    assert missing.status_code == 401 and missing.json()["code"] == "totp_required"
    code = _code(secret, 1)  # the next step: the confirmation used the current one
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    bad = _login(client, "editor_a", wrong)
    assert bad.status_code == 401 and bad.json()["code"] == "not_authenticated"
    ok = _login(client, "editor_a", code)
    assert ok.status_code == 200, ok.text
    assert (
        client.get(
            f"{API}/auth/me", headers={"Authorization": f"Bearer {ok.json()['access_token']}"}
        ).json()["username"]
        == "editor_a"
    )
    replay = _login(client, "editor_a", code)
    assert replay.status_code == 401 and replay.json()["code"] == "not_authenticated"
    # the code used at confirmation (an earlier step) is refused too
    assert _login(client, "editor_a", _code(secret)).status_code == 401
    with database.read_sessions() as s:
        actions = list(
            s.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.action.in_(("totp_failed", "totp_enabled"))
                )
            )
        )
    assert actions.count("totp_enabled") == 1 and actions.count("totp_failed") == 3


def test_admin_disables_a_second_factor_with_an_audited_reason(
    client: Any, registry: Any, auth: Any
) -> None:
    _, database = registry
    _enrol(client, "viewer_a")
    url = f"{API}/users/viewer_a/totp/disable"
    assert client.post(url, json={"reason": "lost phone"}, headers=auth["coord"]).status_code == 403
    assert client.post(url, json={"reason": ""}, headers=auth["admin"]).status_code == 422
    r = client.post(url, json={"reason": "lost phone"}, headers=auth["admin"])
    assert r.status_code == 200 and r.json() == {"username": "viewer_a", "totp_enabled": False}
    with database.read_sessions() as s:
        row = s.scalar(select(AuditEntry).where(AuditEntry.action == "totp_disabled"))
        assert row is not None and row.reason == "lost phone" and row.actor_username == "admin"
    assert _login(client, "viewer_a").status_code == 200


@pytest.fixture
def production(backend: str, tmp_path: Path, templates: DatabaseTemplates) -> Iterator[Any]:
    """The app in the production environment on a seeded copy."""
    from fastapi.testclient import TestClient

    from infantall.web import create_app

    overrides = {
        "environment": "production",
        "secret_key": "a-production-secret-of-some-length",
        "pseudonym_key": "another-production-secret-for-pseudonyms",
    }
    with templates.database(backend, tmp_path, seeded=True, **overrides) as pair:
        settings, database = pair
        with TestClient(create_app(settings, database=database)) as client:
            client.app_state = (settings, database)  # for the tests that read the database
            yield client


def _issued(client: Any, username: str) -> str:
    """An enrolment code for ``username`` from the server's command line (the bootstrap)."""
    _, database = client.app_state
    with database.write_sessions() as s:
        return issue_enrolment_code(s, None, username).code


def test_production_refuses_admin_and_coordinator_without_a_second_factor(
    production: Any,
) -> None:
    for username in ("admin", "coord"):
        r = _login(production, username)
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "totp_enrolment_required"
    assert _login(production, "editor_a").status_code == 200  # optional for site roles
    secret = _enrol(production, "coord", _issued(production, "coord"))
    assert _login(production, "coord", _code(secret, 1)).status_code == 200


def _enrol_status(client: Any, username: str, code: str | None = None) -> Any:
    body = {"username": username, "password": SEED_PASSWORD}
    if code is not None:
        body["enrolment_code"] = code
    return client.post(f"{API}/auth/totp/enrol", json=body)


def _actions(client: Any, action: str) -> list[AuditEntry]:
    _, database = client.app_state
    with database.read_sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_production_enrolment_needs_a_one_time_code_from_another_admin(
    production: Any,
) -> None:
    """A stolen password alone enrols nothing: without, with a wrong, an expired or a used
    enrolment code the coordinator's enrolment is refused; with a fresh code issued by
    another admin it is accepted; every step is audited."""
    # nobody can log in as admin yet (no factor): the first admin's code comes from the CLI
    admin_secret = _enrol(production, "admin", _issued(production, "admin"))
    token = _login(production, "admin", _code(admin_secret, 1)).json()["access_token"]
    admin = {"Authorization": f"Bearer {token}"}
    missing = _enrol_status(production, "coord")
    assert missing.status_code == 403 and missing.json()["code"] == "totp_enrolment_code_required"
    wrong = _enrol_status(production, "coord", "0" * 24)
    assert wrong.status_code == 403 and wrong.json()["code"] == "totp_enrolment_code_invalid"
    own = production.post(f"{API}/users/admin/totp/enrolment-code", headers=admin)
    assert own.status_code == 403 and own.json()["code"] == "totp_code_self_issued"
    issued = production.post(f"{API}/users/coord/totp/enrolment-code", headers=admin)
    assert issued.status_code == 201, issued.text
    code = issued.json()["enrolment_code"]
    expires = dt.datetime.fromisoformat(issued.json()["expires_at"])
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)
    _, database = production.app_state
    with database.read_sessions() as s:  # stored hashed only
        stored = list(s.scalars(select(TotpEnrolmentCode.code_hash)))
    assert code not in stored and hashlib.sha256(code.encode()).hexdigest() in stored
    # a site editor cannot issue codes
    editor = _login(production, "editor_a").json()["access_token"]
    denied = production.post(f"{API}/users/coord/totp/enrolment-code",
                             headers={"Authorization": f"Bearer {editor}"})  # fmt: skip
    assert denied.status_code == 403
    # the right code enrols once; the same code again is refused
    ok = _enrol_status(production, "coord", code)
    assert ok.status_code == 200, ok.text
    used = _enrol_status(production, "coord", code)
    assert used.status_code == 403 and used.json()["code"] == "totp_enrolment_code_invalid"
    # an expired code is refused
    late = production.post(f"{API}/users/coord/totp/enrolment-code", headers=admin).json()
    with database.write_sessions() as s:
        s.execute(update(TotpEnrolmentCode).values(expires_at=dt.datetime.now(dt.UTC)))
        s.commit()
    expired = _enrol_status(production, "coord", late["enrolment_code"])
    assert expired.status_code == 403 and expired.json()["code"] == "totp_enrolment_code_invalid"
    issued_rows = _actions(production, "totp_code_issued")
    assert [r.actor_username for r in issued_rows] == ["(command line on the server)",
                                                       "admin", "admin"]  # fmt: skip
    assert len(_actions(production, "totp_code_used")) == 2  # admin (CLI code), coord
    refused = [r.new["why"] for r in _actions(production, "totp_code_refused")]
    assert refused == ["wrong", "used", "expired"]


def test_a_new_code_replaces_the_old_one_and_site_roles_need_none(production: Any) -> None:
    first, second = _issued(production, "coord"), _issued(production, "coord")
    stale = _enrol_status(production, "coord", first)
    assert stale.status_code == 403 and stale.json()["code"] == "totp_enrolment_code_invalid"
    assert _enrol_status(production, "coord", second).status_code == 200
    assert _enrol_status(production, "editor_a").status_code == 200  # optional factor: no code


def test_outside_production_no_enrolment_code_is_needed(client: Any) -> None:
    assert _enrol_status(client, "admin").status_code == 200


def test_the_cli_issues_a_code_on_the_server(registry: Any) -> None:
    settings, database = registry
    done = CliRunner().invoke(cli_app, ["registry", "totp-code", "coord", "--database-url",
                                        settings.database_url, "--format", "json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    record = json.loads(done.output)[0]
    assert record["username"] == "coord" and len(record["enrolment_code"]) == 24
    with database.read_sessions() as s:
        row = s.scalar(select(TotpEnrolmentCode))
    assert row is not None and row.issued_by is None
    assert row.code_hash == hashlib.sha256(record["enrolment_code"].encode()).hexdigest()
    missing = CliRunner().invoke(cli_app, ["registry", "totp-code", "nobody",
                                           "--database-url", settings.database_url])  # fmt: skip
    assert missing.exit_code != 0 and "not_found" in missing.output
