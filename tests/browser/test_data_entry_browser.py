"""The data-entry day and the offline web app in Debian's Chromium (issue 15, items 3-4).

A data manager reads human labels and must choose every clinical value (nothing is
preselected), types ISO dates in a browser set to en-US, sees every problem of an import
file and downloads them as CSV, downloads the import template, finds a voided record; the
API documentation renders with every non-local request blocked; and no page logs a console
error, not even a missing favicon (this module counts failed resources too, which the
shared fixture lets pass for the expected 4xx answers).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from browser.conftest import VIEWPORT, LiveServer, log_in
from infantall.domain import choices
from infantall.registry.dictionary import DATA_DICTIONARY

pytestmark = pytest.mark.browser


def _console(message: Any, problems: list[str], refused: int) -> None:
    """A console error is a problem, except Chromium's note on the page's own ``refused``
    status (a form answered 422 on purpose)."""
    expected = f"the server responded with a status of {refused} "
    if message.type == "error" and not (refused and expected in message.text):
        problems.append(message.text)


def _response(response: Any, problems: list[str], refused: int) -> None:
    """A 4xx/5xx answer is a problem, except the ``refused`` status of a page itself."""
    page_refused = response.status == refused and response.request.resource_type == "document"
    if response.status >= 400 and not page_refused:
        problems.append(f"{response.status} {response.url}")


def _failed(request: Any, problems: list[str]) -> None:
    """A failed resource is a problem, except one cancelled by the next navigation."""
    if "ERR_ABORTED" not in (request.failure or ""):
        problems.append(f"failed: {request.url} ({request.failure})")


@pytest.fixture
def strict_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """``strict_page(username, locale=..., offline=..., refused=...)``: a logged-in page in
    a fresh context; EVERY console error and every failed or 4xx/5xx resource fails the
    test (but the status ``refused`` of a page the test submits wrong on purpose), and with
    ``offline`` every request that does not go to the live server is aborted (and listed:
    none may be attempted)."""
    contexts: list[Any] = []
    problems: list[str] = []
    blocked: list[str] = []
    host = urlparse(live_server.url).netloc

    def _route(route: Any) -> None:
        url = route.request.url
        if urlparse(url).netloc == host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    def _open(
        username: str, *, locale: str = "en-GB", offline: bool = False, refused: int = 0
    ) -> Any:
        context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url,
                                      locale=locale, accept_downloads=True)  # fmt: skip
        contexts.append(context)
        if offline:
            context.route("**/*", _route)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda m: _console(m, problems, refused))
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("requestfailed", lambda r: _failed(r, problems))
        page.on("response", lambda r: _response(r, problems, refused))
        log_in(page, username)
        return page

    yield _open
    for context in contexts:
        context.close()
    assert blocked == [], f"requests that left the site: {blocked}"
    assert problems == [], f"console errors or failed resources: {problems}"


def test_form_labels_and_nothing_preselected(strict_page: Callable[..., Any]) -> None:
    page = strict_page("editor_a")
    page.goto("/patients/new")
    kmt2a = page.get_by_label("KMT2A status", exact=True)
    expect(kmt2a.locator("option")).to_have_text(
        ["— not entered —", *(label for _, label in choices("kmt2a"))]
    )
    assert "rearranged" not in kmt2a.locator("option").all_inner_texts()  # never the raw code
    values = page.locator("select").evaluate_all("all => all.map(s => [s.name, s.value])")
    assert values and all(value == "" for _, value in values), values
    assert page.get_by_label("Treatment protocol id").input_value() == ""
    expect(page.get_by_text("Derived from Day-8 peripheral blasts")).to_be_visible()


def test_dates_are_iso_with_an_en_us_browser(strict_page: Callable[..., Any]) -> None:
    page = strict_page("editor_a", locale="en-US")
    assert page.evaluate("navigator.language") == "en-US"
    page.goto("/patients/new")
    birth = page.get_by_label("Date of birth")
    expect(birth).to_have_attribute("type", "text")
    expect(birth).to_have_attribute("placeholder", "YYYY-MM-DD")
    page.get_by_label("Site-local code").fill("ISO-001")
    birth.fill("2025-01-10")
    page.get_by_label("Date of diagnosis").fill("2025-04-02")
    page.get_by_label("KMT2A status", exact=True).select_option(label="Germline")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status")).to_contain_text("Patient registered")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("2025-01-10")
    expect(facts).to_contain_text("2025-04-02")
    expect(facts).not_to_contain_text("1/10/2025")
    page.get_by_role("link", name="Correct / void").click()
    expect(page.get_by_label("Date of birth")).to_have_value("2025-01-10")


def test_every_import_problem_is_listed_and_downloadable(strict_page: Callable[..., Any]) -> None:
    page = strict_page("editor_a", refused=422)
    page.goto("/import")
    bad = (
        "record_id,redcap_repeat_instrument,birth_date,diagnosis_date,sex,wbc,kmt2a,"
        "event_kind,event_date\n"
        "MANY-1,,2024-05-01,2024-03-01,x,lots,maybe,,\n"
        "MANY-1,event,,,,,,death,2024-06-01\n"
    )
    page.get_by_label("CSV file").set_input_files(
        {"name": "many.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    page.get_by_role("button", name="Check and import").click()
    report = page.locator("#import-report")
    expect(report).to_contain_text("nothing was imported")
    codes = report.locator("table.report tbody tr td:last-child").all_inner_texts()
    assert sorted(codes) == sorted(["invalid_choice", "invalid_type", "invalid_choice",
                                    "diagnosis_before_birth", "patient_row_invalid"])  # fmt: skip
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the problems (CSV)").click()
    download = info.value
    assert download.suggested_filename == "many-problems.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert sorted(r["code"] for r in rows) == sorted(codes)
    assert {r["line"] for r in rows} == {"2", "3"}


def test_template_download(strict_page: Callable[..., Any]) -> None:
    page = strict_page("editor_a")
    page.goto("/import")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download an empty template CSV").click()
    header = Path(info.value.path()).read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == [v.name for v in DATA_DICTIONARY]


def test_voided_view(strict_page: Callable[..., Any], live_server: LiveServer) -> None:
    page = strict_page("editor_a")
    page.goto("/patients/new")
    page.get_by_label("Site-local code").fill("VOID-001")
    page.get_by_label("Date of birth").fill("2025-01-10")
    page.get_by_label("Date of diagnosis").fill("2025-04-02")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status")).to_contain_text("Patient registered")
    page.get_by_role("link", name="Correct / void").click()
    page.get_by_label("Reason for voiding").fill("registered twice by mistake")
    page.get_by_role("button", name="Void patient").click()
    expect(page.get_by_role("status")).to_contain_text("Record voided")
    page.get_by_role("link", name="Voided records").click()
    row = page.locator("table.voided-list tr", has_text="VOID-001")
    expect(row).to_contain_text("registered twice by mistake")
    # a coordinator reads the pooled view only: no voided-records list (403 pooled_only)


def test_api_docs_render_with_the_network_blocked(strict_page: Callable[..., Any]) -> None:
    page = strict_page("viewer_a", offline=True)
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("infantall registry")
    expect(page.locator(".opblock").first).to_be_visible()
    page.goto("/api/v1/redoc")
    # ReDoc lays out the whole schema before it shows anything: slow on a busy machine
    expect(page.locator("h1", has_text="infantall registry")).to_be_visible(timeout=30_000)


def test_no_console_error_on_any_page(strict_page: Callable[..., Any]) -> None:
    editor = strict_page("editor_a")
    pid = re.search(r"P-[0-9a-f]{16}", editor.locator("table.patients tbody a").first
                    .get_attribute("href") or "")  # fmt: skip
    assert pid is not None
    for path in ("/dashboard", "/dashboard?sort=wbc&order=desc&page=2", "/patients/new",
                 f"/patients/{pid.group(0)}", f"/patients/{pid.group(0)}/events",
                 f"/patients/{pid.group(0)}/edit", f"/patients/{pid.group(0)}/history",
                 "/import", "/patients/voided", "/api/v1/docs", "/api/v1/redoc"):  # fmt: skip
        editor.goto(path)
        editor.wait_for_load_state("networkidle")
    coordinator = strict_page("coord")
    for path in ("/coordinator", "/import"):  # the rest answers 403 pooled_only
        coordinator.goto(path)
        coordinator.wait_for_load_state("networkidle")
    admin = strict_page("admin")
    admin.goto("/admin")
    admin.wait_for_load_state("networkidle")
