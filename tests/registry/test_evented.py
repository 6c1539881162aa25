"""Sessions on the event loop (:mod:`infantall.registry.evented`): the same session classes,
hooks and row-level security as the threaded ones, one engine per running loop."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import event

from infantall.registry.db import Database, ReadSession
from infantall.registry.errors import NotFoundError
from infantall.registry.evented import EventedEngines, evented_engine, evented_session
from infantall.registry.patients import create_patient, get_patient
from infantall.registry.rls import scope_session
from infantall.registry.schemas import PatientCreate


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coro)`` in a thread of its own: in the whole suite the browser tests'
    Playwright (sync API) keeps an event loop running in the main thread, where
    ``asyncio.run`` is refused."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_each_loop_has_its_own_engine() -> None:
    engines = EventedEngines()
    first, second = object(), object()

    async def register(engine: Any) -> Any:
        engines.add(engine)
        mine = engines.current()
        assert engines.remove() is engine
        return mine

    async def none_here() -> Any:
        return engines.current()

    assert _run(register(first)) is first
    assert _run(register(second)) is second
    assert _run(none_here()) is None  # a loop that made none is served from threads
    assert engines.all() == []


def test_sqlite_has_no_evented_engine(registry: Any, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's case")
    assert evented_engine(registry[1], pool_size=2) is None


def test_an_evented_read_is_the_threaded_read(registry: Any, seeded: Any, backend: str) -> None:
    """Same class (so same hooks), same answer, same row-level security, ends with COMMIT."""
    if backend != "postgresql":
        pytest.skip("the event loop's engine is PostgreSQL's")
    database: Database = registry[1]
    editor, viewer_b = seeded["editor_a"], seeded["viewer_b"]
    with database.write_sessions() as s:
        pid = create_patient(s, editor, PatientCreate(
            local_code="EV-1", birth_date=dt.date(2024, 1, 1), diagnosis_date=dt.date(2024, 3, 1)
        )).registry_id  # fmt: skip

    async def read(principal: Any) -> tuple[Any, list[str], bool]:
        engine = evented_engine(database, pool_size=2)
        assert engine is not None
        seen: list[str] = []
        event.listen(engine.sync_engine, "commit", lambda _c: seen.append("COMMIT"))
        event.listen(engine.sync_engine, "rollback", lambda _c: seen.append("ROLLBACK"))
        session = evented_session(engine, database.read_sessions)
        is_read_class = isinstance(session.sync_session, database.read_sessions.class_)
        assert isinstance(session.sync_session, ReadSession)

        def work(s: Any) -> Any:
            scope_session(s, principal)
            try:
                return get_patient(s, principal, pid)
            except NotFoundError as exc:
                return exc

        try:
            answer = await session.run_sync(work)
        finally:
            await session.close()
            await engine.dispose()
        return answer, seen, is_read_class

    with database.read_sessions() as s:
        threaded = get_patient(s, editor, pid)
    answer, seen, is_read_class = _run(read(editor))
    assert is_read_class and answer == threaded and seen == ["COMMIT"]
    refused, _, _ = _run(read(viewer_b))  # another site's viewer: not in its scope
    assert isinstance(refused, NotFoundError)
