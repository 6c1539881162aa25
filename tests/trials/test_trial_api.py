"""The trials API (SQLite and PostgreSQL): enrolment through HTTP, and a concealment matrix
enumerating every GET endpoint of the API for every role."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():  # as tests/web/conftest.py: one import-time deprecation
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from infantall.registry.testing import SEED_PASSWORD
from infantall.services import trials

SEED = 918273645546372819
ROLES = ("admin", "coord", "editor_a", "viewer_a", "editor_b", "viewer_b", "dmc")


@pytest.fixture
def client(registry: Any, seeded: dict[str, Any]) -> Iterator[Any]:
    from infantall.web import create_app

    settings, database = registry
    with TestClient(create_app(settings, database=database)) as c:
        yield c


@pytest.fixture
def auth(client: Any) -> dict[str, dict[str, str]]:
    out = {}
    for user in ROLES:
        r = client.post("/api/v1/auth/login", json={"username": user, "password": SEED_PASSWORD})
        assert r.status_code == 200, r.text
        out[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return out


def test_enrolment_through_the_api_and_concealment_matrix(
    client: Any,
    registry: Any,
    seeded: dict[str, Any],
    auth: dict[str, dict[str, str]],
    binary_spec: dict[str, Any],
    make_patients: Any,
) -> None:
    _, database = registry
    with database.write_sessions() as s:  # a known seed, to search every answer for it
        trials.create_trial(
            s, seeded["coord"], code="T1", spec=binary_spec, method="permuted-blocks", seed=SEED
        )
    r = client.post(
        "/api/v1/trials/T1/members",
        json={"username": "dmc", "role": "dmc_statistician"},
        headers=auth["coord"],
    )
    assert r.status_code == 201, r.text
    a_ids = make_patients(database, seeded["editor_a"], 3, "A")
    b_ids = make_patients(database, seeded["editor_b"], 3, "B")
    arms = {}
    for user, ids in (("editor_a", a_ids), ("editor_b", b_ids)):
        for pid in ids:
            r = client.post(
                "/api/v1/trials/T1/enrolments", json={"patient": pid}, headers=auth[user]
            )
            assert r.status_code == 201, r.text
            arms[pid] = r.json()["arm"]
    # another site's patient, a viewer, a coordinator: refused
    r = client.post(
        "/api/v1/trials/T1/enrolments", json={"patient": b_ids[0]}, headers=auth["editor_a"]
    )
    assert r.status_code in (404, 409)
    assert (
        client.post(
            "/api/v1/trials/T1/enrolments", json={"patient": a_ids[0]}, headers=auth["viewer_a"]
        ).status_code
        == 403
    )
    # a design change after enrolment without a signature: refused with its code
    r = client.post(
        "/api/v1/trials/T1/spec-versions", json={"spec": binary_spec}, headers=auth["coord"]
    )
    assert r.status_code == 422
    assert r.json()["code"] == "spec_locked"
    signed = {"spec": binary_spec, "reason": "DMC advice", "signature": "coord"}
    r = client.post(
        "/api/v1/trials/T1/spec-versions",
        json=signed | {"password": "wrong"},
        headers=auth["coord"],
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/trials/T1/spec-versions",
        json=signed | {"password": SEED_PASSWORD},
        headers=auth["coord"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["spec_version"] == 2
    # the matrix: every GET route of the API (path parameters filled), every role
    gets = [
        re.sub(r"\{[^}]+\}", lambda m: "T1" if m.group(0) == "{code}" else a_ids[0], path)
        for path, item in client.app.openapi()["paths"].items()
        if path.startswith("/api/v1") and "get" in item
    ]
    assert "/api/v1/trials/T1" in gets
    assert len(gets) > 5  # the whole API, not only the trials
    for user in ROLES:
        for path in gets:
            body = client.get(path, headers=auth[user]).text
            assert str(SEED) not in body, (user, path)
        view = client.get("/api/v1/trials/T1", headers=auth[user])
        if user == "admin":
            assert view.status_code == 403
            continue
        data = view.json()
        assert ("by_arm" in data) is (user == "dmc"), user
        mine = {m["patient"]: m["arm"] for m in data.get("my_site_allocations", [])}
        expected = {
            p: arms[p]
            for p in (a_ids if user.endswith("_a") else b_ids if user.endswith("_b") else [])
        }
        assert mine == expected, user
    # the DMC report: closed for the DMC statistician only, open (pooled) for the others
    closed = client.get("/api/v1/trials/T1/report?closed=true", headers=auth["dmc"])
    assert closed.status_code == 200 and 'id="allocation"' in closed.text
    assert (
        client.get("/api/v1/trials/T1/report?closed=true", headers=auth["coord"]).status_code == 403
    )
    opened = client.get("/api/v1/trials/T1/report", headers=auth["coord"])
    assert opened.status_code == 200 and 'id="allocation"' not in opened.text
