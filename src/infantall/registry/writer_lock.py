"""A cross-process writer lock for SQLite: writers queue in the kernel instead of sleeping.

SQLite admits one writer at a time. A writer that finds the database locked waits in
SQLite's busy handler, which polls with sleeps growing to 100 ms (sqlite.org,
``sqlite3_busy_timeout``): with two uvicorn processes writing, a write can sleep up to
100 ms after the lock is already free (the write p99 of the session-3 load test). So every
write connection of the registry takes an exclusive ``flock(2)`` on a lock file beside the database
(``<database>-writer.lock``) *before* ``BEGIN IMMEDIATE`` and drops it after ``COMMIT`` or
``ROLLBACK``: a waiting writer blocks in the kernel and wakes as soon as the holder
releases, in any process. SQLite's own locking still holds underneath (other programs
that do not take this lock are kept out by it as before), and nothing about durability or
the transaction changes: the lock only orders the writers before they ask SQLite.

Written by hand on purpose: the ``filelock`` package polls a non-blocking lock with sleeps
(``poll_interval``), which is the very wait this removes. ``flock`` locks belong to the
open file, so two connections of one process exclude each other too, and the kernel drops
a dead process's lock (a ``kill -9`` cannot leave the registry locked).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading

__all__ = ["WriterConnection", "lock_path_for", "writer_lock_supported"]

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - no flock on Windows: SQLite's busy handler alone, as before
    fcntl = None

#: Lock file -> the thread that took its lock in this process (at most one: the lock is
#: exclusive between the connections of a process too). A second write connection of that
#: same thread must not wait for the first (it would never wake): it goes straight to
#: SQLite, whose busy timeout answers "database is locked" as before. The lock may be
#: released from another thread (a FastAPI dependency can end in another worker thread).
_OWNERS: dict[str, int] = {}


def writer_lock_supported() -> bool:
    """Whether this platform has ``flock`` (not Windows)."""
    return fcntl is not None


def lock_path_for(database: str | None) -> str | None:
    """The lock file beside the SQLite file ``database`` (``None`` for an in-memory one)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}-writer.lock"


class WriterConnection(sqlite3.Connection):
    """A ``sqlite3`` connection whose ``BEGIN IMMEDIATE`` first takes the writer lock.

    Use :meth:`open_writer_lock` once after connecting, then :meth:`begin_immediate` for
    every write transaction; :meth:`commit`, :meth:`rollback` and :meth:`close` release it.
    """

    _lock_fd: int | None = None
    _lock_path: str | None = None
    _holding: bool = False

    def open_writer_lock(self, path: str) -> None:
        """Open (creating, mode 0600) the lock file ``path`` for this connection."""
        if fcntl is None or self._lock_fd is not None:
            return
        self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._lock_path = path

    def begin_immediate(self) -> None:
        """``BEGIN IMMEDIATE``, after waiting (without polling) for the writer lock."""
        self._acquire()
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def _acquire(self) -> None:
        if fcntl is None or self._lock_fd is None or self._holding:
            return
        path, me = str(self._lock_path), threading.get_ident()
        if _OWNERS.get(path) == me:
            return  # this thread already writes through another connection: see _OWNERS
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._holding = True
        _OWNERS[path] = me

    def _release(self) -> None:
        if not self._holding or fcntl is None or self._lock_fd is None:
            return
        self._holding = False
        _OWNERS.pop(str(self._lock_path), None)
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            if not self.in_transaction:
                self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __del__(self) -> None:  # a connection dropped without close() keeps no lock
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)
