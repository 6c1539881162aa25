"""Shared fixtures of the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO_ROOT.parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The folder of the two seed review articles (../shared/seeds beside the clone)."""
    if not SEEDS_DIR.is_dir():
        pytest.fail(f"seed articles not found at {SEEDS_DIR}; CI clones shared/ beside main")
    return SEEDS_DIR


# --- registry databases, shared by tests/registry, tests/web and tests/pages -------------------
# (imported lazily: the registry pulls in SQLAlchemy, which the other parts' tests do not need)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this run of the test (every registry test runs on both)."""
    if request.param == "postgresql":
        from infantall.registry.testing import require_postgres

        require_postgres()
    return str(request.param)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Migrated template databases (``DatabaseTemplates``), copied for each test."""
    from infantall.registry.testing import DatabaseTemplates

    factory = DatabaseTemplates(tmp_path_factory.mktemp("templates"))
    yield factory
    factory.close()
