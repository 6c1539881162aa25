"""A live registry server and a headless Chromium for the end-to-end page tests.

The app runs under uvicorn in a background thread on 127.0.0.1 (a free port) with a
temporary SQLite registry: two sites, one account per role, and a SYNTHETIC cohort
imported through the registry's CSV import. Chromium is Debian's (``apt-get install -y
chromium``); when it is missing the tests FAIL with that instruction (they never skip).
Screenshots are test artefacts in ``test-artifacts/screenshots`` (git-ignored); set
``INFANTALL_SCREENSHOT_DIR=docs/screenshots`` to refresh the committed pictures of the README.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infantall.registry.testing import SEED_PASSWORD

CHROMIUM = Path(os.environ.get("INFANTALL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO_ROOT = Path(__file__).resolve().parents[2]
#: A laptop screen.
VIEWPORT = {"width": 1366, "height": 860}
#: Synthetic patients imported before the tests (split over SITE-A and SITE-B).
COHORT_SIZE = 160
#: Failed logins that lock an account in these tests.
LOCKOUT_THRESHOLD = 3


@dataclass(frozen=True, slots=True)
class LiveServer:
    """The running app."""

    url: str
    settings: Any
    database: Any
    principals: dict[str, Any]
    loaded: Any


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where screenshots are saved (artefacts; the README's copies are in docs/screenshots)."""
    default = REPO_ROOT / "test-artifacts" / "screenshots"
    path = Path(os.environ.get("INFANTALL_SCREENSHOT_DIR", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The registry app served by uvicorn on 127.0.0.1 with a seeded SQLite database."""
    import uvicorn

    from infantall.registry.db import Database, upgrade_database
    from infantall.registry.testing import make_test_settings, seed_registry
    from infantall.services.demo import load_synthetic_cohort
    from infantall.web import create_app

    path = tmp_path_factory.mktemp("live") / "registry.db"
    # One server serves the whole browser suite, whose tests log in dozens of times a minute
    # from 127.0.0.1: the login rate limit (tested in tests/web) is raised for it.
    settings = make_test_settings(
        f"sqlite:///{path}",
        lockout_threshold=LOCKOUT_THRESHOLD,
        login_rate_per_ip="1000/minute",
        login_rate_per_account="1000/minute",
    )
    database = Database.from_settings(settings)
    upgrade_database(database.engine)
    principals = seed_registry(database, settings)
    loaded = load_synthetic_cohort(
        database,
        [("SITE-A", principals["editor_a"]), ("SITE-B", principals["editor_b"])],
        COHORT_SIZE,
        seed=7,
    )
    app = create_app(settings, database=database)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the registry server did not start on 127.0.0.1")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", settings, database, principals, loaded)
    server.should_exit = True
    thread.join(timeout=10)
    database.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never Playwright's own download)."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser tests need Debian's chromium "
            "(`apt-get install -y chromium`, as .ci/run does) or INFANTALL_CHROMIUM=<path>."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """A fresh browser context (own cookies); ``open_page(username)`` also logs in.

    Every page is watched for Content-Security-Policy violations and script errors; a test
    fails if any page it opened reported one.
    """
    contexts: list[Any] = []
    problems: list[str] = []

    def _open(username: str | None = None, next_path: str = "") -> Any:
        context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda msg: _console(msg, problems))
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        if username is not None:
            log_in(page, username, next_path=next_path)
        return page

    yield _open
    for context in contexts:
        context.close()
    assert problems == [], f"console errors or CSP violations: {problems}"


#: Chromium logs every 4xx navigation as a console error; those answers are what the tests
#: expect (422 for refused input, 404 for another site's patient), so they are not problems.
_HTTP_STATUS_NOTE = "Failed to load resource: the server responded with a status of"


def _console(msg: Any, problems: list[str]) -> None:
    if msg.type == "error" and not msg.text.startswith(_HTTP_STATUS_NOTE):
        problems.append(msg.text)


def log_in(page: Any, username: str, password: str = SEED_PASSWORD, next_path: str = "") -> None:
    """Fill and submit the login form (then go to ``next_path``, else the role's page)."""
    page.goto(f"/login?next={next_path}" if next_path else "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
