"""The served app (``infantall serve``'s uvicorn factory) freezes its start-up objects out of
the garbage collector: a full collection of them stalled each worker about 100-200 ms under
load, the write p99 of ``benchmarks/registry_load.py``. Apps built in-process (tests, demo)
do not freeze. ``infantall serve`` runs this factory: tests/registry/test_registry_cli.py."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from infantall.registry.testing import DatabaseTemplates


@pytest.fixture
def served_env(
    tmp_path: Path, templates: DatabaseTemplates, monkeypatch: pytest.MonkeyPatch
) -> Any:
    with templates.database("sqlite", tmp_path) as (settings, database):
        database.dispose()
        monkeypatch.setenv("INFANTALL_ENVIRONMENT", "development")
        monkeypatch.setenv("INFANTALL_DATABASE_URL", settings.database_url)
        yield settings


def test_serve_app_freezes_the_startup_objects(served_env: Any) -> None:
    from infantall.web.app import create_app, serve_app

    gc.unfreeze()
    try:
        app = serve_app()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the package, its libraries and the app
        app.state.database.dispose()
        gc.unfreeze()
        create_app().state.database.dispose()  # built in-process: nothing frozen
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
