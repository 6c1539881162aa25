"""The authorization matrix (OWASP API1/API5; anchors-reliability A1, A4): every endpoint of
the OpenAPI schema x every role x own/other site. Expected statuses come from one policy
table; a cross-site request must answer exactly like a missing id (404, same body), be
logged as ``access_denied`` and change nothing. 0 cross-site reads or writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from infantall.domain import LastContact
from infantall.registry import events as event_service
from infantall.registry import patients as patient_service
from infantall.registry.audit import current_state
from infantall.registry.models import AuditEntry
from infantall.registry.schemas import PatientCreate
from infantall.registry.testing import SEED_PASSWORD

API = "/api/v1"
ROLES = ("admin", "coord", "editor_a", "viewer_a", "editor_b", "viewer_b", "inv_a", "inv_b")
MISSING = "P-0000000000000000"
MISSING_EVENT = "E-0000000000000000"

#: Operations on one patient: kind (read/record/write/...), success status, request body.
#: ``record``: a patient-level read with identifying values, refused to a coordinator
#: (403 ``pooled_only``: coordinators read the pooled view only).
PATIENT_OPS: dict[tuple[str, str], tuple[str, int, Any]] = {
    ("get", "/patients/{patient_id}"): ("record", 200, None),
    ("patch", "/patients/{patient_id}"): ("write", 200, {"version": 1, "reason": "m", "wbc": 10}),
    ("post", "/patients/{patient_id}/void"): ("write", 200, {"version": 1, "reason": "m"}),
    ("get", "/patients/{patient_id}/history"): ("record", 200, None),
    ("get", "/patients/{patient_id}/events"): ("record", 200, None),
    ("post", "/patients/{patient_id}/events"): (
        "write",
        201,
        {"kind": "last_contact", "date": "2025-01-01"},
    ),
    ("patch", "/patients/{patient_id}/events/{event_id}"): (
        "write",
        200,
        {"version": 1, "reason": "m", "event": {"kind": "last_contact", "date": "2025-02-01"}},
    ),
    ("post", "/patients/{patient_id}/events/{event_id}/void"): (
        "write",
        200,
        {"version": 1, "reason": "m"},
    ),
    ("get", "/patients/{patient_id}/risk-groups"): ("record", 200, None),
    ("post", "/patients/{patient_id}/risk-groups"): ("write", 201, {"protocols": ["interfant-06"]}),
    ("get", "/patients/{patient_id}/signatures"): ("read", 200, None),
    ("post", "/patients/{patient_id}/signatures"): (
        "sign",
        201,
        {"password": SEED_PASSWORD, "meaning": "reviewed and approved"},
    ),
    # The target is not signed: a caller allowed to unlock reaches the lock check (409).
    ("post", "/patients/{patient_id}/unlock"): ("unlock", 409, {"reason": "m"}),
}
_READERS = {
    "coord": 200,
    "editor_a": 200,
    "viewer_a": 200,
    "editor_b": 200,
    "viewer_b": 200,
    "inv_a": 200,
    "inv_b": 200,
    "admin": 403,
}
#: Site-scoped readers; a coordinator gets 403 pooled_only (no patient-level records).
_RECORD_READERS = {**_READERS, "coord": 403}
_EDITORS = {r: (201 if r.startswith("editor") else 403) for r in ROLES}
_ADMIN_ONLY = {r: (200 if r == "admin" else 403) for r in ROLES}
#: Operations without a patient id: role -> expected status.
OTHER_OPS: dict[tuple[str, str], tuple[dict[str, int], Any]] = {
    ("get", "/auth/me"): ({r: 200 for r in ROLES}, None),
    ("get", "/sites"): ({r: 200 for r in ROLES}, None),
    ("post", "/sites"): (
        {r: (201 if r == "admin" else 403) for r in ROLES},
        {"code": "S-{role}", "name": "n"},
    ),
    ("get", "/users"): (_ADMIN_ONLY, None),
    ("post", "/users"): (
        {r: (201 if r == "admin" else 403) for r in ROLES},
        {"username": "u-{role}", "password": "long-password", "role": "coordinator"},
    ),
    ("patch", "/users/{username}"): (_ADMIN_ONLY, {"version": 1, "active": True}),
    ("get", "/users/privilege-grants"): (_ADMIN_ONLY, None),
    ("post", "/users/{username}/unlock"): (_ADMIN_ONLY, None),
    # viewer_b has no second factor: the admin reaches the check (409 totp_not_enrolled).
    ("post", "/users/{username}/totp/disable"): (
        {r: (409 if r == "admin" else 403) for r in ROLES},
        {"reason": "lost phone"},
    ),
    # an admin issues a one-time TOTP enrolment code for another account
    ("post", "/users/{username}/totp/enrolment-code"): (
        {r: (201 if r == "admin" else 403) for r in ROLES},
        None,
    ),
    ("get", "/patients"): (_RECORD_READERS, None),
    ("post", "/patients"): (
        _EDITORS,
        {"local_code": "M-{role}", "birth_date": "2024-01-01", "diagnosis_date": "2024-03-01"},
    ),
    ("get", "/analysis/dataset"): (_READERS, None),
    ("get", "/quality"): (_READERS, None),
    ("get", "/import/dictionary"): ({r: 200 for r in ROLES}, None),
    ("get", "/import/template"): ({r: 200 for r in ROLES}, None),
    ("post", "/import"): (
        _EDITORS,
        "record_id,birth_date,diagnosis_date\nI-{role},2024-01-01,2024-02-01\n",
    ),
    ("get", "/export"): (_RECORD_READERS, None),
    ("get", "/export/pooled"): ({r: (200 if r == "coord" else 403) for r in ROLES}, None),
    ("get", "/export/pooled/manifest"): (
        {r: (200 if r == "coord" else 403) for r in ROLES},
        None,
    ),
    ("get", "/audit"): (_ADMIN_ONLY, None),
}
#: Operations left out of the matrix, and why.
NOT_IN_MATRIX = {
    ("post", "/trials"): "per-trial roles (DMC membership): tests/trials/test_trial_api.py",
    ("get", "/trials/{code}"): "per-trial roles (DMC membership): tests/trials/test_trial_api.py",
    (
        "get",
        "/trials/{code}/report",
    ): "per-trial roles (DMC membership): tests/trials/test_trial_api.py",
    (
        "post",
        "/trials/{code}/spec-versions",
    ): "per-trial roles (DMC membership): tests/trials/test_trial_api.py",
    (
        "post",
        "/trials/{code}/enrolments",
    ): "per-trial roles (DMC membership): tests/trials/test_trial_api.py",
    (
        "post",
        "/trials/{code}/interims",
    ): "per-trial roles (DMC membership): tests/trials/test_trial_api.py",
    (
        "post",
        "/trials/{code}/members",
    ): "per-trial roles (DMC membership): tests/trials/test_trial_api.py",
    ("post", "/federation/query"): "node key + trusted coordinator, not roles (tests/federation)",
    ("get", "/imports/{job_id}"): "per-job visibility (own site, coordinator): "
    "tests/web/test_import_jobs_api.py",
    ("post", "/auth/login"): "public: exchanges a password for a token",
    ("post", "/auth/totp/enrol"): "public: username and password (tests/web/test_totp.py)",
    ("post", "/auth/totp/confirm"): "public: username, password, code (tests/web/test_totp.py)",
    ("post", "/auth/session"): "public: exchanges a password for a cookie",
    ("post", "/auth/logout"): "acts on the caller's own token only (tested in test_api_auth)",
    ("post", "/auth/password"): "acts on the caller's own account only (test_password_change)",
    ("post", "/auth/tokens/{token_id}/revoke"): "token ownership, tested in test_api_auth",
}


def expected_patient_status(role: str, kind: str, success: int) -> int:
    """The policy: own site = SITE-A (targets live there)."""
    allowed = {
        "read": role != "admin",
        "record": role not in ("admin", "coord"),
        "write": role.startswith("editor"),
        "sign": role.startswith("inv"),
        "unlock": role.startswith("inv") or role == "coord",
    }[kind]
    if not allowed:
        return 403
    return success if role == "coord" or role.endswith("_a") else 404


def _target(database: Any, principals: dict[str, Any], code: str) -> tuple[str, str]:
    with database.write_sessions() as s:
        p = patient_service.create_patient(
            s,
            principals["editor_a"],
            PatientCreate(
                local_code=code, birth_date=dt.date(2024, 1, 1), diagnosis_date=dt.date(2024, 3, 1)
            ),
        )
        e = event_service.add_event(
            s, principals["editor_a"], p.registry_id, LastContact(date=dt.date(2024, 12, 1))
        )
    return p.registry_id, e.registry_id


def _state(database: Any) -> dict[Any, Any]:
    with database.read_sessions() as s:
        return current_state(s)


def _denials(database: Any) -> int:
    with database.read_sessions() as s:
        return s.scalar(select(func.count()).where(AuditEntry.action == "access_denied")) or 0


def _call(client: Any, method: str, url: str, headers: dict[str, str], body: Any) -> Any:
    if isinstance(body, str):
        return client.request(
            method, url, content=body.encode(), headers={**headers, "Content-Type": "text/csv"}
        )
    return client.request(method, url, json=body, headers=headers)


def test_every_operation_is_in_the_matrix(app: Any) -> None:
    ops = {
        (m, p.removeprefix(API))
        for p, item in app.openapi()["paths"].items()
        if p.startswith(API)
        for m in item
    }
    assert ops == set(PATIENT_OPS) | set(OTHER_OPS) | set(NOT_IN_MATRIX)


def test_patient_operations_by_role_and_site(
    client: Any, auth: dict[str, dict[str, str]], registry: Any, seeded: dict[str, Any]
) -> None:
    _, database = registry
    cases = [(role, op) for role in ROLES for op in PATIENT_OPS.items()]
    for n, (role, ((method, template), (kind, success, body))) in enumerate(cases):
        patient_id, event_id = _target(database, seeded, f"T-{n}")
        url = API + template.format(patient_id=patient_id, event_id=event_id)
        before, denials = _state(database), _denials(database)
        r = _call(client, method, url, auth[role], body)
        want = expected_patient_status(role, kind, success)
        assert r.status_code == want, (role, method, template, r.text)
        if want >= 400:
            assert _state(database) == before, (role, method, template)
        if want == 404:
            assert _denials(database) == denials + 1
            missing = API + template.format(patient_id=MISSING, event_id=MISSING_EVENT)
            assert _call(client, method, missing, auth[role], body).content == r.content


def _fill(body: Any, role: str) -> Any:
    if isinstance(body, dict):
        return {k: (v.format(role=role) if isinstance(v, str) else v) for k, v in body.items()}
    return body.format(role=role) if isinstance(body, str) else body


def test_other_operations_by_role_and_no_cross_site_rows(
    client: Any, auth: dict[str, dict[str, str]], registry: Any, seeded: dict[str, Any]
) -> None:
    _, database = registry
    _target(database, seeded, "OWN-A")
    with database.write_sessions() as s:
        patient_service.create_patient(
            s,
            seeded["editor_b"],
            PatientCreate(
                local_code="OWN-B",
                birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 2, 1),
            ),
        )
    for role in ROLES:
        for (method, template), (policy, body) in OTHER_OPS.items():
            url = API + template.format(username="viewer_b")
            before = _state(database)
            r = _call(client, method, url, auth[role], _fill(body, role))
            assert r.status_code == policy[role], (role, method, template, r.text)
            if r.status_code >= 400:
                assert _state(database) == before
        _scope_checks(client, auth, role)


def _scope_checks(client: Any, auth: dict[str, dict[str, str]], role: str) -> None:
    scope = {
        "editor_a": {"SITE-A"},
        "viewer_a": {"SITE-A"},
        "editor_b": {"SITE-B"},
        "viewer_b": {"SITE-B"},
        "inv_a": {"SITE-A"},
        "inv_b": {"SITE-B"},
    }.get(role)
    if scope is None:
        return
    listed = client.get(f"{API}/patients", params={"limit": 500}, headers=auth[role]).json()[
        "items"
    ]
    assert {p["site_code"] for p in listed} == scope
    other = "SITE-B" if role.endswith("_a") else "SITE-A"
    probe = client.get(f"{API}/patients", params={"site": other}, headers=auth[role]).json()
    assert probe["total"] == 0
    exported = client.get(f"{API}/export", headers=auth[role]).text
    assert ("SITE-B" in exported) == ("SITE-B" in scope)
    assert ("SITE-A" in exported) == ("SITE-A" in scope)
