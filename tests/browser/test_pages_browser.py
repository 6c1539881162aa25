"""End-to-end tests of the registry pages in Debian's Chromium (Playwright).

What a data manager and a coordinator do every day: log in, register a patient and read
its risk groups, add events, have an invalid entry refused with its message, correct with
a reason and read the audit history, import a CSV with an error and read the report, fail
to open another site's patient, and read the pooled curves. Screenshots of the main pages
are saved for the README.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from browser.conftest import LOCKOUT_THRESHOLD, LiveServer, log_in
from infantall import RESEARCH_DISCLAIMER
from infantall.domain import EVENT_TYPES, Patient, choices
from infantall.protocols import stratify_all

pytestmark = pytest.mark.browser

#: The patient registered through the form (values typed by the test).
NEW_PATIENT = {
    "birth_date": "2025-01-10",
    "diagnosis_date": "2025-04-02",
    "wbc": "420",
    "day8_blasts": "2500",
}
NEW_PATIENT_CHOICES = {
    "KMT2A status": "rearranged",
    "KMT2A fusion partner": "AFF1",
    "Immunophenotype": "pro_b",
    "CD10 expression": "negative",
    "CNS status at diagnosis": "CNS1",
}


def _register(page: Any, local_code: str) -> str:
    """Register :data:`NEW_PATIENT` through the form; returns the registry id."""
    if not page.url.endswith("/patients/new"):
        page.get_by_role("link", name="Register patient").click()
    page.get_by_label("Site-local code").fill(local_code)
    page.get_by_label("Date of birth").fill(NEW_PATIENT["birth_date"])
    page.get_by_label("Date of diagnosis").fill(NEW_PATIENT["diagnosis_date"])
    page.get_by_label("WBC at diagnosis").fill(NEW_PATIENT["wbc"])
    page.get_by_label("Day-8 peripheral blasts").fill(NEW_PATIENT["day8_blasts"])
    for label, value in NEW_PATIENT_CHOICES.items():
        page.get_by_label(label, exact=True).select_option(value)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status")).to_contain_text("Patient registered")
    found = re.search(r"/patients/(P-[0-9a-f]{16})", page.url)
    assert found is not None, page.url
    return found.group(1)


def test_login_failure_and_lockout_are_explained(
    open_page: Callable[..., Any], screenshot_dir: Path
) -> None:
    page = open_page()
    for attempt in range(LOCKOUT_THRESHOLD):
        log_in(page, "viewer_b", f"wrong-password-{attempt}")
        expect(page.get_by_role("alert")).to_contain_text("Invalid username or password")
    log_in(page, "viewer_b")  # the right password, but the account is now locked
    expect(page.get_by_role("alert")).to_contain_text("locked after repeated failed logins")
    assert "/login" in page.url
    page.screenshot(path=screenshot_dir / "login-locked.png")


def test_register_patient_and_see_risk_groups(
    open_page: Callable[..., Any], screenshot_dir: Path
) -> None:
    page = open_page("editor_a", "/patients/new")
    _register(page, "E2E-001")
    expected = stratify_all(
        Patient.from_dict(
            {"patient_id": "x", **NEW_PATIENT, "kmt2a": "rearranged", "fusion_partner": "AFF1",
             "immunophenotype": "pro_b", "cd10": "negative", "cns": "CNS1"}
        )
    )  # fmt: skip
    table = page.locator("table.risk")
    for protocol, decision in expected.items():
        row = table.locator("tr", has=page.locator(f"th:has-text('{protocol}')"))
        expect(row.locator("td").first).to_contain_text(decision.group)
    # the decision is explained with its sources, and the research-only notice is shown
    page.locator("details.decision summary", has_text="interfant-06").click()
    expect(page.locator("details.decision[open]").first).to_contain_text("Sources")
    expect(page.get_by_role("note")).to_contain_text(RESEARCH_DISCLAIMER)
    page.screenshot(path=screenshot_dir / "patient-risk-groups.png", full_page=True)


def test_events_refused_entry_correction_and_audit(
    open_page: Callable[..., Any], screenshot_dir: Path
) -> None:
    page = open_page("editor_a", "/patients/new")
    _register(page, "E2E-002")
    page.get_by_role("link", name="Events").click()

    response = page.locator("details#add-response")
    response.locator("summary").click()
    response.get_by_label("Date").fill("2025-03-01")  # before the diagnosis on 2025-04-02
    response.get_by_label("Status").select_option("cr")
    response.get_by_label("Marrow class").select_option("M1")
    response.get_by_role("button").click()
    error = page.locator("#response-f-date-err")
    expect(error).to_contain_text("before diagnosis")
    expect(error).to_contain_text("event_before_diagnosis")
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    page.screenshot(path=screenshot_dir / "event-refused.png", full_page=True)

    response = page.locator("details#add-response")
    response.get_by_label("Date").fill("2025-05-07")
    response.get_by_role("button").click()
    expect(page.get_by_role("status")).to_contain_text("Event recorded")

    mrd = page.locator("details#add-mrd")
    mrd.locator("summary").click()
    mrd.get_by_label("Date").fill("2025-05-07")
    mrd.get_by_label("MRD (fraction").fill("0.0004")
    mrd.get_by_label("Time point").select_option("end_of_induction")
    mrd.get_by_role("button").click()
    expect(page.get_by_role("status")).to_contain_text("Event recorded")

    page.locator("tr", has_text="mrd").get_by_role("link", name="Correct").click()
    page.get_by_label("MRD (fraction").fill("0.0002")
    page.get_by_role("button", name="Save correction").click()  # no reason given
    expect(page.locator("#f-reason-err")).to_be_visible()
    page.get_by_label("Reason for the correction").fill("typing error: lab report says 2e-4")
    page.get_by_role("button", name="Save correction").click()
    expect(page.get_by_role("status")).to_contain_text("Correction saved")

    page.get_by_role("link", name="Audit history").click()
    row = page.locator("table.audit tbody tr", has_text="typing error")
    expect(row).to_contain_text("correct")
    value = row.locator("li", has=page.locator("code", has_text="data.value"))
    expect(value.locator("del")).to_have_text("0.0004")
    expect(value.locator("ins")).to_have_text("0.0002")
    page.screenshot(path=screenshot_dir / "audit-history.png", full_page=True)


def _csv(rows: list[dict[str, str]]) -> bytes:
    header = ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance",
              "birth_date", "diagnosis_date", "wbc", "kmt2a"]  # fmt: skip
    lines = [",".join(header)] + [",".join(r.get(c, "") for c in header) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def test_csv_import_with_an_error_shows_the_report(
    open_page: Callable[..., Any], live_server: LiveServer, screenshot_dir: Path
) -> None:
    page = open_page("editor_a", "/import")
    bad = _csv(
        [
            {"record_id": "IMP-1", "birth_date": "2024-02-01", "diagnosis_date": "2024-06-01",
             "wbc": "12", "kmt2a": "germline"},
            {"record_id": "IMP-2", "birth_date": "2024-05-01", "diagnosis_date": "2024-03-01",
             "wbc": "30", "kmt2a": "rearranged"},
            {"record_id": "IMP-3", "birth_date": "2024-01-01", "diagnosis_date": "2024-04-01",
             "wbc": "-5", "kmt2a": "maybe"},
        ]
    )  # fmt: skip
    page.get_by_label("CSV file").set_input_files(
        {"name": "site-a.csv", "mimeType": "text/csv", "buffer": bad}
    )
    page.get_by_role("button", name="Check and import").click()
    report = page.locator("#import-report")
    expect(report).to_contain_text("nothing was imported")
    for line, record, field, code in (("3", "IMP-2", "diagnosis_date", "diagnosis_before_birth"),
                                      ("4", "IMP-3", "kmt2a", "invalid_choice"),
                                      ("4", "IMP-3", "wbc", "negative_wbc")):  # fmt: skip
        cells = report.locator("tr", has_text=record).filter(has_text=code).locator("td")
        # the column's label from the data dictionary, then its name
        expect(cells).to_have_text(
            [line, record, re.compile(f".+ {field}$"), re.compile(".+"), code]
        )
    page.screenshot(path=screenshot_dir / "import-report.png", full_page=True)
    assert _local_codes(live_server, "editor_a") & {"IMP-1", "IMP-2", "IMP-3"} == set()

    good = _csv([{"record_id": "IMP-1", "birth_date": "2024-02-01",
                  "diagnosis_date": "2024-06-01", "wbc": "12", "kmt2a": "germline"}])  # fmt: skip
    page.get_by_label("CSV file").set_input_files(
        {"name": "site-a-fixed.csv", "mimeType": "text/csv", "buffer": good}
    )
    page.get_by_role("button", name="Check and import").click()
    expect(page.locator("#import-report")).to_contain_text("1 patient and 0 events imported")
    assert "IMP-1" in _local_codes(live_server, "editor_a")


def _local_codes(live_server: LiveServer, username: str) -> set[str]:
    from infantall.registry.histories import scoped_rows

    with live_server.database.read_sessions() as session:
        patients, _ = scoped_rows(session, live_server.principals[username])
        return {p.local_code for p, _code in patients}


def _a_site_a_patient(live_server: LiveServer) -> tuple[str, str]:
    from infantall.registry.histories import scoped_rows

    with live_server.database.read_sessions() as session:
        patients, _ = scoped_rows(session, live_server.principals["editor_a"])
        p, _code = patients[0]
        return p.registry_id, p.local_code


def test_site_user_cannot_open_another_sites_patient(
    open_page: Callable[..., Any], live_server: LiveServer
) -> None:
    registry_id, local_code = _a_site_a_patient(live_server)
    page = open_page("editor_b", "/import")
    for suffix in ("", "/events", "/history", "/edit"):
        answer = page.goto(f"/patients/{registry_id}{suffix}")
        assert answer is not None and answer.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        assert local_code not in page.content()
    missing = page.goto("/patients/P-0000000000000000")
    assert missing is not None and missing.status == 404  # answered exactly alike


def test_dashboard_filters_counts_and_curves(
    open_page: Callable[..., Any], live_server: LiveServer, screenshot_dir: Path
) -> None:
    page = open_page("editor_a")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Site SITE-A")
    page.get_by_label("KMT2A").select_option("rearranged")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.patients tbody tr")
    assert rows.count() > 0
    kmt2a = rows.locator("td.kmt2a").all_inner_texts()
    assert set(kmt2a) == {dict(choices("kmt2a"))["rearranged"]}  # the vocabulary's label
    heading = page.locator("#list-title").inner_text()
    matched = int(heading.split(" of ")[0])
    assert len(kmt2a) == min(matched, 50)  # pages of 50 rows
    if matched > 50:
        assert "page 1 of" in heading
    for image in page.locator("figure img").all():
        assert image.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("figure img")).to_have_count(2)  # EFS and OS with number at risk
    page.goto("/dashboard")
    page.screenshot(path=screenshot_dir / "dashboard.png")

    # a synthetic patient who relapsed: the timeline shows the history as a picture
    page.get_by_label("Status").select_option("relapsed")
    page.get_by_role("button", name="Apply").click()
    statuses = page.locator("table.patients tbody td span.status").all_inner_texts()
    assert statuses and set(statuses) == {"relapsed"}
    counts = [int(n) for n in page.locator("table.patients tbody td:last-child").all_inner_texts()]
    richest = page.locator("table.patients tbody tr").nth(counts.index(max(counts)))
    richest.locator("a").click()
    timeline = page.locator("img.timeline")
    expect(timeline).to_have_attribute("alt", re.compile(r"Timeline of \d+ events"))
    assert timeline.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("ol.event-list")).to_contain_text(EVENT_TYPES["relapse"].label)
    page.screenshot(path=screenshot_dir / "patient.png")


def test_coordinator_sees_pooled_curves(
    open_page: Callable[..., Any], live_server: LiveServer, screenshot_dir: Path
) -> None:
    page = open_page("coord")
    expect(page).to_have_url(re.compile(r"/coordinator$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pooled registry")
    for alt in ("patients registered per year", "EFS by interfant-06 risk group",
                "OS by interfant-06 risk group", "Cumulative incidence of relapse",
                "Simon–Makuch"):  # fmt: skip
        image = page.locator(f"img[alt*='{alt}']")
        expect(image).to_have_count(1)
        assert image.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("#hsct-title")).to_be_visible()
    expect(page.locator("text=Mantel–Byar test")).to_be_visible()
    expect(page.locator("code", has_text="missing_kmt2a").first).to_be_visible()
    html = page.content()
    assert "SYN-0001" not in html  # de-identified: no site-local codes
    page.screenshot(path=screenshot_dir / "coordinator.png", full_page=True)

    site_user = open_page("viewer_a", "/import")
    answer = site_user.goto("/coordinator")
    assert answer is not None and answer.status == 403
    assert dt.date.today().year > 2000
