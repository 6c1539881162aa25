"""A batch of audit rows inserted and chained by one statement on PostgreSQL
(:func:`infantall.registry.audit.insert_linked_postgresql`, what the read audit commits in
autocommit: one round trip per batch). The stored rows and links must be exactly what the
session path (:func:`infantall.registry.audit.record_many`, chained at commit) stores: the
hashes :func:`link_hash` gives, link after link, in id order, for rows of any content,
beside concurrent writers of either kind, so ``registry verify`` passes on an untouched trail
and still names a row changed afterwards."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from infantall.registry import audit
from infantall.registry.audit import GENESIS_HASH, link_hash
from infantall.registry.models import AuditEntry
from infantall.registry.verify import verify_registry

from .concurrency import in_threads
from .test_registry_chain import _attacker
from .test_registry_chain_append import _REASONS, _links_and_rows, _write


@pytest.fixture
def database(registry: Any, backend: str) -> Any:
    if backend != "postgresql":
        pytest.skip("one statement for rows and links is PostgreSQL's (SQLite: record_many)")
    return registry[1]


def _rows(principal: Any, reasons: list[str]) -> list[dict[str, Any]]:
    return [
        audit.audit_row(
            principal, "read", "patient", f"P-{i}", site_id=principal.site_id if principal else
            None, new={"path": f"/api/v1/patients/P-{i}", "status": 200, "k": r}, reason=r,
            username=None if principal else "system",
        )
        for i, r in enumerate(reasons)
    ]  # fmt: skip


def _insert(database: Any, rows: list[dict[str, Any]]) -> list[int]:
    with database.engine.connect() as conn:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        return audit.insert_linked_postgresql(autocommit, rows)


def test_rows_and_links_equal_the_session_path_for_any_content(database: Any, seeded: Any) -> None:
    before, _ = _links_and_rows(database)
    ids = _insert(database, _rows(seeded["viewer_a"], _REASONS) + _rows(None, ["no caller"]))
    assert len(ids) == len(_REASONS) + 1 and ids == sorted(ids)
    links, rows = _links_and_rows(database)
    assert [link.audit_id for link in links[len(before) :]] == ids  # chained in id order
    prev = GENESIS_HASH
    for expected_seq, link in enumerate(links, start=1):
        assert link.seq == expected_seq and link.prev_hash == prev
        assert link.row_hash == link_hash(prev, rows[link.audit_id])
        assert link.day == rows[link.audit_id]["at"].date()
        prev = link.row_hash
    stored = rows[ids[1]]
    assert stored["new"] == {"path": "/api/v1/patients/P-1", "status": 200, "k": _REASONS[1]}
    assert stored["old"] is None and stored["actor_username"] == "viewer_a"
    assert rows[ids[-1]]["actor_id"] is None and rows[ids[-1]]["actor_username"] == "system"
    assert verify_registry(database).ok


def test_batches_beside_session_writers_make_one_unbroken_chain(database: Any, seeded: Any) -> None:
    def writer(n: int) -> None:
        for i in range(5):
            if n % 2:
                _insert(database, _rows(seeded["viewer_a"], [f"b{n}.{i}"] * (1 + n % 4)))
            else:
                _write(database, seeded["editor_a"], [f"s{n}.{i}"] * (1 + n % 3))

    assert in_threads(writer, 6) == []
    links, rows = _links_and_rows(database)
    assert [link.seq for link in links] == list(range(1, len(rows) + 1))
    assert verify_registry(database).ok


def test_a_failed_batch_stores_nothing(database: Any, seeded: Any) -> None:
    """One statement is its own transaction: a row the table refuses takes the whole batch,
    links included, with it."""
    before, rows_before = _links_and_rows(database)
    rows = _rows(seeded["viewer_a"], ["fine", "refused"])
    rows[1]["action"] = "x" * 10_000  # longer than the column
    with pytest.raises(Exception, match="too long"):
        _insert(database, rows)
    links, stored = _links_and_rows(database)
    assert links == before and stored == rows_before


def test_a_row_changed_after_a_batch_is_named(database: Any, seeded: Any) -> None:
    ids = _insert(database, _rows(seeded["viewer_a"], ["a", "b", "c"]))
    with _attacker(database) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(reason="forged"))
    report = verify_registry(database)
    assert {(p["check"], p["kind"], p["id"]) for p in report.problems} == {
        ("audit_chain", "changed", str(ids[1]))
    }
