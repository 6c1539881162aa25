"""Fixtures of the page tests: a fresh seeded SQLite registry per test and a logged-in
browser-like client (cookies, CSRF token read from the form it was served)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Starlette >= 1.0 prefers the `httpx2` package for its TestClient and warns once at import
# when it falls back to `httpx`, which the project pins; the client works the same.
with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from infantall.registry.db import Database
from infantall.registry.settings import RegistrySettings
from infantall.registry.testing import SEED_PASSWORD, DatabaseTemplates, seed_registry

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
def registry(
    tmp_path: Path, templates: DatabaseTemplates
) -> Iterator[tuple[RegistrySettings, Database]]:
    """Settings and a fresh, migrated SQLite database of this test's own."""
    with templates.database("sqlite", tmp_path, lockout_threshold=3) as pair:
        yield pair


@pytest.fixture
def app(registry: tuple[RegistrySettings, Database]) -> Any:
    """The web app (API + pages) on a seeded registry: SITE-A, SITE-B, one user per role."""
    from infantall.web import create_app

    settings, database = registry
    seed_registry(database, settings)
    return create_app(settings, database=database)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = CSRF.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """An anonymous client (cookies kept, redirects not followed)."""
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def login(app: Any) -> Iterator[Callable[[str], TestClient]]:
    """Log a seeded user in; returns a client holding the session and CSRF cookies."""
    clients: list[TestClient] = []

    def _login(username: str) -> TestClient:
        c = TestClient(app, follow_redirects=False)
        c.__enter__()
        clients.append(c)
        page = c.get("/login")
        r = c.post(
            "/login",
            data={
                "username": username,
                "password": SEED_PASSWORD,
                "csrf_token": csrf_of(page.text),
            },
        )
        assert r.status_code == 303, r.text
        return c

    yield _login
    for c in clients:
        c.__exit__(None, None, None)


def post_form(c: TestClient, page_url: str, action: str, data: dict[str, str]) -> Any:
    """GET a page, then POST ``data`` (with the page's CSRF token) to ``action``."""
    token = csrf_of(c.get(page_url).text)
    return c.post(action, data={**data, "csrf_token": token})
