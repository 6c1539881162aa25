"""The data-entry day (issue 15, item 3) on SQLite and PostgreSQL: human labels and no
preselected clinical value, ISO date inputs, derived values shown as derived, error
summaries with the field's label and code, ``reason_required``, the patient list first
with sorting and pages, the voided view, the import template and problems CSV, and the
offline API documentation with a favicon (item 4)."""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infantall.domain import choices, field_label
from infantall.registry.dictionary import DATA_DICTIONARY
from infantall.registry.testing import (
    SEED_PASSWORD,
    DatabaseTemplates,
    require_postgres,
    seed_registry,
)
from pages.conftest import csrf_of, post_form

Login = Callable[[str], TestClient]
PATIENT = {
    "local_code": "DE-001",
    "birth_date": "2024-01-10",
    "diagnosis_date": "2024-05-01",
    "kmt2a": "rearranged",
    "fusion_partner": "AFF1",
    "day8_blasts": "500",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def login(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Login]:
    """Log a seeded user in on a fresh registry of the backend (SQLite, PostgreSQL)."""
    if request.param == "postgresql":
        require_postgres()
    from infantall.web import create_app

    templates = DatabaseTemplates(tmp_path)
    clients: list[TestClient] = []
    try:
        with templates.database(request.param, tmp_path) as (settings, database):
            seed_registry(database, settings)
            app = create_app(settings, database=database)

            def _login(username: str) -> TestClient:
                c = TestClient(app, follow_redirects=False)
                clients.append(c)
                token = csrf_of(c.get("/login").text)
                r = c.post("/login", data={"username": username, "password": SEED_PASSWORD,
                                           "csrf_token": token})  # fmt: skip
                assert r.status_code == 303
                return c

            yield _login
            for c in clients:
                c.close()
    finally:
        templates.close()


def _current(c: TestClient, pid: str) -> dict[str, str]:
    """What the correction form of a patient submits unchanged (its stored values)."""
    from infantall.web.pages.forms import PATIENT_FORM

    stored = c.get(f"/api/v1/patients/{pid}").json()
    names = {f.name for f in PATIENT_FORM}
    return {k: str(v) for k, v in stored.items() if k in names and v is not None}


def _register(c: TestClient, **changes: str) -> str:
    r = post_form(c, "/patients/new", "/patients/new", {**PATIENT, **changes})
    assert r.status_code == 303, r.text
    return re.findall(r"P-[0-9a-f]{16}", r.headers["location"])[0]


def _selects(page: str) -> dict[str, list[tuple[str, bool, str]]]:
    """name -> [(value, selected, text)] of every select of a page."""
    out: dict[str, list[tuple[str, bool, str]]] = {}
    for name, body in re.findall(r'<select[^>]* name="([a-z_0-9]+)"[^>]*>(.*?)</select>', page,
                                 re.S):  # fmt: skip
        out[name] = [
            (value, bool(sel.strip()), html.unescape(text.strip()))
            for value, sel, text in re.findall(
                r'<option value="([^"]*)"\s*(selected)?\s*>([^<]*)</option>', body
            )
        ]
    return out


def test_form_choices_are_labels_with_nothing_preselected(login: Login) -> None:
    page = login("editor_a").get("/patients/new").text
    selects = _selects(page)
    # The vocabulary's (code, label) pairs, after one empty choice that is the only selected one
    assert [(v, t) for v, _, t in selects["kmt2a"][1:]] == list(choices("kmt2a"))
    assert [(v, t) for v, _, t in selects["cns"][1:]] == list(choices("cns"))
    for name, options in selects.items():
        assert options[0][0] == "", name
        assert [v for v, sel, _ in options if sel] == [""], f"{name} has a preselected value"
    assert re.search(r'<input id="f-protocol"[^>]* value=""', page)  # no protocol prefilled
    assert html.escape(field_label("wbc")) in page or field_label("wbc") in page
    events = login("editor_a")
    pid = _register(events)
    ev = _selects(events.get(f"/patients/{pid}/events").text)
    assert ev["status"][0] == ("", True, "Choose…")  # a required choice must be made
    assert ("cr", False, dict(choices("status", "response"))["cr"]) in ev["status"]


def test_a_choice_left_empty_is_stored_and_shown_not_entered(login: Login) -> None:
    """Issue 15: "not entered" apart from "unknown" — the form's empty choice is stored empty
    (API null), the patient page says "not entered"; an entered "unknown" stays unknown."""
    c = login("editor_a")
    blank = _register(c, local_code="NE-1", cns="")
    told = _register(c, local_code="NE-2", cns="unknown")
    assert c.get(f"/api/v1/patients/{blank}").json()["cns"] is None
    assert c.get(f"/api/v1/patients/{told}").json()["cns"] == "unknown"
    page = c.get(f"/patients/{blank}").text
    cns = re.search(r"<dt>[^<]*CNS[^<]*</dt><dd>(.*?)</dd>", page)
    assert cns is not None and "not entered" in cns.group(1)
    page = c.get(f"/patients/{told}").text
    cns = re.search(r"<dt>[^<]*CNS[^<]*</dt><dd>(.*?)</dd>", page)
    assert cns is not None and "not entered" not in cns.group(1)


def test_dates_are_iso_text_inputs(login: Login) -> None:
    page = login("editor_a").get("/patients/new").text
    for name in ("birth_date", "diagnosis_date", "enrollment_date"):
        tag = re.search(rf'<input id="f-{name}"[^>]*>', page)
        assert tag is not None
        assert 'type="text"' in tag.group(0) and 'placeholder="YYYY-MM-DD"' in tag.group(0)
        assert 'type="date"' not in tag.group(0)


def test_error_summary_names_the_label_links_to_the_field_with_code(login: Login) -> None:
    c = login("editor_a")
    r = post_form(c, "/patients/new", "/patients/new", {**PATIENT, "wbc": "-5", "sex": "x"})
    assert r.status_code == 422
    start = r.text.index('class="error-summary"')
    summary = r.text[start : r.text.index("</ul>", start)]
    wbc = html.escape(field_label("wbc"))
    assert re.search(rf'<a href="#f-wbc">{re.escape(wbc)}</a>: [^<]*<code>negative_wbc</code>',
                     summary)  # fmt: skip
    assert re.search(r'<a href="#f-sex">Sex</a>: [^<]*<code>invalid_choice</code>', summary)
    assert ">wbc<" not in summary and ">sex<" not in summary


def test_correction_without_reason_says_reason_required(login: Login) -> None:
    c = login("editor_a")
    pid = _register(c)
    edit = f"/patients/{pid}/edit"
    r = post_form(c, edit, edit, {**_current(c, pid), "wbc": "20", "version": "1", "reason": ""})
    assert r.status_code == 422
    assert "reason_required" in r.text and "Value should have" not in r.text
    assert re.search(r'<a href="#f-reason">Reason for the change</a>', r.text)
    r = post_form(c, edit, f"/patients/{pid}/void", {"version": "1", "reason": ""})
    assert r.status_code == 422 and "reason_required" in r.text
    assert '<a href="#void-f-reason">Reason for voiding</a>' in r.text
    assert 'id="void-f-reason"' in r.text


def test_prednisone_response_is_shown_derived_not_asked(login: Login) -> None:
    c = login("editor_a")
    pid = _register(c)  # day-8 blasts 500/µL: good response (< 1,000/µL)
    edit = c.get(f"/patients/{pid}/edit").text
    assert "prednisone_response" not in _selects(edit)
    assert re.search(r'<p class="derived" id="f-prednisone_response"><output>Good', edit)
    current = _current(c, pid)
    current.pop("prednisone_response")  # not on the form: it is derived from the count
    r = post_form(c, f"/patients/{pid}/edit", f"/patients/{pid}/edit",
                  {**current, "wbc": "20", "version": "1", "reason": "lab report"})  # fmt: skip
    assert r.status_code == 303, r.text
    stored = c.get(f"/api/v1/patients/{pid}").json()
    assert (stored["prednisone_response"], stored["wbc"]) == ("good", 20.0)
    overview = c.get(f"/patients/{pid}").text
    assert "derived from" in overview


def _cohort_csv(n: int) -> str:
    rows = ["record_id,birth_date,diagnosis_date,kmt2a"]
    rows += [f"C-{i:03d},2024-01-10,2024-0{1 + i % 8 + 1}-01,germline" for i in range(n)]
    return "\n".join(rows) + "\n"


def _upload(c: TestClient, text: str) -> Any:
    token = csrf_of(c.get("/import").text)
    return c.post("/import", data={"csrf_token": token},
                  files={"file": ("f.csv", text.encode(), "text/csv")})  # fmt: skip


def test_patient_list_first_sorted_and_paged(login: Login) -> None:
    c = login("editor_a")
    assert _upload(c, _cohort_csv(60)).status_code == 200
    page = c.get("/dashboard").text
    assert page.index('id="list-title"') < page.index('id="counts-title"')
    if 'id="curves-title"' in page:
        assert page.index('id="counts-title"') < page.index('id="curves-title"')
    codes = re.findall(r'<a href="/patients/P-[0-9a-f]{16}">(C-\d{3})</a>', page)
    assert codes == [f"C-{i:03d}" for i in range(50)]  # page 1 of 2, by code
    second = c.get("/dashboard?page=2").text
    assert re.findall(r">(C-\d{3})</a>", second) == [f"C-{i:03d}" for i in range(50, 60)]
    desc = c.get("/dashboard?sort=code&order=desc").text
    assert re.findall(r">(C-\d{3})</a>", desc)[:2] == ["C-059", "C-058"]
    by_date = re.findall(r">(C-\d{3})</a></td>\s*<td>(\d{4}-\d\d-\d\d)",
                         c.get("/dashboard?sort=diagnosis").text)  # fmt: skip
    assert [d for _, d in by_date] == sorted(d for _, d in by_date)
    assert 'aria-sort="ascending"' in c.get("/dashboard?sort=diagnosis").text
    found = c.get("/dashboard?q=C-007").text
    assert re.findall(r">(C-\d{3})</a>", found) == ["C-007"]


def test_voided_records_are_listed_for_editors_not_coordinators(login: Login) -> None:
    c = login("editor_a")
    pid = _register(c)
    r = post_form(c, f"/patients/{pid}/edit", f"/patients/{pid}/void",
                  {"version": "1", "reason": "entered twice"})  # fmt: skip
    assert r.status_code == 303
    page = c.get("/patients/voided")
    assert page.status_code == 200
    assert "DE-001" in page.text and "entered twice" in page.text
    coordinator = login("coord").get("/patients/voided")  # the pooled view only
    assert coordinator.status_code == 403 and "pooled_only" in coordinator.text
    assert "entered twice" not in coordinator.text
    assert login("viewer_a").get("/patients/voided").status_code == 403
    assert "entered twice" not in login("editor_b").get("/patients/voided").text


def test_import_template_and_problems_csv(login: Login) -> None:
    c = login("editor_a")
    r = c.get("/import/template.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert next(csv.reader(io.StringIO(r.text))) == [v.name for v in DATA_DICTIONARY]
    bad = "record_id,birth_date,diagnosis_date,sex,wbc\nB-1,2024-05-01,2024-03-01,x,lots\n"
    r = _upload(c, bad)
    assert r.status_code == 422
    href = re.search(r'href="data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]+)"', r.text)
    assert href is not None
    rows = list(csv.DictReader(io.StringIO(base64.b64decode(href.group(1)).decode())))
    assert {(row["column"], row["code"]) for row in rows} == {
        ("sex", "invalid_choice"),
        ("wbc", "invalid_type"),
        ("diagnosis_date", "diagnosis_before_birth"),
    }


def test_api_docs_and_redoc_are_served_from_the_package_with_a_favicon(login: Login) -> None:
    c = login("viewer_a")
    for path in ("/api/v1/docs", "/api/v1/redoc"):
        r = c.get(path)
        assert r.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', r.text) + re.findall(r"url: '([^']+)'",
                                                                              r.text)  # fmt: skip
        assert urls and all(u.startswith("/") for u in urls), urls
        for u in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            assert c.get(u).status_code == 200, u
    assert "http" not in c.get("/api/v1/docs").text.split("<body>")[1].split("SwaggerUIBundle")[0]
    icon = c.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content.startswith(b"<svg")
    assert 'rel="icon" href="/static/favicon.svg"' in c.get("/dashboard").text
