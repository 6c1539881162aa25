"""The audit trail's hash chain: its table, the canonical serialisation of a row, and the
session hooks that link every audit row at commit (re-exported by
:mod:`infantall.registry.audit`, which documents the chain and verifies it).

Rows reach the chain three ways: ORM rows (:func:`infantall.registry.audit.record`) when
flushed, Core rows (:func:`record_many`) when inserted, and rows deferred to the commit
(:func:`record_at_commit`). On PostgreSQL a transaction whose only audit row is deferred
inserts it and its link in one statement at commit, one round trip fewer on every
single-event write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    String,
    Table,
    bindparam,
    event,
    insert,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from infantall.registry.models import AuditEntry, Base, JSONType, UTCDateTime

__all__ = [
    "AUDIT_CHAIN",
    "CHAINED_COLUMNS",
    "GENESIS_HASH",
    "SQLITE_SHA256",
    "canonical_row",
    "chain_new_entries",
    "insert_linked_postgresql",
    "insert_unchained",
    "install_chain",
    "link_hash",
    "record_at_commit",
    "record_many",
    "sha256_hex",
]

_ID = BigInteger().with_variant(Integer(), "sqlite")
#: One link per audit row (created by migration 0002; append-only like ``audit_log``).
AUDIT_CHAIN = Table(
    "audit_chain",
    Base.metadata,
    Column("seq", _ID, primary_key=True, autoincrement=False),
    Column("audit_id", _ID, nullable=False, unique=True),
    Column("day", Date(), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
)
#: The ``prev_hash`` of the first link.
GENESIS_HASH = "0" * 64
#: Columns of an audit row that its hash covers (all of them).
CHAINED_COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_username",
    "actor_role",
    "actor_site_id",
    "action",
    "entity",
    "entity_id",
    "site_id",
    "old",
    "new",
    "reason",
    "channel",
)
#: Key of the PostgreSQL advisory lock that serialises appends to the chain.
_CHAIN_LOCK = 7_311_402_614
_PENDING = "infantall_audit_rows_to_chain"
#: Audit rows not yet inserted: :func:`record_at_commit` defers them to the commit hook.
_DEFERRED = "infantall_audit_rows_at_commit"
#: SQLite has no SHA-256: every connection of the registry's engines gets this function
#: (:func:`infantall.registry.db.make_engine`), so a link is hashed inside its INSERT.
SQLITE_SHA256 = "infantall_sha256"
# SQLite: one statement per link reads the tail, hashes and inserts (the one writer holds
# the database, so nothing moves in between), as driver SQL: no compilation in every audited
# write's critical section. The day is the ISO text SQLAlchemy's Date stores on SQLite.
_SQLITE_LINK_SQL = f"""
INSERT INTO audit_chain (seq, audit_id, day, prev_hash, row_hash)
SELECT coalesce(t.seq, 0) + 1, ?, ?, coalesce(t.row_hash, '{GENESIS_HASH}'),
    {SQLITE_SHA256}(coalesce(t.row_hash, '{GENESIS_HASH}') || char(10) || ?)
FROM (SELECT 1) AS one
LEFT JOIN (SELECT seq, row_hash FROM audit_chain ORDER BY seq DESC LIMIT 1) AS t ON 1"""
_PG_NEXT_IDS = (
    "SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) FROM generate_series(1, %(n)s)"
)


def _utc_iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # stored UTC without zone (SQLite text)
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    return value


def canonical_row(row: Mapping[str, Any]) -> str:
    """The canonical serialisation of an audit row: compact JSON, sorted keys, UTC times."""
    values = {name: _utc_iso(row.get(name)) for name in CHAINED_COLUMNS}
    return _CANONICAL_JSON.encode(values)


#: ``json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, made
#: once: ``json.dumps`` with any option builds a new encoder on every call.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the previous link's hash and the row's canonical serialisation."""
    return sha256_hex(prev_hash + "\n" + canonical_row(row))


def sha256_hex(text: str) -> str:
    """SHA-256 (hex) of ``text`` in UTF-8: the hash of :func:`link_hash`, and on SQLite the
    SQL function :data:`SQLITE_SHA256` (``prev || char(10) || canonical``, the same payload)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _row_of(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in CHAINED_COLUMNS}


def _collect(session: Session, _flush_context: Any = None) -> None:
    """``after_flush``: remember the audit rows this flush inserted (no SQL here)."""
    rows = [_row_of(obj) for obj in session.new if isinstance(obj, AuditEntry)]
    if rows:
        session.info.setdefault(_PENDING, []).extend(rows)


def _discard(session: Session, *_: Any) -> None:
    """``after_rollback``: rolled-back audit rows are not chained."""
    session.info.pop(_PENDING, None)


def _drop_deferred(session: Session, previous: SessionTransaction) -> None:
    """``after_soft_rollback`` of the outermost transaction: deferred rows are not inserted
    (this fires even when the transaction had not reached the database yet)."""
    if previous.parent is None:
        session.info.pop(_DEFERRED, None)


# PostgreSQL: lock, read the tail, hash and insert every link in ONE statement (one round
# trip fewer under the chain lock than "read the tail, then insert"). The tail comes from the
# VOLATILE function audit_chain_tail, which takes the advisory lock and then reads with a new
# snapshot, so it sees every link committed before the lock. Each link's hash is computed by
# PostgreSQL from the canonical serialisation made here (:func:`canonical_row`), with
# exactly :func:`link_hash`'s formula: SHA-256 hex of ``prev_hash || '\n' || canonical`` in
# UTF-8; verify_chain recomputes it in Python. The arrays go in binary (``%(...)b``): in
# text format psycopg escapes every element's quotes and backslashes one by one (0.25 ms per
# write for one canonical row, measured with cProfile).
# The links of ``rows`` (audit_id, day, canonical, k = 1, 2, ... in chain order) after the
# locked ``tail``, hashed one after another by a recursive CTE: the end of both statements.
_PG_LINK_ROWS = f"""tail AS MATERIALIZED (
    SELECT seq, row_hash FROM audit_chain_tail({_CHAIN_LOCK})
), links(k, seq, audit_id, day, prev_hash, row_hash) AS (
    SELECT 0::bigint, coalesce((SELECT seq FROM tail), 0)::bigint, NULL::bigint, NULL::date,
           NULL::varchar, coalesce((SELECT row_hash FROM tail), '{GENESIS_HASH}')::varchar
    UNION ALL
    SELECT r.k, l.seq + 1, r.audit_id, r.day, l.row_hash,
           encode(sha256(convert_to(l.row_hash || E'\\n' || r.canonical, 'UTF8')), 'hex')::varchar
    FROM links l JOIN rows r ON r.k = l.k + 1
)
INSERT INTO audit_chain (seq, audit_id, day, prev_hash, row_hash)
SELECT seq, audit_id, day, prev_hash, row_hash FROM links WHERE k > 0 ORDER BY k
"""
_PG_APPEND = f"""
WITH RECURSIVE rows AS (
    SELECT r.audit_id, r.day, r.canonical, r.k
    FROM unnest(%(ids)b::bigint[], %(days)b::date[], %(canonicals)b::text[])
        WITH ORDINALITY AS r(audit_id, day, canonical, k)
), {_PG_LINK_ROWS}"""


def _append_postgresql(session: Session, rows: list[dict[str, Any]]) -> None:
    params = {
        "ids": [int(row["id"]) for row in rows],
        "days": [row["at"].astimezone(dt.UTC).date() for row in rows],
        "canonicals": [canonical_row(row) for row in rows],
    }
    session.connection().exec_driver_sql(_PG_APPEND, params)


def chain_new_entries(session: Session) -> None:
    """``before_commit``: append a chain link for every audit row of the transaction.

    The chain is locked (PostgreSQL: advisory lock) only from here to the commit, so a long
    transaction (an import) does not hold up other sites' audited writes while it runs.
    Rows deferred by :func:`record_at_commit` are inserted here: on PostgreSQL a lone one
    together with its link (:func:`_insert_and_link_postgresql`), else as :func:`record_many`.
    """
    session.flush()
    deferred = session.info.pop(_DEFERRED, [])
    postgresql = session.connection().dialect.name == "postgresql"
    if postgresql and len(deferred) == 1 and not session.info.get(_PENDING):
        _insert_and_link_postgresql(session, deferred[0])
        return
    if deferred:
        record_many(session, deferred)
    rows = sorted(session.info.pop(_PENDING, []), key=lambda r: int(r["id"]))
    if not rows:
        return
    if postgresql:
        _append_postgresql(session, rows)
        return
    _append_sqlite(session, rows)


def _append_sqlite(session: Session, rows: list[dict[str, Any]]) -> None:
    """Link ``rows`` in id order, one statement each (executed in order, each after the
    link before it)."""
    params = [
        (int(row["id"]), row["at"].astimezone(dt.UTC).date().isoformat(), canonical_row(row))
        for row in rows
    ]
    # The DBAPI cursor of the session's own connection (same transaction): SQLAlchemy's
    # execution context around driver SQL cost about a third of a link's CPU here, and
    # this statement needs none of it (no result, no type processing).
    cursor = session.connection().connection.cursor()
    try:
        cursor.executemany(_SQLITE_LINK_SQL, params)
    finally:
        cursor.close()


def record_at_commit(session: Session, row: dict[str, Any]) -> None:
    """Queue one audit row (from :func:`infantall.registry.audit.audit_row`) to be inserted
    and chained when ``session`` commits (the last thing a write does); a rollback drops it.
    It has no id until then."""
    if not session.in_transaction():  # so that a rollback, even before any SQL, drops it
        session.begin()
    session.info.setdefault(_DEFERRED, []).append(row)


def insert_unchained(session: Session) -> None:
    """Insert the rows deferred to the commit, and link none: what a session without
    :func:`install_chain`'s hooks needs before it commits (the baseline of the chain-cost
    benchmark, ``benchmarks/import_load.py --chain-cost``)."""
    rows = session.info.pop(_DEFERRED, [])
    if rows:
        record_many(session, rows)
    session.info.pop(_PENDING, None)


#: The marker that :func:`_around_id` splits a canonical serialisation at.
_ID_MARK = -1


def _around_id(row: Mapping[str, Any]) -> tuple[str, str]:
    """:func:`canonical_row` of ``row`` before and after the value of its ``id``, which the
    database assigns: ``head + str(id) + tail`` is the canonical row. The top-level ``"id"``
    is the first one (sorted keys: only scalar values come before it), and JSON writes an
    integer as PostgreSQL's ``bigint::text`` does (plain decimal digits)."""
    marked = canonical_row({**row, "id": _ID_MARK})
    head, found, tail = marked.partition(f',"id":{_ID_MARK},')
    if not found:  # pragma: no cover - the canonical form always has the key
        raise AssertionError("canonical row without its id")
    return head + ',"id":', "," + tail


_INSERTED = [c for c in CHAINED_COLUMNS if c != "id"]
# PostgreSQL: insert a lone audit row and link it in ONE statement (at commit, under the
# chain lock, as _PG_APPEND): the row gets its id from the sequence in the data-modifying
# CTE, and the server hashes head || id || tail, the canonical row (_around_id).
_PG_INSERT_AND_LINK = text(
    f"""
WITH ins AS (
    INSERT INTO audit_log ({", ".join(_INSERTED)})
    VALUES ({", ".join(":" + c for c in _INSERTED)})
    RETURNING id
)
INSERT INTO audit_chain (seq, audit_id, day, prev_hash, row_hash)
SELECT coalesce(t.seq, 0) + 1, ins.id, :day, coalesce(t.row_hash, '{GENESIS_HASH}'),
    encode(sha256(convert_to(coalesce(t.row_hash, '{GENESIS_HASH}') || E'\\n' || :head
        || CAST(ins.id AS text) || :tail, 'UTF8')), 'hex')
FROM ins LEFT JOIN audit_chain_tail({_CHAIN_LOCK}) AS t ON true
RETURNING audit_id"""
).bindparams(
    bindparam("at", type_=UTCDateTime()),
    bindparam("old", type_=JSONType),
    bindparam("new", type_=JSONType),
    bindparam("day", type_=Date()),
    bindparam("head", type_=String()),
    bindparam("tail", type_=String()),
)


def _insert_and_link_postgresql(session: Session, row: dict[str, Any]) -> int:
    head, tail = _around_id(row)
    params = {c: row.get(c) for c in _INSERTED}
    params.update(day=row["at"].astimezone(dt.UTC).date(), head=head, tail=tail)
    return int(session.connection().execute(_PG_INSERT_AND_LINK, params).scalar_one())


def install_chain(sessions: sessionmaker[Session]) -> None:
    """Chain every audit row written through ``sessions`` (flush, rollback and commit
    hooks); :func:`infantall.registry.db.make_sessionmaker` installs it."""
    event.listen(sessions, "after_flush", _collect)
    event.listen(sessions, "after_rollback", _discard)
    event.listen(sessions, "after_soft_rollback", _drop_deferred)
    event.listen(sessions, "before_commit", chain_new_entries)


def record_many(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert audit rows (from :func:`audit_row`) with one Core insert; their ids.

    No ORM object per row: the rows are queued for :func:`chain_new_entries` exactly as
    :func:`_collect` queues flushed ORM rows, so they are chained at commit, in id order,
    under the same chain lock, with the same hashes. PostgreSQL: one row is one
    ``INSERT ... RETURNING id``; for more, the ids come from the sequence first and the rows
    go as one executemany (psycopg pipelines it); SQLite: one ``INSERT ... RETURNING id``
    (insertmanyvalues).
    """
    if not rows:
        return []
    session.flush()  # ORM rows added before these get their (lower) ids first
    conn, table = session.connection(), cast(Table, AuditEntry.__table__)
    if conn.dialect.name == "postgresql" and len(rows) == 1:  # one round trip, not two
        ids = [int(conn.execute(insert(table).returning(table.c.id), rows[0]).scalar_one())]
        rows = [{**rows[0], "id": ids[0]}]
    elif conn.dialect.name == "postgresql":
        ids = [int(i) for (i,) in conn.exec_driver_sql(_PG_NEXT_IDS, {"n": len(rows)})]
        rows = [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        conn.execute(insert(table), rows)
    else:
        returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = [int(i) for i in conn.execute(returning, rows).scalars()]
        rows = [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
    session.info.setdefault(_PENDING, []).extend(rows)
    return ids


#: Column types of the audit row arrays of :data:`_PG_INSERT_LINKED` (JSON goes as text).
_ARRAY_TYPES = {
    "at": "timestamptz",
    "actor_id": "integer",
    "actor_username": "text",
    "actor_role": "text",
    "actor_site_id": "integer",
    "action": "text",
    "entity": "text",
    "entity_id": "text",
    "site_id": "integer",
    "old": "text",
    "new": "text",
    "reason": "text",
    "channel": "text",
}
_JSON_COLUMNS = frozenset({"old", "new"})
# PostgreSQL: insert a batch of audit rows AND link them in ONE statement, which on its own
# (autocommit) is the whole transaction: one round trip where a session takes five (BEGIN,
# the ids, the rows, the links, COMMIT). The rows take ids from the sequence in the CTE;
# the links are hashed by the server, in id order, from head || id || tail (_around_id),
# under the chain lock (audit_chain_tail), by the recursion of _PG_LINK_ROWS. The arrays go in
# binary; JSON values as their text (json.dumps, as SQLAlchemy's JSON type binds them).
_PG_INSERT_LINKED = f"""
WITH RECURSIVE input AS MATERIALIZED (
    SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) AS id, r.*
    FROM unnest({", ".join(f"%({c})b::{t}[]" for c, t in _ARRAY_TYPES.items())},
                %(heads)b::text[], %(tails)b::text[])
        AS r({", ".join(_ARRAY_TYPES)}, head, tail)
), ins AS (
    INSERT INTO audit_log (id, {", ".join(_ARRAY_TYPES)})
    SELECT id, {", ".join(f"{c}::jsonb" if c in _JSON_COLUMNS else c for c in _ARRAY_TYPES)}
    FROM input
), rows AS (
    SELECT id AS audit_id, (at AT TIME ZONE 'UTC')::date AS day,
           head || CAST(id AS text) || tail AS canonical,
           row_number() OVER (ORDER BY id) AS k
    FROM input
), {_PG_LINK_ROWS}RETURNING audit_id
"""


def insert_linked_postgresql(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert audit rows (from :func:`infantall.registry.audit.audit_row`) and their chain
    links with one statement (:data:`_PG_INSERT_LINKED`); their ids.

    ``connection`` must be in autocommit, or in a transaction that commits right after: the
    statement takes the chain lock, held to the end of its transaction. Nothing is queued on
    a session: the links are made here, with the same hashes as :func:`chain_new_entries`'.
    """
    params: dict[str, Any] = {c: [] for c in (*_ARRAY_TYPES, "heads", "tails")}
    for row in rows:
        for column in _ARRAY_TYPES:
            value = row.get(column)
            params[column].append(_JSON_TEXT.encode(value) if column in _JSON_COLUMNS else value)
        head, tail = _around_id(row)
        params["heads"].append(head)
        params["tails"].append(tail)
    result = connection.exec_driver_sql(_PG_INSERT_LINKED, params)
    return sorted(int(i) for (i,) in result)


#: JSON text of a ``jsonb`` value, as SQLAlchemy's JSON type binds it (``json.dumps``).
_JSON_TEXT = json.JSONEncoder()
