"""The pages accept the course after relapse (SQLite and PostgreSQL): the add-event forms of
salvage therapy, CR2 and refractory disease are derived from the domain with its labels and
choices, a whole relapsed course is entered through them, and a CR2 before any relapse is
refused with the domain's code."""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from infantall.domain.vocabulary import choices, field_label
from infantall.registry.testing import SEED_PASSWORD

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def _post(c: TestClient, page: str, action: str, data: dict[str, str]) -> Any:
    token = CSRF.search(c.get(page).text)
    assert token is not None
    return c.post(action, data={**data, "csrf_token": token.group(1)})


@pytest.fixture
def editor(registry: Any, seeded: dict[str, Any]) -> Iterator[TestClient]:
    from infantall.web import create_app

    settings, database = registry
    with TestClient(create_app(settings, database=database), follow_redirects=False) as c:
        r = _post(c, "/login", "/login", {"username": "editor_a", "password": SEED_PASSWORD})
        assert r.status_code == 303
        yield c


def _patient(c: TestClient) -> str:
    data = {"local_code": "REL-P1", "birth_date": "2024-01-10", "diagnosis_date": "2024-03-01"}
    r = _post(c, "/patients/new", "/patients/new", data)
    assert r.status_code == 303, r.text
    return re.findall(r"P-[0-9a-f]{16}", r.headers["location"])[0]


def test_event_forms_of_the_new_kinds_come_from_the_domain(editor: TestClient) -> None:
    pid = _patient(editor)
    page = html.unescape(editor.get(f"/patients/{pid}/events").text)
    for label in ("Salvage therapy", "Second complete remission (CR2)", "Refractory disease"):
        assert label in page
    for name, kind in (("line", "salvage_therapy"), ("agents", "salvage_therapy"),
                       ("end_date", "salvage_therapy"), ("number", "hsct")):  # fmt: skip
        assert field_label(name, kind) in page
    for name, kind in (("disease_status", "hsct"), ("phase", "refractory")):
        for _, label in choices(name, kind):
            assert label in page


def test_a_relapsed_course_is_entered_through_the_pages(
    editor: TestClient, registry: Any, seeded: dict[str, Any]
) -> None:
    pid = _patient(editor)
    url = f"/patients/{pid}/events"
    r = _post(editor, url, url, {"kind": "second_remission", "date": "2024-06-01"})
    assert r.status_code == 422 and "cr2_without_relapse" in r.text
    course = [
        {"kind": "response", "date": "2024-04-05", "status": "cr", "marrow": "M1"},
        {"kind": "relapse", "date": "2024-09-01", "site": "isolated_marrow"},
        {"kind": "salvage_therapy", "date": "2024-09-03", "line": "1", "agents": "FLAG-Ida",
         "end_date": "2024-10-10"},
        {"kind": "second_remission", "date": "2024-10-10", "marrow": "M1"},
        {"kind": "hsct", "date": "2024-12-01", "donor": "unrelated", "hla_match": "10/10",
         "disease_status": "cr2", "number": "1"},
    ]  # fmt: skip
    for event in course:
        r = _post(editor, url, url, event)
        assert r.status_code == 303, r.text
    from infantall.registry.histories import scoped_rows, to_histories

    _, database = registry
    with database.read_sessions() as s:
        (h,) = to_histories(*scoped_rows(s, seeded["viewer_a"]))
    assert [e.kind for e in h.events] == [e["kind"] for e in course]
    assert h.salvage_lines[0].end_date is not None
    assert h.transplants[0].disease_status.value == "cr2"
    page = html.unescape(editor.get(url).text)
    assert "Salvage therapy" in page and "Second complete remission (CR2)" in page
