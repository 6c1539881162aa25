"""The main page flows on PostgreSQL (the production database); the rest of the page tests
run on SQLite. Skipped only when no PostgreSQL answers (CI starts one in .ci/run)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infantall.registry.testing import (
    SEED_PASSWORD,
    DatabaseTemplates,
    require_postgres,
    seed_registry,
)
from pages.conftest import csrf_of, post_form

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[Any]:
    """The app on a fresh, seeded PostgreSQL database."""
    require_postgres()
    from infantall.web import create_app

    templates = DatabaseTemplates(tmp_path)
    try:
        with templates.database("postgresql", tmp_path) as (settings, database):
            seed_registry(database, settings)
            yield create_app(settings, database=database)
    finally:
        templates.close()


def _login(app: Any, username: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"username": username, "password": SEED_PASSWORD,
                               "csrf_token": token})  # fmt: skip
    assert r.status_code == 303
    return c


def test_register_event_refusal_audit_and_cross_site_404_on_postgres(pg_app: Any) -> None:
    editor = _login(pg_app, "editor_a")
    patient = {"local_code": "PG-1", "birth_date": "2024-01-10", "diagnosis_date": "2024-05-01",
               "kmt2a": "germline", "fusion_partner": "none"}  # fmt: skip
    r = post_form(editor, "/patients/new", "/patients/new", patient)
    assert r.status_code == 303
    pid = re.findall(r"P-[0-9a-f]{16}", r.headers["location"])[0]
    events = f"/patients/{pid}/events"
    bad = {"kind": "relapse", "date": "2024-01-01", "site": "isolated_cns"}
    r = post_form(editor, events, events, bad)
    assert r.status_code == 422 and "event_before_diagnosis" in r.text
    r = post_form(editor, events, events, {**bad, "date": "2024-09-01"})
    assert r.status_code == 303
    assert "isolated cns" in editor.get(events).text
    assert editor.get(f"/patients/{pid}/history").status_code == 200
    assert "PG-1" in editor.get("/dashboard").text
    other = _login(pg_app, "editor_b")
    assert other.get(f"/patients/{pid}").status_code == 404
    assert _login(pg_app, "coord").get("/coordinator").status_code == 200
