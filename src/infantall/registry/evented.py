"""PostgreSQL sessions that do their I/O on the web app's event loop, not in a thread.

The web app answers a read from a thread of the pool: the token check in one thread, the
query and its ``COMMIT`` in another, the read's audit row in a third. Each hop wakes a pool
thread and hands the GIL back and forth, and on PostgreSQL those hops cost more of the
server's CPU than the registry's own code. SQLAlchemy's asyncio extension runs the very same
synchronous code (the services, :func:`~infantall.registry.auth.authenticate`, the audit
chain's hooks) in a greenlet on the event loop, each query awaited on psycopg's async
connection: :meth:`AsyncSession.run_sync`. Nothing about the queries, the row-level-security
scope, the chain or how a read ends (:class:`~infantall.registry.read_session.ReadSession`)
changes: the sessions are of the same classes as :class:`~infantall.registry.db.Database`'s,
with the same engine hooks. Measured by ``benchmarks/pg_evented.py``.

SQLite gets no engine here: its asyncio driver (aiosqlite) runs each connection in a thread
of its own, the hop this module avoids, and its reads already run on the event loop
(:func:`infantall.web.deps.inline_reads`).
"""

from __future__ import annotations

import asyncio
import weakref

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from infantall.registry.db import Database, ping_after_idle
from infantall.registry.read_session import track_writes

__all__ = ["EventedEngines", "evented_engine", "evented_session"]


def evented_engine(database: Database, pool_size: int) -> AsyncEngine | None:
    """An asyncio engine on ``database``'s PostgreSQL server (``None`` on SQLite), with the
    pool's idle ping and the write tracking of reader sessions. Create it in the event loop
    that will use it (its pool's connections belong to that loop) and ``await
    engine.dispose()`` there."""
    url: URL = database.engine.url
    if url.get_backend_name() != "postgresql":
        return None
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
    ping_after_idle(engine.sync_engine)
    track_writes(engine.sync_engine)
    return engine


def evented_session(engine: AsyncEngine, sessions: sessionmaker[Session]) -> AsyncSession:
    """An :class:`AsyncSession` on ``engine`` whose synchronous session is of ``sessions``'
    class, so it carries that sessionmaker's hooks (the audit chain, the row-level-security
    scope) and, for reader sessions, ends a clean read with ``COMMIT``."""
    return AsyncSession(bind=engine, sync_session_class=sessions.class_, expire_on_commit=False)


class EventedEngines:
    """The asyncio engine of each running event loop of an app (a pool's connections belong
    to the loop that opened them): one per worker when served; tests may drive one app from
    several loops. A loop without an engine has its reads served from threads as before."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncEngine] = (
            weakref.WeakKeyDictionary()
        )

    def add(self, engine: AsyncEngine) -> None:
        """``engine`` serves the running loop."""
        self._by_loop[asyncio.get_running_loop()] = engine

    def remove(self) -> AsyncEngine | None:
        """Forget the running loop's engine (the caller disposes it)."""
        return self._by_loop.pop(asyncio.get_running_loop(), None)

    def all(self) -> list[AsyncEngine]:
        """Every loop's engine."""
        return list(self._by_loop.values())

    def current(self) -> AsyncEngine | None:
        """The running loop's engine, if it has one."""
        if not self._by_loop:
            return None
        return self._by_loop.get(asyncio.get_running_loop())
