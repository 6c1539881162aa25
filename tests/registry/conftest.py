"""Fixtures of the registry tests: every test runs on SQLite and on PostgreSQL, each with
a fresh database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infantall.registry.db import Database
from infantall.registry.settings import RegistrySettings
from infantall.registry.testing import (
    DatabaseTemplates,
    postgres_unavailable_reason,
    seed_registry,
)

_PG_REASON: list[str | None] = []


def _pg_reason() -> str | None:
    if not _PG_REASON:
        _PG_REASON.append(postgres_unavailable_reason())
    return _PG_REASON[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this run of the test."""
    if request.param == "postgresql" and (reason := _pg_reason()) is not None:
        pytest.skip(reason)
    return str(request.param)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTemplates]:
    """Migrated template databases, copied for each test."""
    factory = DatabaseTemplates(tmp_path_factory.mktemp("templates"))
    yield factory
    factory.close()


@pytest.fixture
def registry(
    backend: str, tmp_path: Path, templates: DatabaseTemplates
) -> Iterator[tuple[RegistrySettings, Database]]:
    """Settings and a fresh, migrated database of this test's own."""
    with templates.database(backend, tmp_path) as pair:
        yield pair


@pytest.fixture
def seeded(registry: tuple[RegistrySettings, Database]) -> dict[str, Any]:
    """Two sites and one account per role (username -> Principal)."""
    settings, database = registry
    return seed_registry(database, settings)
