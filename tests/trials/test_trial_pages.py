"""Trial pages (SQLite and PostgreSQL): list, overview, enrolment, DMC report, and the
concealment matrix of every trial page for every role.

The matrix enumerates the trial pages' routes (``infantall.web.pages.trials.router``, path
parameters filled) and checks, for each role: the seed never appears; the arm-level table
and the closed report only for the trial's DMC statistician; a site's allocations only to
that site's roles, with exactly that site's enrolled patients; and the arm a patient would
get next (computed here from the seed, server-side) never appears on the enrolment page
before it is confirmed.
"""

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
from infantall.web.pages import trials as trial_pages

SEED = 918273645546372819
ROLES = ("admin", "coord", "editor_a", "viewer_a", "editor_b", "viewer_b", "dmc")
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
MINE = re.compile(r'<table class="compact" id="my-allocations">(.*?)</table>', re.S)


@pytest.fixture
def app(registry: Any, seeded: dict[str, Any]) -> Any:
    from infantall.web import create_app

    settings, database = registry
    return create_app(settings, database=database)


@pytest.fixture
def browsers(app: Any) -> Iterator[dict[str, TestClient]]:
    """One logged-in page client (session cookie) per role."""
    out: dict[str, TestClient] = {}
    for user in ROLES:
        c = TestClient(app, follow_redirects=False)
        c.__enter__()
        token = _csrf(c.get("/login").text)
        r = c.post(
            "/login", data={"username": user, "password": SEED_PASSWORD, "csrf_token": token}
        )
        assert r.status_code == 303, r.text
        out[user] = c
    yield out
    for c in out.values():
        c.__exit__(None, None, None)


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF token"
    return found.group(1)


def _open(database: Any, seeded: dict[str, Any], spec: dict[str, Any]) -> None:
    with database.write_sessions() as s:
        trials.create_trial(
            s,
            seeded["coord"],
            code="T1",
            spec=spec,
            method="minimisation",
            settings={"factors": ["age_under_6_months", "site"]},
            seed=SEED,
        )
        trials.grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")


def _enrol_through_pages(c: TestClient, pid: str) -> str:
    page = c.get(f"/trials/T1/enrol?patient={pid}")
    assert page.status_code == 200, page.text
    assert 'id="eligibility"' in page.text and "eligible" in page.text
    r = c.post("/trials/T1/enrol", data={"patient": pid, "csrf_token": _csrf(page.text)})
    assert r.status_code == 201, r.text
    found = re.search(r"Allocated arm: <strong>([^<]+)</strong>", r.text)
    assert found is not None
    return found.group(1)


def test_enrolment_pages_and_concealment_matrix(
    app: Any,
    registry: Any,
    seeded: dict[str, Any],
    browsers: dict[str, TestClient],
    binary_spec: dict[str, Any],
    make_patients: Any,
) -> None:
    _, database = registry
    _open(database, seeded, binary_spec)
    a_ids = make_patients(database, seeded["editor_a"], 3, "A")
    b_ids = make_patients(database, seeded["editor_b"], 2, "B")
    arms = {pid: _enrol_through_pages(browsers["editor_a"], pid) for pid in a_ids[:2]}
    arms |= {pid: _enrol_through_pages(browsers["editor_b"], pid) for pid in b_ids}
    # the same patient twice: refused with the registry's message, nothing allocated
    page = browsers["editor_a"].get("/trials/T1/enrol")
    again = browsers["editor_a"].post(
        "/trials/T1/enrol", data={"patient": a_ids[0], "csrf_token": _csrf(page.text)}
    )
    assert again.status_code == 409 and "already enrolled" in again.text
    # without the CSRF token: refused
    assert (
        browsers["editor_a"].post("/trials/T1/enrol", data={"patient": a_ids[2]}).status_code == 403
    )
    # another site's patient is not found; a viewer and a coordinator cannot enrol
    assert browsers["editor_a"].get(f"/trials/T1/enrol?patient={b_ids[0]}").status_code == 404
    assert browsers["viewer_a"].get("/trials/T1/enrol").status_code == 403
    assert browsers["coord"].get("/trials/T1/enrol").status_code == 403
    # the next allocation of a_ids[2], computed server-side from the seed
    with database.read_sessions() as s:
        nxt = _next_arm(s, a_ids[2])
    enrol_page = browsers["editor_a"].get(f"/trials/T1/enrol?patient={a_ids[2]}").text
    assert "Allocated arm" not in enrol_page and f">{nxt}<" not in enrol_page
    # the matrix: every trial page, every role
    paths = sorted(
        route.path.replace("{code}", "T1")
        for route in trial_pages.router.routes
        if "GET" in getattr(route, "methods", ())
    )
    assert paths == ["/trials", "/trials/T1", "/trials/T1/enrol", "/trials/T1/report"]
    for user in ROLES:
        for path in paths:
            r = browsers[user].get(path)
            assert str(SEED) not in r.text, (user, path)
            assert ('id="by-arm"' in r.text) is (user == "dmc" and path == "/trials/T1"), (
                user,
                path,
            )
            assert ('id="allocation"' in r.text) is (user == "dmc" and path.endswith("/report"))
        overview = browsers[user].get("/trials/T1")
        if user == "admin":
            assert overview.status_code == 403
            continue
        site = user[-1] if user.endswith(("_a", "_b")) else None
        mine = MINE.search(overview.text)
        assert (mine is not None) is (site is not None), user
        if mine is None:
            continue
        expected = a_ids[:2] if site == "a" else b_ids
        shown = re.findall(r"P-[0-9a-f]{16}", mine.group(1))
        assert sorted(set(shown)) == sorted(expected), user
        for pid in expected:
            assert f"<td>{arms[pid]}</td>" in mine.group(1)
    report = browsers["coord"].get("/trials/T1/report")
    assert report.status_code == 200 and "OPEN report" in report.text
    closed = browsers["dmc"].get("/trials/T1/report")
    assert closed.status_code == 200 and "CLOSED report" in closed.text


def _next_arm(session: Any, pid: str) -> str:
    """What enrolling ``pid`` now would allocate (the server's own function and seed)."""
    from sqlalchemy import select

    from infantall.registry.models import Patient, Site
    from infantall.registry.trials import Trial, TrialEnrolment, TrialSpecVersion
    from infantall.services.trials.rules import allocate, patient_levels

    trial = session.scalar(select(Trial))
    patient, site = session.execute(
        select(Patient, Site.code).join(Site).where(Patient.registry_id == pid)
    ).one()
    done = session.scalars(select(TrialEnrolment).order_by(TrialEnrolment.number)).all()
    levels = patient_levels(
        trial.settings["factors"], age_days=patient.age_days, wbc=patient.wbc, site=site
    )
    alloc = allocate(
        trial.method, trial.settings, trial.seed, len(done), levels,
        [(e.levels, e.arm) for e in done], (),
    )  # fmt: skip
    spec = session.scalar(select(TrialSpecVersion.spec))
    return str(spec["arms"][alloc.arm]["name"])
