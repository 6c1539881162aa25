"""How a PostgreSQL reader session ends: with ``COMMIT`` when it only read.

psycopg forgets every prepared statement of a connection at ``ROLLBACK`` (and deallocates
them on the server: a round trip), and ``Session.close()`` ends a transaction with
``ROLLBACK``. Reads share the pool with writes on PostgreSQL, so closing every read that way
meant no statement was ever prepared: the server parsed and planned each query of each
request. :class:`ReadSession` (the reader sessions of
:func:`infantall.registry.db.make_sessionmaker` on PostgreSQL) ends a transaction that only
read with ``COMMIT``, to the same effect; :func:`track_writes` marks a connection's
transaction once it runs anything but a ``SELECT``, and such a transaction is rolled back.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, event, exc
from sqlalchemy.orm import Session

__all__ = ["ReadSession", "end_read", "track_writes"]

#: ``Connection.info`` key: the connection's transaction has run a statement that may write.
_WROTE = "infantall_may_have_written"
#: Statements that cannot write by themselves (as the registry uses them; a data-modifying
#: CTE begins with ``WITH`` and counts as a write).
_READ_ONLY_STATEMENT = re.compile(r"\s*SELECT\b", re.IGNORECASE)


def _read_only(statement: str) -> bool:
    """A ``SELECT`` whose ``set_config`` calls, if any, are all local to the transaction
    (``set_config(..., true)``, as row-level security sets its scope): a session-level one
    would outlive a committed read on the pooled connection, so it counts as a write."""
    if not _READ_ONLY_STATEMENT.match(statement):
        return False
    calls = statement.count("set_config(")
    return calls == 0 or calls == statement.count(", true)")


def track_writes(engine: Engine) -> None:
    """Mark a connection's transaction once it runs anything but a ``SELECT`` (an ORM flush,
    a Core or text statement, a SAVEPOINT), until its ``COMMIT`` or ``ROLLBACK``."""
    if event.contains(engine, "before_cursor_execute", _mark_write):
        return
    event.listen(engine, "before_cursor_execute", _mark_write)
    event.listen(engine, "commit", _forget_write)
    event.listen(engine, "rollback", _forget_write)


def _mark_write(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    if _WROTE not in conn.info and not _read_only(statement):
        conn.info[_WROTE] = True


def _forget_write(conn: Any) -> None:
    if not conn.invalidated:  # an invalidated connection is discarded, with its info
        conn.info.pop(_WROTE, None)


def end_read(session: Session) -> None:
    """End a reader session: commit a clean PostgreSQL read transaction, then close.

    Measured by ``benchmarks/pg_read_cpu.py`` (both endings, one connection, one run): 0.43
    ms of PostgreSQL CPU per patient read with ``ROLLBACK``, 0.16 ms with ``COMMIT``. Rolled
    back, as before: a transaction that ran any statement but a read-only ``SELECT``
    (:func:`_read_only`), one with unflushed changes, one the server has aborted (an error) or
    whose connection was lost, and every SQLite session (the sqlite3 module keeps its own
    statement cache).
    """
    try:
        if _clean_read(session):
            session.commit()
    finally:
        Session.close(session)


class ReadSession(Session):
    """A PostgreSQL reader session: :meth:`close` ends a clean read with ``COMMIT``
    (:func:`end_read`), so that the connection keeps its prepared statements."""

    def close(self) -> None:
        end_read(self)


def _clean_read(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return False
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active:  # none, or failed: roll back
        return False
    if session.new or session.dirty or session.deleted:
        return False
    try:
        connection = session.connection()
    except exc.SQLAlchemyError:  # e.g. the connection was lost: roll back
        return False
    if connection.invalidated or connection.info.get(_WROTE):
        return False
    from psycopg.pq import TransactionStatus  # the PostgreSQL driver (only reached there)

    dbapi = connection.connection.dbapi_connection
    status = None if dbapi is None else dbapi.info.transaction_status
    return status == TransactionStatus.INTRANS  # not INERROR: a failed statement rolls back
