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
total order. The links are hashed by the database with the same formula, in the statement
that inserts them (PostgreSQL: one statement takes the lock, reads the tail and inserts the
links, so the lock is held for one round trip and the commit; SQLite: one statement per link
with the SQL function ``infantall_sha256``). Rows inserted without ORM objects
(:func:`record_many`, imports) are queued for the same hook, and a write's row deferred to
its commit (:func:`record_at_commit`) is, on PostgreSQL, inserted with its link in one
statement. The chain's code is :mod:`infantall.registry.audit_chain`. :func:`verify_chain`
recomputes the chain and names every changed, replaced, inserted or missing row by id;
:func:`daily_anchors` gives the last hash of each UTC day, to publish outside the database
(a rewrite of the whole chain then no longer matches the published anchors).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import DeclarativeBase, Session

from infantall.registry.access import Principal
from infantall.registry.audit_chain import (
    AUDIT_CHAIN,
    CHAINED_COLUMNS,
    GENESIS_HASH,
    canonical_row,
    chain_new_entries,
    insert_linked_postgresql,
    install_chain,
    link_hash,
    record_at_commit,
    record_many,
)
from infantall.registry.jsonnum import jsonb_stable
from infantall.registry.models import (
    AuditEntry,
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
    "CHAINED_COLUMNS",
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
    "insert_linked_postgresql",
    "install_chain",
    "link_hash",
    "record",
    "record_at_commit",
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
