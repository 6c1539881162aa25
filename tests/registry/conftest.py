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
    seed_registry,
)


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
