"""Fixtures of the web API tests: every test runs on SQLite and on PostgreSQL, each with
a fresh database of its own."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Starlette >= 1.0 prefers the `httpx2` package for its TestClient and warns (once, at import)
# when it falls back to `httpx`, which the project pins; the client works the same, so that
# one import-time deprecation warning is silenced here rather than adding a dependency.
with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from infantall.registry.db import Database
from infantall.registry.settings import RegistrySettings
from infantall.registry.testing import (
    DatabaseTemplates,
)


@pytest.fixture
def registry(
    backend: str, tmp_path: Path, templates: DatabaseTemplates
) -> Iterator[tuple[RegistrySettings, Database]]:
    """Settings and a fresh, migrated and seeded database of this test's own (a copy)."""
    with templates.database(backend, tmp_path, seeded=True) as pair:
        yield pair


@pytest.fixture
def seeded(registry: Any, templates: DatabaseTemplates, backend: str) -> dict[str, Any]:
    """Two sites and one account per role, already in the copy (username -> Principal)."""
    return dict(templates.seeds[backend][0])


@pytest.fixture
def app(registry: tuple[RegistrySettings, Database], seeded: dict[str, Any]) -> Any:
    """The web app on the test database (seeded)."""
    from infantall.web import create_app

    settings, database = registry
    return create_app(settings, database=database)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    """A test client of the app."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tokens(client: Any, templates: DatabaseTemplates, backend: str) -> dict[str, str]:
    """A bearer token per seeded account (issued in the seeded template)."""
    return dict(templates.seeds[backend][1])


@pytest.fixture
def auth(tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """Authorization headers per seeded account."""
    return {u: {"Authorization": f"Bearer {t}"} for u, t in tokens.items()}
