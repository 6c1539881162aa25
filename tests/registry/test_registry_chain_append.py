"""Appending to the audit hash chain (issue 14, load figures).

On PostgreSQL the links are now hashed and inserted by one statement under the chain lock
(the tail is no longer read in a round trip of its own); the hashes must still be exactly
:func:`link_hash`'s, link after link, for rows of any content, several rows per transaction
and concurrent writers, or ``registry verify`` would fail on an untouched trail.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from infantall.registry import audit
from infantall.registry.audit import AUDIT_CHAIN, CHAINED_COLUMNS, GENESIS_HASH, link_hash
from infantall.registry.models import AuditEntry
from infantall.registry.verify import verify_registry

from .concurrency import in_threads
from .test_registry_chain import _attacker

#: Reasons that exercise the canonical serialisation: non-ASCII, a newline, quotes, a
#: backslash and a character outside the BMP.
_REASONS = ["plain", "Müller – naïve “quoted”", 'two\nlines \\ and "q"', "😀"]


def _write(database: Any, principal: Any, reasons: list[str]) -> None:
    with database.write_sessions() as s:
        for i, reason in enumerate(reasons):
            audit.record(
                s, principal, "note", "patient", f"P-{i}", new={"k": reason, "n": i},
                reason=reason,
            )  # fmt: skip
        s.commit()


def _links_and_rows(database: Any) -> tuple[list[Any], dict[int, dict[str, Any]]]:
    with database.read_sessions() as s:
        links = list(s.execute(select(AUDIT_CHAIN).order_by(AUDIT_CHAIN.c.seq)))
        cols = [AuditEntry.__table__.c[name] for name in CHAINED_COLUMNS]
        rows = {int(r["id"]): dict(r) for r in s.execute(select(*cols)).mappings()}
    return links, rows


def test_links_equal_python_hashes_for_any_content(registry: Any, seeded: Any) -> None:
    _, database = registry
    before, _ = _links_and_rows(database)
    _write(database, seeded["editor_a"], _REASONS)  # five rows, one transaction
    _write(database, seeded["editor_a"], ["single"])
    links, rows = _links_and_rows(database)
    assert len(links) == len(before) + len(_REASONS) + 1
    prev = GENESIS_HASH
    for expected_seq, link in enumerate(links, start=1):
        assert link.seq == expected_seq
        assert link.prev_hash == prev
        assert link.row_hash == link_hash(prev, rows[link.audit_id])
        assert link.day == rows[link.audit_id]["at"].date()
        prev = link.row_hash
    # the new rows are chained in id order
    new_ids = [link.audit_id for link in links[len(before) :]]
    assert new_ids == sorted(new_ids)
    assert verify_registry(database).ok


@pytest.mark.parametrize("deferred", [False, True], ids=["flushed", "deferred"])
def test_concurrent_appends_make_one_unbroken_chain(
    registry: Any, seeded: Any, deferred: bool
) -> None:
    """Rows flushed before the commit (several per transaction) and rows deferred to it
    (one per transaction: on PostgreSQL inserted with their links in one statement)."""
    _, database = registry

    def write(n: int) -> None:
        if deferred:
            _write_at_commit(database, seeded["editor_a"], [f"w{n}"])
        else:
            _write(database, seeded["editor_a"], [f"w{n}"] * (1 + n % 3))

    def writer(n: int) -> None:
        for _ in range(5):
            if database.write_lock is None:
                write(n)
            else:
                with database.write_lock:
                    write(n)

    assert in_threads(writer, 6) == []
    links, rows = _links_and_rows(database)
    assert [link.seq for link in links] == list(range(1, len(rows) + 1))
    assert verify_registry(database).ok


def test_a_row_changed_after_the_one_statement_append_is_named(registry: Any, seeded: Any) -> None:
    _, database = registry
    _write(database, seeded["editor_a"], _REASONS)
    links, _ = _links_and_rows(database)
    target = links[-2].audit_id
    with _attacker(database) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == target).values(reason="forged"))
    report = verify_registry(database)
    assert {(p["check"], p["kind"], p["id"]) for p in report.problems} == {
        ("audit_chain", "changed", str(target))
    }


def _write_at_commit(database: Any, principal: Any, reasons: list[str], orm: bool = False) -> None:
    """One transaction per call: ``reasons`` as rows deferred to the commit (and, with
    ``orm``, one ORM row beside them)."""
    with database.write_sessions() as s:
        for i, reason in enumerate(reasons):
            new = {"id": -1, "k": reason, "nested": {"id": i}}  # "id" keys below the top level
            audit.record_at_commit(s, audit.audit_row(
                principal, "note", "patient", f',"id":-1,{i}', new=new, reason=reason,
            ))  # fmt: skip
        if orm:
            audit.record(s, principal, "note", "patient", "P-orm", reason="orm")
        s.commit()


def test_a_row_deferred_to_the_commit_is_inserted_with_its_link(
    registry: Any, seeded: Any, backend: str
) -> None:
    """The write path of an event: its audit row is inserted at the commit; on PostgreSQL
    together with its link in one statement (the server hashes head || id || tail)."""
    from sqlalchemy import event

    _, database = registry
    before, _ = _links_and_rows(database)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        for reason in _REASONS:
            _write_at_commit(database, seeded["editor_a"], [reason])
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    links, rows = _links_and_rows(database)
    assert len(links) == len(before) + len(_REASONS)
    prev = GENESIS_HASH
    for link in links:
        assert link.prev_hash == prev
        assert link.row_hash == link_hash(prev, rows[link.audit_id])
        prev = link.row_hash
    touching = [s for s in statements if "audit_log" in s or "audit_chain" in s]
    if backend == "postgresql":  # one statement per write: the row and its link
        assert len(touching) == len(_REASONS)
        assert all(
            "INSERT INTO audit_chain" in s and "INSERT INTO audit_log" in s for s in touching
        )
    assert verify_registry(database).ok


def test_deferred_rows_beside_other_rows_and_a_rollback(registry: Any, seeded: Any) -> None:
    _, database = registry
    _write_at_commit(database, seeded["editor_a"], ["a", "b"], orm=True)  # three rows
    with database.write_sessions() as s:  # dropped with the transaction
        audit.record_at_commit(s, audit.audit_row(seeded["editor_a"], "note", "patient", "X"))
        s.rollback()
        s.commit()
    links, rows = _links_and_rows(database)
    assert len(links) == len(rows)
    assert not [r for r in rows.values() if r["entity_id"] == "X"]
    assert verify_registry(database).ok


def test_the_canonical_row_splits_around_its_id() -> None:
    """head + str(id) + tail is the canonical row, whatever the row's other values hold."""
    import datetime as dt

    from infantall.registry.audit_chain import _around_id, canonical_row

    at = dt.datetime(2026, 12, 7, 6, 30, 1, 123456, tzinfo=dt.UTC)
    for entity_id in ("P-1", ',"id":-1,', '"id":7'):
        for new in (None, {"id": -1}, {"a": {"id": 3}, "z": "\u202e"}):
            row = audit.audit_row(None, "note", "patient", entity_id, new=new, at=at)
            head, tail = _around_id(row)
            for id_ in (1, 42, 9_007_199_254_740_993):
                assert head + str(id_) + tail == canonical_row({**row, "id": id_})
