"""Shared fixtures of the whole suite.

Texts outside the repository are reached only through documented variables:
``INFANTALL_SEEDS_DIR`` (the seed review articles, default ``../shared/seeds`` beside the clone)
and ``INFANTALL_RESEARCH_DIR`` (the research notes, default ``../shared/research``). A bare
clone has neither: the tests that read them are skipped with one clear reason. CI sets
``INFANTALL_REQUIRE_SHARED=1`` (``.ci/run``), which turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = Path(os.environ.get("INFANTALL_SEEDS_DIR", REPO_ROOT.parent / "shared" / "seeds"))
RESEARCH_DIR = Path(
    os.environ.get("INFANTALL_RESEARCH_DIR", REPO_ROOT.parent / "shared" / "research")
)


def shared_dir(path: Path, variable: str, what: str) -> Path:
    """``path`` when it is a folder; otherwise skip (bare clone) or fail (CI requires it)."""
    if path.is_dir():
        return path
    message = f"{what} not found at {path} (set {variable}); a bare clone has none"
    if os.environ.get("INFANTALL_REQUIRE_SHARED") == "1":
        pytest.fail(message + ", and INFANTALL_REQUIRE_SHARED=1 forbids skipping")
    pytest.skip(message)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The folder of the two seed review articles (``INFANTALL_SEEDS_DIR``)."""
    return shared_dir(SEEDS_DIR, "INFANTALL_SEEDS_DIR", "seed articles")


@pytest.fixture(scope="session")
def research_dir() -> Path:
    """The folder of the research notes (``INFANTALL_RESEARCH_DIR``)."""
    return shared_dir(RESEARCH_DIR, "INFANTALL_RESEARCH_DIR", "research notes")


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
