"""Sessions on the event loop (:mod:`infantall.registry.evented`): the same session classes,
hooks and row-level security as the threaded ones, one engine per running loop; writes on
the loop serialised per patient as the threaded ones are."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import event, select

from infantall.domain import Death
from infantall.registry.audit import verify_chain
from infantall.registry.db import Database, ReadSession
from infantall.registry.errors import NotFoundError, RegistryError
from infantall.registry.evented import EventedEngines, evented_engine, evented_session
from infantall.registry.events import add_event
from infantall.registry.histories import stored_history_problems
from infantall.registry.models import Event, Patient
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


def test_concurrent_deaths_on_one_loop_store_exactly_one(
    registry: Any, seeded: Any, backend: str
) -> None:
    """Writes on the event loop (``web.deps.run_write``) are serialised per patient as the
    threaded ones are (tests/registry/test_registry_serialised.py): six deaths sent at once
    from six sessions of one loop, each valid alone, store exactly one, and the audit rows
    of the concurrent writes still form one chain."""
    if backend != "postgresql":
        pytest.skip("the event loop's engine is PostgreSQL's")
    database: Database = registry[1]
    editor = seeded["editor_a"]
    with database.write_sessions() as s:
        pid = create_patient(s, editor, PatientCreate(
            local_code="EV-RACE", birth_date=dt.date(2024, 1, 1),
            diagnosis_date=dt.date(2024, 3, 1),
        )).registry_id  # fmt: skip
    n = 6

    async def fire() -> list[bool | BaseException]:
        engine = evented_engine(database, pool_size=n)
        assert engine is not None

        async def send(i: int) -> bool | BaseException:
            session = evented_session(engine, database.write_sessions)

            def work(s: Any) -> None:
                scope_session(s, editor)
                add_event(s, editor, pid, Death(date=dt.date(2024, 4, 1) + dt.timedelta(days=i)))

            try:
                await session.run_sync(work)
                return True
            except RegistryError:
                return False
            except BaseException as exc:  # surfaced below
                return exc
            finally:
                await session.close()

        try:
            return list(await asyncio.gather(*(send(i) for i in range(n))))
        finally:
            await engine.dispose()

    outcomes = _run(fire())
    assert [o for o in outcomes if not isinstance(o, bool)] == []
    assert outcomes.count(True) == 1
    with database.read_sessions() as s:
        kinds = s.scalars(select(Event.kind).join(Patient).where(Patient.registry_id == pid)).all()
        assert kinds.count("death") == 1
        assert stored_history_problems(s) == []
        assert verify_chain(s) == []
