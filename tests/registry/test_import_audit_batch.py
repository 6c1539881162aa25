"""The batched, chained audit insert of CSV imports (issue 14, import speed).

An import writes the audit rows of a batch with one Core insert (:func:`audit.record_many`)
instead of one ORM object and flush per row. The rows are still chained at commit by the
same hook, so the chain must be exactly what the per-row path (:func:`audit.record`) gives
for the same content and times: same ids, same ``prev_hash`` and ``row_hash`` link by link.
Both backends; two databases copied from one seeded template, written side by side.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from infantall.registry import audit, csv_import
from infantall.registry.audit import AUDIT_CHAIN, CHAINED_COLUMNS
from infantall.registry.csv_import import commit_batches, validate_import
from infantall.registry.db import Database
from infantall.registry.models import AuditEntry, Event, Patient
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.registry.testing import DatabaseTemplates
from infantall.registry.verify import verify_registry

from .test_import_jobs import _csv, _job
from .test_registry_chain import _attacker

Pair = tuple[Database, Database, dict[str, Any]]


@pytest.fixture
def pair(backend: str, tmp_path: Path, templates: DatabaseTemplates) -> Iterator[Pair]:
    """Two databases copied from the same seeded template (same ids, same chain tail)."""
    with ExitStack() as stack:
        (_, one), (_, two) = (
            stack.enter_context(templates.database(backend, tmp_path, seeded=True))
            for _ in range(2)
        )
        yield one, two, templates.seeds[backend][0]


def _trail(database: Database) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
    """Every chain link and every audit row (their chained columns), in order."""
    with database.read_sessions() as s:
        links = [tuple(r) for r in s.execute(select(AUDIT_CHAIN).order_by(AUDIT_CHAIN.c.seq))]
        cols = [AuditEntry.__table__.c[name] for name in CHAINED_COLUMNS]
        rows = [dict(r) for r in s.execute(select(*cols).order_by(AuditEntry.id)).mappings()]
    return links, rows


#: Any text PostgreSQL can store (no NUL, no lone surrogate).
_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
#: Every finite float, among them those JSONB prints back differently (1e16 as
#: 10000000000000000, -0.0 as 0.0): ``registry.jsonnum.jsonb_stable`` stores and hashes
#: them as JSONB gives them back, so such a row still verifies.
_FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([-0.0, 1e16, 1.5e300])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(_CHARS, max_size=20)
    | _FLOATS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(_CHARS, max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8,
)  # fmt: skip
_ROW = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["create", "update", "note"]),
        "entity": st.sampled_from(["patient", "event"]),
        "entity_id": st.text(_CHARS, min_size=1, max_size=30),
        "new": st.none() | st.dictionaries(st.text(_CHARS, max_size=10), _JSON, max_size=5),
        "reason": st.none() | st.text(_CHARS, max_size=40),
        "at": st.datetimes(
            min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1),
            timezones=st.just(dt.UTC),
        ),
    }
)  # fmt: skip


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(_ROW, min_size=1, max_size=6), min_size=1, max_size=3))
def test_batched_audit_rows_chain_exactly_as_row_by_row(pair: Pair, batches: Any) -> None:
    """Property: for any rows (any text, JSON, time), one ``record_many`` per transaction
    gives the same audit rows and the same chain, hash for hash, as one ``record`` each."""
    per_row, batched, seeds = pair
    editor = seeds["editor_a"]
    for batch in batches:
        with per_row.write_sessions() as s:
            for row in batch:
                audit.record(s, editor, row["action"], row["entity"], row["entity_id"],
                             site_id=editor.site_id, new=row["new"], reason=row["reason"],
                             at=row["at"])  # fmt: skip
            s.commit()
        with batched.write_sessions() as s:
            audit.record_many(s, [
                audit.audit_row(editor, row["action"], row["entity"], row["entity_id"],
                                site_id=editor.site_id, new=row["new"], reason=row["reason"],
                                at=row["at"])
                for row in batch
            ])  # fmt: skip
            s.commit()
    assert _trail(batched) == _trail(per_row)
    with batched.read_sessions() as s:
        assert audit.verify_chain(s) == []


def _per_row(session: Any, rows: list[dict[str, Any]]) -> list[int]:
    """The per-row path the import used before: one ORM audit row each, flushed."""
    entries = [AuditEntry(**row) for row in rows]
    session.add_all(entries)
    session.flush()
    return [entry.id for entry in entries]


def test_an_import_chains_as_the_per_row_path_would(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole batched import against the same import written with one ORM audit row per
    record (times and registry ids fixed): identical audit rows and chain, and it verifies."""
    trails = []
    for database, insert_audit in zip(pair[:2], (_per_row, audit.record_many), strict=True):
        now = dt.datetime(2026, 12, 6, 23, 59, 58, 123456, tzinfo=dt.UTC)
        counter = itertools.count()
        monkeypatch.setattr(csv_import, "utcnow", lambda now=now: now)
        monkeypatch.setattr(audit, "utcnow", lambda now=now: now)
        monkeypatch.setattr(csv_import, "new_registry_id",
                            lambda kind, c=counter: f"{kind}-{next(c):06d}")  # fmt: skip
        monkeypatch.setattr(csv_import.audit, "record_many", insert_audit)
        editor = pair[2]["editor_a"]
        with database.write_sessions() as s:
            parsed = validate_import(s, editor, _csv(23))
            s.rollback()
        report = commit_batches(database.write_sessions, editor, parsed, batch_rows=8)
        assert report.ok and report.imported_patients == 23
        trails.append(_trail(database))
        assert verify_registry(database).ok
    assert trails[0] == trails[1]
    imported = [row for row in trails[1][1] if row["reason"] == "CSV import"]
    assert len(imported) == 46


def test_tampering_after_a_batched_import_is_named(registry: Any, seeded: Any) -> None:
    _, database = registry
    job = _job(registry, seeded, _csv(15), import_batch_rows=6)
    assert job.state == "succeeded"
    assert verify_registry(database).ok
    with database.read_sessions() as s:
        ids = list(s.scalars(select(AuditEntry.id).where(AuditEntry.reason == "CSV import")
                             .order_by(AuditEntry.id)))  # fmt: skip
    changed, deleted = ids[3], ids[17]
    with _attacker(database) as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == changed).values(reason="forged"))
        conn.execute(delete(AuditEntry).where(AuditEntry.id == deleted))
    problems = {(p["check"], p["kind"], p["id"]) for p in verify_registry(database).problems}
    assert ("audit_chain", "changed", str(changed)) in problems
    assert ("audit_chain", "missing", str(deleted)) in problems


def _counts(database: Database) -> tuple[int, int, int, int]:
    with database.read_sessions() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(q) or 0)
            for q in (
                select(func.count()).select_from(Patient).where(Patient.local_code.like("R%")),
                select(func.count()).select_from(Event),
                select(func.count()).select_from(AuditEntry)
                .where(AuditEntry.reason == "CSV import"),
                select(func.count()).select_from(AUDIT_CHAIN),
            )
        )  # fmt: skip


def test_a_rejected_row_rejects_the_whole_file(registry: Any, seeded: Any) -> None:
    _, database = registry
    before = _counts(database)
    job = _job(registry, seeded, _csv(40, bad=37), import_batch_rows=6)
    assert job.state == "rejected" and job.committed_through_line is None
    assert (job.patients_committed, job.events_committed) == (0, 0)
    after = _counts(database)
    assert after[:3] == before[:3]  # no patient, event nor create audit row
    assert after[3] == before[3] + 1  # only the import_rejected row, chained
    assert verify_registry(database).ok


def test_nothing_is_committed_beyond_the_reported_line(registry: Any, seeded: Any) -> None:
    """A batch failing mid-file (a record registered meanwhile): its patients, events and
    audit rows are all rolled back, the earlier batches' are all there and chained."""
    _, database = registry
    editor = seeded["editor_a"]
    with database.write_sessions() as s:
        parsed = validate_import(s, editor, _csv(12))
        s.rollback()
    with database.write_sessions() as s:
        create_patient(s, editor, PatientCreate.model_validate(
            {"local_code": "R0007", "birth_date": "2024-01-01", "diagnosis_date": "2024-03-01"}
        ))  # fmt: skip
    before = _counts(database)
    report = commit_batches(database.write_sessions, editor, parsed, batch_rows=6)
    # Batches of 3 records: R0000-R0005 committed, the batch R0006-R0008 failed.
    assert not report.ok and report.committed_through_line == 12
    assert (report.imported_patients, report.imported_events) == (6, 6)
    after = _counts(database)
    assert after[0] - before[0] == 6 and after[1] - before[1] == 6
    assert after[2] - before[2] == 12  # a create row per committed patient and event
    assert after[3] - before[3] == 12  # each chained; nothing of the failed batch
    with database.read_sessions() as s:
        lines = {p.local_code for p in s.scalars(select(Patient))}
        assert audit.verify_chain(s) == []
    assert {f"R{i:04d}" for i in range(6)} <= lines
    assert not {f"R{i:04d}" for i in (6, 8, 9, 10, 11)} & lines
