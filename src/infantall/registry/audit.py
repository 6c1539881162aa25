"""The append-only audit trail: one row per write, security events, replay, and a hash chain.

Each data change stores the full new state of the record (and the old one), so the trail
alone rebuilds the current data (:func:`replay`), which REDCap promises of its log ("full
record history can be tracked and reassembled") and 21 CFR 11.10(e) requires ("changes
shall not obscure previously recorded information").

Tamper evidence: every audit row gets a link in ``audit_chain`` (written in the same
transaction just before it commits, by :func:`chain_new_entries`, one of the session hooks
that :func:`install_chain` adds in :func:`infantall.registry.db.make_sessionmaker`):
position ``seq``, the SHA-256 of the previous link and of the row's canonical serialisation
(:func:`canonical_row`: sorted keys, UTC ISO times, compact JSON). Appends are serialised
(SQLite: the one writer; PostgreSQL: a transaction-scoped advisory lock), so the chain is a
total order. On PostgreSQL one statement takes the lock, reads the tail and inserts the
links (hashed by the server with the same formula), so the lock is held for one round
trip and the commit. Rows inserted without ORM objects (:func:`record_many`, imports) are
queued for the same hook. :func:`verify_chain` recomputes it and names every changed, replaced,
inserted or missing row by id; :func:`daily_anchors` gives the last hash of each UTC day, to publish
outside the database (a rewrite of the whole chain then no longer matches the published
anchors).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    String,
    Table,
    event,
    insert,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from infantall.registry.access import Principal
from infantall.registry.jsonnum import jsonb_stable
from infantall.registry.models import (
    AuditEntry,
    Base,
    Event,
    Patient,
    RiskAssignment,
    Site,
    User,
    utcnow,
)
from infantall.registry.snapshots import row_snapshot, snapshot

__all__ = [
    "AUDIT_CHAIN",
    "DATA_ACTIONS",
    "ENTITY_MODELS",
    "GENESIS_HASH",
    "ChainProblem",
    "DailyAnchor",
    "audit_entries",
    "audit_row",
    "canonical_row",
    "chain_new_entries",
    "compare_anchors",
    "current_state",
    "daily_anchors",
    "install_chain",
    "link_hash",
    "record",
    "record_many",
    "replay",
    "row_snapshot",
    "snapshot",
    "verify_chain",
]

#: Actions that change data; their rows carry the full new state of the record.
DATA_ACTIONS = frozenset({"create", "update", "void", "correct"})
#: Audited entities and their ORM classes (what :func:`replay` rebuilds).
ENTITY_MODELS: dict[str, type[DeclarativeBase]] = {
    "site": Site,
    "user": User,
    "patient": Patient,
    "event": Event,
    "risk_assignment": RiskAssignment,
}


def audit_row(
    principal: Principal | None,
    action: str,
    entity: str,
    entity_id: str | None,
    *,
    site_id: int | None = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    reason: str | None = None,
    username: str | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The columns of one audit row (all but ``id``): what :func:`record` stores."""
    return {
        "at": at or utcnow(),
        "actor_id": principal.user_id if principal else None,
        "actor_username": principal.username if principal else username,
        "actor_role": principal.role.value if principal else None,
        "actor_site_id": principal.site_id if principal else None,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "site_id": site_id,
        "old": jsonb_stable(old),
        "new": jsonb_stable(new),
        "reason": reason,
        "channel": principal.channel if principal else "api",
    }


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_id: str | None,
    **values: Any,
) -> AuditEntry:
    """Add one audit row to ``session`` (committed with the change it describes); keywords
    as :func:`audit_row`."""
    entry = AuditEntry(**audit_row(principal, action, entity, entity_id, **values))
    session.add(entry)
    return entry


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


def replay(entries: Iterable[AuditEntry]) -> dict[tuple[str, str], dict[str, Any]]:
    """Rebuild every audited record from the trail alone, starting from nothing.

    Returns a mapping ``(entity, primary key) -> record state``; compare it with
    :func:`current_state`.
    """
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        if entry.action in DATA_ACTIONS and entry.new is not None:
            state[(entry.entity, str(entry.new["id"]))] = dict(entry.new)
    return state


def current_state(session: Session) -> dict[tuple[str, str], dict[str, Any]]:
    """The current data of every audited table, in the shape :func:`replay` returns."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for entity, model in ENTITY_MODELS.items():
        for obj in session.scalars(select(model)):
            snap = snapshot(entity, obj)
            state[(entity, str(snap["id"]))] = snap
    return state


def audit_entries(session: Session) -> list[AuditEntry]:
    """Every audit row in the order written."""
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


# --- the hash chain ---------------------------------------------------------------------

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
# Plain driver SQL (no compilation): the tail is read on every audited SQLite transaction
# (the one writer holds the database, so no lock is needed).
_TAIL_SQL = "SELECT seq, row_hash FROM audit_chain ORDER BY seq DESC LIMIT 1"
# The links, as driver SQL too (inside every audited write's critical section; the day as
# the ISO text SQLAlchemy's Date stores on SQLite).
_SQLITE_LINKS_SQL = (
    "INSERT INTO audit_chain (seq, audit_id, day, prev_hash, row_hash) VALUES (?, ?, ?, ?, ?)"
)
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
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the previous link's hash and the row's canonical serialisation."""
    payload = prev_hash + "\n" + canonical_row(row)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _row_of(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in CHAINED_COLUMNS}


def _chain_tail(session: Session) -> tuple[int, str]:
    """SQLite: (seq, hash) of the last link (this transaction holds the one writer)."""
    last = session.connection().exec_driver_sql(_TAIL_SQL).first()
    return (0, GENESIS_HASH) if last is None else (int(last[0]), str(last[1]))


def _collect(session: Session, _flush_context: Any = None) -> None:
    """``after_flush``: remember the audit rows this flush inserted (no SQL here)."""
    rows = [_row_of(obj) for obj in session.new if isinstance(obj, AuditEntry)]
    if rows:
        session.info.setdefault(_PENDING, []).extend(rows)


def _discard(session: Session, *_: Any) -> None:
    """``after_rollback``: rolled-back audit rows are not chained."""
    session.info.pop(_PENDING, None)


def _link_rows(rows: list[dict[str, Any]], seq: int, prev: str) -> list[dict[str, Any]]:
    """The links of ``rows`` after the tail ``(seq, prev)``, hashed here."""
    links = []
    for row in rows:
        seq += 1
        digest = link_hash(prev, row)
        links.append(
            {
                "seq": seq,
                "audit_id": row["id"],
                "day": row["at"].astimezone(dt.UTC).date(),
                "prev_hash": prev,
                "row_hash": digest,
            }
        )
        prev = digest
    return links


# PostgreSQL: lock, read the tail, hash and insert every link in ONE statement (one round
# trip fewer under the chain lock than "read the tail, then insert"). The tail comes from the
# VOLATILE function audit_chain_tail, which takes the advisory lock and then reads with a new
# snapshot, so it sees every link committed before the lock. Each link's hash is computed by
# PostgreSQL from the canonical serialisation made here (:func:`canonical_row`), with
# exactly :func:`link_hash`'s formula: SHA-256 hex of ``prev_hash || '\n' || canonical`` in
# UTF-8; verify_chain recomputes it in Python.
_PG_APPEND = f"""
WITH RECURSIVE tail AS MATERIALIZED (
    SELECT seq, row_hash FROM audit_chain_tail({_CHAIN_LOCK})
), rows AS (
    SELECT r.audit_id, r.day, r.canonical, r.k
    FROM unnest(%(ids)b::bigint[], %(days)b::date[], %(canonicals)b::text[])
        WITH ORDINALITY AS r(audit_id, day, canonical, k)
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
    """
    session.flush()
    rows = sorted(session.info.pop(_PENDING, []), key=lambda r: int(r["id"]))
    if not rows:
        return
    if session.connection().dialect.name == "postgresql":
        _append_postgresql(session, rows)
        return
    seq, prev = _chain_tail(session)
    links = [
        (
            link["seq"],
            link["audit_id"],
            link["day"].isoformat(),
            link["prev_hash"],
            link["row_hash"],
        )
        for link in _link_rows(rows, seq, prev)
    ]
    session.connection().exec_driver_sql(_SQLITE_LINKS_SQL, links)


def install_chain(sessions: sessionmaker[Session]) -> None:
    """Chain every audit row written through ``sessions`` (flush, rollback and commit
    hooks); :func:`infantall.registry.db.make_sessionmaker` installs it."""
    event.listen(sessions, "after_flush", _collect)
    event.listen(sessions, "after_rollback", _discard)
    event.listen(sessions, "before_commit", chain_new_entries)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One finding of :func:`verify_chain`.

    ``kind``: ``changed`` (the row differs from what was chained: altered or replaced),
    ``missing`` (a chained row, or a link, is gone), ``inserted`` (a row outside the chain),
    ``broken`` (a link does not point to its predecessor).
    """

    kind: str
    audit_id: int | None
    seq: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class DailyAnchor:
    """The last link of one UTC day: publish it, compare it later."""

    day: dt.date
    seq: int
    row_hash: str


def _links(session: Session) -> list[Any]:
    return list(session.execute(select(AUDIT_CHAIN).order_by(AUDIT_CHAIN.c.seq)))


def _check_link(
    link: Any, expected_seq: int, prev: str, rows: dict[int, dict[str, Any]]
) -> list[ChainProblem]:
    problems = []
    if link.seq != expected_seq:
        problems.append(
            ChainProblem(
                "missing", None, expected_seq, f"links {expected_seq}..{link.seq - 1} are gone"
            )
        )
    if link.prev_hash != prev:
        problems.append(
            ChainProblem("broken", link.audit_id, link.seq, "does not follow the previous link")
        )
    row = rows.pop(link.audit_id, None)
    if row is None:
        problems.append(ChainProblem("missing", link.audit_id, link.seq, "audit row deleted"))
    elif link_hash(link.prev_hash, row) != link.row_hash:
        problems.append(
            ChainProblem("changed", link.audit_id, link.seq, "audit row changed or replaced")
        )
    return problems


def verify_chain(session: Session) -> list[ChainProblem]:
    """Recompute the chain; every changed, replaced, inserted or missing row, by id.

    An empty list means every audit row is exactly as chained when it was written.
    """
    rows = {
        int(r["id"]): dict(r)
        for r in session.execute(
            select(*(AuditEntry.__table__.c[name] for name in CHAINED_COLUMNS))
        ).mappings()
    }
    problems: list[ChainProblem] = []
    prev, expected = GENESIS_HASH, 1
    for link in _links(session):
        problems.extend(_check_link(link, expected, prev, rows))
        prev, expected = link.row_hash, link.seq + 1
    problems.extend(
        ChainProblem("inserted", audit_id, None, "audit row outside the chain")
        for audit_id in sorted(rows)
    )
    return problems


def daily_anchors(session: Session) -> list[DailyAnchor]:
    """The last link of every UTC day with audit rows, oldest first."""
    last: dict[dt.date, DailyAnchor] = {}
    for link in _links(session):
        last[link.day] = DailyAnchor(link.day, int(link.seq), str(link.row_hash))
    return [last[day] for day in sorted(last)]


def compare_anchors(session: Session, published: Sequence[Mapping[str, Any]]) -> list[ChainProblem]:
    """Published anchors (``day``, ``seq``, ``row_hash``) that the stored chain no longer
    reproduces: the chain was rewritten after they were published."""
    links = {int(link.seq): str(link.row_hash) for link in _links(session)}
    problems = []
    for anchor in published:
        seq = int(anchor["seq"])
        stored = links.get(seq)
        if stored != anchor["row_hash"]:
            problems.append(
                ChainProblem(
                    "changed" if stored else "missing",
                    None,
                    seq,
                    f"anchor of {anchor['day']} does not match the stored chain",
                )
            )
    return problems
