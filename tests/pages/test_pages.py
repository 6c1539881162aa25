"""Fast tests of the server-rendered pages (TestClient, SQLite).

The pages must refuse what the JSON API refuses with the same field and code, never change
data on a refused form, answer 404 for another site's patient exactly as for a missing
one, protect every form with a CSRF token and send the security headers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infantall import RESEARCH_DISCLAIMER
from infantall.registry.testing import SEED_PASSWORD
from infantall.web.pages.security import CONTENT_SECURITY_POLICY, CSRF_COOKIE
from pages.conftest import csrf_of, post_form

Login = Callable[[str], TestClient]

PATIENT = {
    "local_code": "T-001",
    "birth_date": "2024-01-10",
    "diagnosis_date": "2024-05-01",
    "wbc": "350",
    "kmt2a": "rearranged",
    "fusion_partner": "AFF1",
    "day8_blasts": "2500",
    "protocol": "interfant-06",
}


def _register(c: TestClient, **changes: str) -> str:
    r = post_form(c, "/patients/new", "/patients/new", {**PATIENT, **changes})
    assert r.status_code == 303, r.text
    found = re.match(r"/patients/(P-[0-9a-f]{16})\?done=registered$", r.headers["location"])
    assert found is not None
    return found.group(1)


def _field_errors(html: str) -> list[tuple[str, str]]:
    """(error id, code) of every message placed next to a field."""
    return re.findall(r'<p class="field-error" id="([^"]+)-err">[^<]*<code>([a-z_]+)</code>', html)


def _api_patients(c: TestClient) -> list[dict[str, Any]]:
    r = c.get("/api/v1/patients")  # the API accepts the page session cookie for GETs
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


# --- login, session, headers, CSRF ------------------------------------------------------


def test_pages_need_a_login(client: TestClient) -> None:
    for path in ("/", "/dashboard", "/coordinator", "/import", "/patients/new"):
        r = client.get(path)
        assert r.status_code == 303
        assert r.headers["location"] == f"/login?next={path}"


def test_login_sets_httponly_session_and_goes_to_the_role_page(client: TestClient) -> None:
    page = client.get("/login")
    assert (
        "HttpOnly" in page.headers["set-cookie"] and "SameSite=strict" in page.headers["set-cookie"]
    )
    r = client.post(
        "/login",
        data={"username": "coord", "password": SEED_PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 303 and r.headers["location"] == "/coordinator"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("infantall_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_login_failure_then_lockout_messages(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    for _ in range(3):  # the test registry locks after 3 failures
        r = client.post(
            "/login", data={"username": "viewer_a", "password": "wrong", "csrf_token": token}
        )
        assert r.status_code == 401
        assert "Invalid username or password" in r.text
    r = client.post(
        "/login", data={"username": "viewer_a", "password": SEED_PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 401  # the same answer as for an unknown user
    assert "locked after repeated failed logins" in r.text
    assert "infantall_session" not in r.headers.get("set-cookie", "")


def test_forms_without_a_valid_csrf_token_are_refused(login: Login) -> None:
    c = login("editor_a")
    before = len(_api_patients(c))
    r = c.post("/patients/new", data=PATIENT)
    assert r.status_code == 403 and "Form expired" in r.text
    r = c.post("/patients/new", data={**PATIENT, "csrf_token": "0" * 64})
    assert r.status_code == 403
    token = csrf_of(c.get("/patients/new").text)
    r = c.post(
        "/patients/new",
        data={**PATIENT, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert len(_api_patients(c)) == before


def test_security_headers_on_pages_errors_and_static(login: Login) -> None:
    c = login("editor_a")
    for path in ("/dashboard", "/patients/P-0000000000000000", "/static/app.css", "/login"):
        r = c.get(path)
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
    assert "script-src" not in CONTENT_SECURITY_POLICY  # default-src 'none': no script at all
    page = c.get("/dashboard").text
    assert "<script" not in page and " style=" not in page
    assert c.get("/dashboard").headers["cache-control"] == "no-store"


def test_static_files_stay_in_their_folder(client: TestClient) -> None:
    assert client.get("/static/app.css").status_code == 200
    for name in ("..%2Fpages%2F__init__.py", "app.py", "%2Fetc%2Fpasswd"):
        assert client.get(f"/static/{name}").status_code == 404


def test_logout_revokes_the_session(login: Login) -> None:
    c = login("viewer_a")
    assert c.get("/dashboard").status_code == 200
    r = post_form(c, "/dashboard", "/logout", {})
    assert r.status_code == 303 and r.headers["location"] == "/login?done=logged_out"
    assert c.get("/dashboard").status_code == 303


def test_safe_next_never_leaves_the_site(client: TestClient) -> None:
    page = client.get("/login?next=//evil.example/x")
    assert 'name="next" value=""' in page.text
    r = client.post(
        "/login",
        data={"username": "editor_a", "password": SEED_PASSWORD, "next": "https://evil.example",
              "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert r.headers["location"] == "/dashboard"


# --- data entry -------------------------------------------------------------------------


def test_register_shows_risk_groups_with_sources_and_disclaimer(login: Login) -> None:
    from infantall.domain import Patient
    from infantall.protocols import stratify_all

    c = login("editor_a")
    pid = _register(c)
    page = c.get(f"/patients/{pid}").text
    assert RESEARCH_DISCLAIMER in page
    expected = stratify_all(
        Patient.from_dict({"patient_id": pid, **{k: v for k, v in PATIENT.items()
                           if k not in ("local_code",)}})
    )  # fmt: skip
    for protocol, decision in expected.items():
        row = re.search(rf"<th scope=\"row\">{re.escape(protocol)} .*?</tr>", page, re.S)
        assert row is not None, protocol
        assert f">{decision.group}</span>" in row.group(0)
    assert "<blockquote>" in page  # verbatim source quotes
    stored = c.get(f"/api/v1/patients/{pid}/risk-groups").json()
    assert {r["protocol"] for r in stored} == set(expected)  # stored by the same service


def test_invalid_registration_shows_codes_next_to_fields_and_stores_nothing(login: Login) -> None:
    c = login("editor_a")
    bad = {**PATIENT, "wbc": "-3", "diagnosis_date": "2023-12-01", "kmt2a": "maybe"}
    r = post_form(c, "/patients/new", "/patients/new", bad)
    assert r.status_code == 422
    errors = dict(_field_errors(r.text))
    assert errors == {"f-wbc": "negative_wbc", "f-kmt2a": "invalid_choice"}
    assert 'aria-invalid="true"' in r.text and 'value="-3"' in r.text  # input kept
    api = c.post(
        "/api/v1/patients",
        json={**{k: v for k, v in bad.items()}, "wbc": -3, "day8_blasts": 2500},
        headers={"Origin": "http://testserver"},  # a cookie-authenticated change names its origin
    )
    api_codes = {(e["field"], e["code"]) for e in api.json()["errors"]}
    assert {("wbc", "negative_wbc"), ("kmt2a", "invalid_choice")} <= api_codes
    assert _api_patients(c) == []
    # the domain's own rules come through as well (after the schema accepts the values)
    r = post_form(c, "/patients/new", "/patients/new", {**PATIENT, "diagnosis_date": "2023-12-01"})
    assert ("f-diagnosis_date", "diagnosis_before_birth") in _field_errors(r.text)


def test_duplicate_local_code_is_reported_on_its_field(login: Login) -> None:
    c = login("editor_a")
    _register(c)
    r = post_form(c, "/patients/new", "/patients/new", PATIENT)
    assert r.status_code == 409  # as the API answers a duplicate
    assert ("f-local_code", "duplicate_patient") in _field_errors(r.text)


def test_events_refused_with_code_then_corrected_with_reason_and_audited(login: Login) -> None:
    c = login("editor_a")
    pid = _register(c)
    events_url = f"/patients/{pid}/events"
    early = {"kind": "response", "date": "2024-04-01", "status": "cr", "marrow": "M1"}
    r = post_form(c, events_url, events_url, early)
    assert r.status_code == 422
    assert ("response-f-date", "event_before_diagnosis") in _field_errors(r.text)
    r = post_form(c, events_url, events_url, {**early, "marrow": "M3", "date": "2024-06-01"})
    assert r.status_code == 422 and "response_marrow_mismatch" in r.text
    assert c.get(f"/api/v1/patients/{pid}/events").json() == []

    r = post_form(c, events_url, events_url, {**early, "date": "2024-06-01"})
    assert r.status_code == 303
    mrd = {"kind": "mrd", "date": "2024-06-01", "value": "0.0004", "time_point": "end_of_induction"}
    assert post_form(c, events_url, events_url, mrd).status_code == 303
    event = next(e for e in c.get(f"/api/v1/patients/{pid}/events").json() if e["kind"] == "mrd")
    url = f"/patients/{pid}/events/{event['registry_id']}/correct"

    fixed = {**mrd, "value": "0.0002", "version": "1"}
    r = post_form(c, url, url, {**fixed, "reason": ""})
    assert r.status_code == 422
    assert [e for e in _field_errors(r.text) if e[0] == "f-reason"]
    r = post_form(c, url, url, {**fixed, "reason": "lab report: 2e-4"})
    assert r.status_code == 303
    r = post_form(c, url, url, {**fixed, "value": "0.0003", "reason": "stale form"})
    assert r.status_code == 409  # the version read is no longer current: nothing lost

    history = c.get(f"/patients/{pid}/history").text
    row = re.search(r"<tr>(?:(?!</tr>).)*lab report: 2e-4.*?</tr>", history, re.S)
    assert row is not None
    assert "<del>0.0004</del>" in row.group(0) and "<ins>0.0002</ins>" in row.group(0)


def test_void_needs_a_reason_and_deletes_nothing(login: Login) -> None:
    c = login("editor_a")
    pid = _register(c)
    edit = f"/patients/{pid}/edit"
    r = post_form(c, edit, f"/patients/{pid}/void", {"version": "1", "reason": "  "})
    assert r.status_code == 422 and "reason_required" in r.text
    r = post_form(c, edit, f"/patients/{pid}/void", {"version": "1", "reason": "duplicate entry"})
    assert r.status_code == 303
    assert _api_patients(c) == []
    voided = c.get("/api/v1/patients?include_voided=true").json()["items"]
    assert [p["void_reason"] for p in voided] == ["duplicate entry"]
    assert "duplicate entry" in c.get(f"/patients/{pid}/history").text


def test_patient_correction_sends_only_changed_fields(login: Login) -> None:
    c = login("editor_a")
    pid = _register(c)
    edit = f"/patients/{pid}/edit"
    from infantall.web.pages.forms import PATIENT_FORM

    current = c.get(f"/api/v1/patients/{pid}").json()  # what the form is filled with
    names = [f.name for f in PATIENT_FORM]
    form = {k: str(v) for k, v in current.items() if k in names and v is not None}
    form.update(wbc="35", version="1", reason="typing error: 35 not 350")
    assert post_form(c, edit, edit, form).status_code == 303
    changed = c.get(f"/api/v1/patients/{pid}/history").json()[-1]
    diff = {k for k in changed["new"] if changed["old"].get(k) != changed["new"][k]}
    assert diff == {"wbc", "version", "updated_at"}
    assert changed["reason"] == "typing error: 35 not 350"


def test_site_viewer_reads_but_cannot_write(login: Login) -> None:
    editor = login("editor_a")
    pid = _register(editor)
    viewer = login("viewer_a")
    page = viewer.get(f"/patients/{pid}")
    assert page.status_code == 200 and "Recompute and store" not in page.text
    r = post_form(viewer, f"/patients/{pid}", f"/patients/{pid}/void",
                  {"version": "1", "reason": "x"})  # fmt: skip
    assert r.status_code == 403


@pytest.mark.parametrize(
    "suffix", ["", "/events", "/history", "/edit", "/events/E-0000000000000000/correct"]
)
def test_other_sites_patient_is_404_like_a_missing_one(login: Login, suffix: str) -> None:
    pid = _register(login("editor_a"))
    other = login("editor_b")
    theirs = other.get(f"/patients/{pid}{suffix}")
    missing = other.get(f"/patients/P-0000000000000000{suffix}")
    assert theirs.status_code == missing.status_code == 404
    assert "T-001" not in theirs.text
    assert theirs.text.replace(pid, "") == missing.text.replace("P-0000000000000000", "")
    r = post_form(other, "/import", f"/patients/{pid}/void", {"version": "1", "reason": "x"})
    assert r.status_code == 404


def test_malformed_ids_are_404(login: Login) -> None:
    c = login("editor_a")
    for path in ("/patients/1", "/patients/P-XYZ/events", "/patients/%3Cscript%3E"):
        assert c.get(path).status_code == 404


def test_free_text_is_escaped(login: Login) -> None:
    c = login("editor_a")
    pid = _register(c, notes='<script>alert("x")</script><img src=x onerror=alert(1)>')
    page = c.get(f"/patients/{pid}").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


# --- import, export, dashboard, coordinator ---------------------------------------------


CSV_HEADER = (
    "record_id,redcap_repeat_instrument,redcap_repeat_instance,birth_date,diagnosis_date,wbc"
)


def _upload(c: TestClient, text: str) -> Any:
    token = csrf_of(c.get("/import").text)
    return c.post(
        "/import",
        data={"csrf_token": token},
        files={"file": ("f.csv", text.encode(), "text/csv")},
    )


def test_import_with_an_error_reports_rows_and_imports_nothing(login: Login) -> None:
    c = login("editor_a")
    text = "\n".join([CSV_HEADER, "A1,,,2024-01-01,2024-03-01,10", "A2,,,2024-05-01,2024-03-01,10"])
    r = _upload(c, text)
    assert r.status_code == 422 and "nothing was imported" in r.text
    assert re.search(
        r"<td>3</td><td>A2</td><td>Date of diagnosis <small><code>diagnosis_date</code>",
        r.text,
    )
    assert "<code>diagnosis_before_birth</code>" in r.text
    assert _api_patients(c) == []
    r = _upload(c, "\n".join([CSV_HEADER, "A1,,,2024-01-01,2024-03-01,10"]))
    assert r.status_code == 200 and "1 patient and 0 events imported" in r.text
    assert [p["local_code"] for p in _api_patients(c)] == ["A1"]


def test_import_without_a_file_says_so(login: Login) -> None:
    c = login("editor_a")
    r = post_form(c, "/import", "/import", {})
    assert r.status_code == 422 and "Choose a CSV file" in r.text


def test_export_buttons_download_the_callers_scope(login: Login) -> None:
    c = login("editor_a")
    _register(c)
    page = c.get("/import").text
    assert 'href="/api/v1/export?format=csv"' in page and "pooled" not in page
    csv_text = c.get("/api/v1/export?format=csv").text
    assert "T-001" in csv_text
    coord_page = login("coord").get("/import").text
    assert 'href="/api/v1/export/pooled?format=csv"' in coord_page


def test_dashboard_filters_and_counts(login: Login) -> None:
    c = login("editor_a")
    _register(c)
    germline = _register(c, local_code="T-002", kmt2a="germline", fusion_partner="none")
    url = f"/patients/{germline}/events"
    post_form(c, url, url, {"kind": "death", "date": "2024-07-01", "cause": "infection_toxicity"})
    page = c.get("/dashboard").text
    assert RESEARCH_DISCLAIMER in page
    assert re.search(r"<dt>Patients</dt><dd>2</dd>", page)
    assert re.search(r"<dt>Dead</dt><dd>1</dd>", page)
    only_dead = c.get("/dashboard?status=dead").text
    assert "T-002" in only_dead and "T-001" not in only_dead
    rearranged = c.get("/dashboard?kmt2a=rearranged").text
    assert "T-001" in rearranged and "T-002" not in rearranged
    assert "T-001" in c.get("/dashboard?q=t-001").text
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 2  # EFS and OS
    empty = c.get("/dashboard?status=relapsed").text
    assert "No patient matches these filters" in empty
    assert "T-001" not in login("editor_b").get("/dashboard").text  # own site only


def test_coordinator_view_is_pooled_and_deidentified(login: Login) -> None:
    editor = login("editor_a")
    pid = _register(editor)
    page = login("coord").get("/coordinator")
    assert page.status_code == 200
    assert RESEARCH_DISCLAIMER in page.text
    assert "T-001" not in page.text and pid not in page.text
    assert "Accrual: 1 patients from 1 sites" in page.text
    assert "<code>missing_kmt2a</code>" in page.text
    assert login("editor_a").get("/coordinator").status_code == 403
    # coordinators read the pooled view only: no patient list, no patient page
    coord = login("coord")
    for path in ("/dashboard", f"/patients/{pid}", f"/patients/{pid}/events",
                 f"/patients/{pid}/history", f"/patients/{pid}/edit",
                 f"/patients/{pid}/events/E-0000000000000000/correct"):  # fmt: skip
        refused = coord.get(path)
        assert refused.status_code == 403, path
        assert "pooled_only" in refused.text and "T-001" not in refused.text, path
    assert 'href="/dashboard"' not in page.text


def test_admin_sees_sites_and_users_but_no_patient_pages(login: Login) -> None:
    c = login("admin")
    page = c.get("/admin")
    assert page.status_code == 200 and "SITE-A" in page.text and "editor_b" in page.text
    assert c.get("/dashboard").status_code == 403


def test_csrf_cookie_is_issued_once_and_reused(client: TestClient) -> None:
    first = client.get("/login")
    assert CSRF_COOKIE in first.headers["set-cookie"]
    second = client.get("/login")
    assert "set-cookie" not in second.headers
    assert csrf_of(first.text) == csrf_of(second.text)


def test_empty_registry_pages_render(login: Login) -> None:
    coordinator = login("coord").get("/coordinator")
    assert coordinator.status_code == 200 and "No patient is registered yet" in coordinator.text
    dashboard = login("viewer_a").get("/dashboard")
    assert dashboard.status_code == 200 and "<dt>Patients</dt><dd>0</dd>" in dashboard.text
