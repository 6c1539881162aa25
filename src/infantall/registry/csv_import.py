"""CSV import: parsed as a stream, validated as a whole, committed in bounded batches.

REDCap-style layout (see :mod:`infantall.registry.dictionary`): every row is checked by the
same rules as the API (request schema + domain model + patient history); a file with any
invalid row imports nothing and gets a per-row, per-field report. The file an export writes
(:mod:`infantall.registry.export`) imports again: its export-only columns are ignored and
its formula escapes undone.

Two phases, so that one site's large file cannot stall the others:

1. **Validate the whole file** while reading it as a stream (rows are parsed one at a time
   from the file object, never split into a list of lines; only a compact, validated form
   of each record is kept), then look up the records the site already has (in chunks).
   Nothing is written in this phase.
2. **Commit in batches** (:func:`commit_batches`): records in the order of their patient
   rows, each record (patient + all its events + their audit rows) wholly inside one
   batch, at most ``batch_rows`` CSV rows per transaction. A writer holds the database
   (and, on PostgreSQL, the audit chain's lock) for one batch only, so other sites' writes
   go in between. If a batch fails (say a record registered meanwhile by another
   request), the batches before it stay committed and the report names exactly what is
   in the registry: every record whose patient row is on or before
   ``committed_through_line``, and nothing after it.

:func:`import_csv` with ``batch_rows=None`` keeps the old single-transaction path (small
files, the CLI, the demos).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import IO, Any

from sqlalchemy import insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from infantall.errors import InvalidInputError
from infantall.registry import audit
from infantall.registry.access import WRITE_ROLES, Principal, require_role
from infantall.registry.csv_parse import (
    DEFAULT_MAX_ROWS,
    PROGRESS_EVERY,
    ParsedImport,
    Progress,
    check_histories,
    parse_csv,
)
from infantall.registry.csv_report import (
    PROBLEM_COLUMNS,
    ImportReport,
    NotEntered,
    RowError,
    problems_csv,
)
from infantall.registry.models import Event, Patient, Site, utcnow
from infantall.registry.patients import _stored, new_registry_id

__all__ = [
    "DEFAULT_MAX_ROWS",
    "PROBLEM_COLUMNS",
    "PROGRESS_EVERY",
    "BatchDone",
    "ImportReport",
    "NotEntered",
    "ParsedImport",
    "RowError",
    "commit_batches",
    "import_csv",
    "problems_csv",
    "validate_import",
]

#: How many existing local codes one lookup asks for (SQLite binds at most 32,766).
_LOOKUP_CHUNK = 1000

Sessions = Callable[[], AbstractContextManager[Session]]


def _check_existing(session: Session, site_id: int, parsed: ParsedImport) -> None:
    """Refuse records the site already has (looked up in chunks of :data:`_LOOKUP_CHUNK`)."""
    records = list(parsed.patients)
    for start in range(0, len(records), _LOOKUP_CHUNK):
        chunk = records[start : start + _LOOKUP_CHUNK]
        existing = session.scalars(
            select(Patient.local_code).where(
                Patient.site_id == site_id, Patient.local_code.in_(chunk)
            )
        )
        for record in sorted(existing):
            parsed.error(parsed.patients[record].line, record, InvalidInputError(
                "record_id", f"record {record} is already registered at this site",
                "duplicate_patient",
            ))  # fmt: skip


def validate_import(
    session: Session,
    principal: Principal,
    content: bytes | str | IO[bytes],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    progress: Progress | None = None,
) -> ParsedImport:
    """Read and validate a whole file without writing anything (phase 1).

    ``content`` may be an open binary file: it is read as a stream. ``progress`` is called
    with the number of rows read every :data:`PROGRESS_EVERY` rows. The result's ``errors``
    are empty when every record may be written.
    """
    require_role(principal, WRITE_ROLES, "import patients")
    assert principal.site_id is not None  # site editors always have a site
    parsed = parse_csv(content, max_rows, progress)
    check_histories(parsed)
    _check_existing(session, principal.site_id, parsed)
    return parsed


def _next_ids(session: Session, table: str, n: int) -> list[int]:
    """``n`` new ids of ``table`` taken from its PostgreSQL sequence (one round trip)."""
    rows = session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
        {"t": table, "n": n},
    )
    return [int(id_) for (id_,) in rows]


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows``; their ids in the order of the rows.

    PostgreSQL: the ids are taken from the sequence first and the rows sent as one
    executemany (psycopg pipelines it): a multi-row ``INSERT ... VALUES ... RETURNING``
    is one statement text per batch, longer than psycopg caches, re-parsed by it every
    time. SQLite: one bulk ``INSERT ... RETURNING id``. Both through Core (the ORM's bulk
    path costs more Python per row than the insert itself).
    """
    if not rows:
        return []
    table = model.__table__
    if _is_postgresql(session):
        ids = _next_ids(session, model.__tablename__, len(rows))
        with_ids = [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        session.connection().execute(insert(table), with_ids)
        return ids
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(id_) for id_ in session.connection().execute(statement, rows).scalars()]


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _audit_created(session: Session, principal: Principal, entity: str, model: Any,
                   rows: list[dict[str, Any]], ids: list[int]) -> None:  # fmt: skip
    """One ``create`` audit row per inserted row, carrying its snapshot (what
    :func:`audit.snapshot` gives for its ORM object), all inserted by one
    :func:`audit.record_many` and chained at commit by the audit hook."""
    if not rows:
        return
    now = utcnow()
    audit_rows = [
        audit.audit_row(principal, "create", entity, row["registry_id"], site_id=principal.site_id,
                        new=audit.row_snapshot(entity, model.__table__, {**row, "id": id_}),
                        reason="CSV import", at=now)
        for row, id_ in zip(rows, ids, strict=True)
    ]  # fmt: skip
    audit.record_many(session, audit_rows)


def _write(session: Session, principal: Principal, parsed: ParsedImport,
           records: list[str]) -> int:  # fmt: skip
    """Add ``records`` (patients, events, one audit row each) to ``session``; the number of
    events. Patients and events go in one bulk insert each (no ORM object per row; see
    :func:`_insert`), then their audit rows, patients first."""
    now = utcnow()
    common = {"created_at": now, "updated_at": now, "version": 1, "voided_at": None,
              "void_reason": None}  # fmt: skip
    patients = [
        {"registry_id": new_registry_id("P"), "site_id": principal.site_id,
         "local_code": record, "notes": parsed.patients[record].notes,
         **_stored(parsed.patients[record].domain, parsed.patients[record].choices),
         **common}
        for record in records
    ]  # fmt: skip
    patient_ids = _insert(session, Patient, patients)
    events: list[dict[str, Any]] = [
        {"registry_id": new_registry_id("E"), "patient_id": pid, "kind": data["kind"],
         "event_date": dt.date.fromisoformat(data["date"]), "data": data, **common}
        for record, pid in zip(records, patient_ids, strict=True)
        for _, data in parsed.events.get(record, [])
    ]  # fmt: skip
    event_ids = _insert(session, Event, events)
    _audit_created(session, principal, "patient", Patient, patients, patient_ids)
    _audit_created(session, principal, "event", Event, events, event_ids)
    return len(events)


def _batches(parsed: ParsedImport, batch_rows: int | None) -> Iterator[list[str]]:
    """Records in patient-row order, grouped so that a batch holds at most ``batch_rows``
    CSV rows (a record with more rows than that is a batch of its own)."""
    batch: list[str] = []
    size = 0
    for record in parsed.patients:
        rows = 1 + len(parsed.events.get(record, ()))
        if batch and batch_rows is not None and size + rows > batch_rows:
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += rows
    if batch:
        yield batch


@dataclass(frozen=True, slots=True)
class BatchDone:
    """Progress after a batch, passed to ``on_batch`` inside the batch's transaction."""

    patients: int
    events: int
    through_line: int
    last: bool


def commit_batches(
    sessions: Sessions,
    principal: Principal,
    parsed: ParsedImport,
    *,
    batch_rows: int | None,
    on_batch: Callable[[Session, BatchDone], None] | None = None,
    audit_new: dict[str, Any] | None = None,
) -> ImportReport:
    """Write a validated file in transactions of at most ``batch_rows`` CSV rows (phase 2).

    ``sessions()`` gives the session of one batch (the caller takes the database's write
    lock there); ``on_batch`` runs inside each batch's transaction, so what it records (a
    job's progress) commits together with the batch, or not at all. The last batch also
    writes the ``import`` audit row of the site (with ``audit_new`` added to its counts).
    A failing batch is rolled back and ends the import: the report then carries one
    ``import_batch_failed`` problem and exactly what the earlier batches committed.
    """
    principal = replace(principal, channel="import")
    n_patients = n_events = 0
    through: int | None = None
    batches = list(_batches(parsed, batch_rows))
    for i, records in enumerate(batches):
        try:
            with sessions() as session:
                events = _write(session, principal, parsed, records)
                last = parsed.patients[records[-1]].line
                done = BatchDone(
                    n_patients + len(records), n_events + events, last, i == len(batches) - 1
                )
                if done.last:
                    _audit_import(session, principal, done, audit_new)
                if on_batch is not None:
                    on_batch(session, done)
                session.commit()
        except (SQLAlchemyError, InvalidInputError) as exc:
            first = parsed.patients[records[0]].line
            problem = RowError(first, records[0], "file", _failure(exc, first, through),
                               "import_batch_failed")  # fmt: skip
            return ImportReport(n_patients, n_events, (problem,), parsed.not_entered(), through)
        n_patients, n_events, through = done.patients, done.events, done.through_line
    return ImportReport(n_patients, n_events, (), parsed.not_entered(), through)


def _failure(exc: Exception, first: int, through: int | None) -> str:
    kept = (
        f"records whose patient row is on line {through} or before are committed"
        if through is not None
        else "nothing was committed"
    )
    cause = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
    return f"the batch starting at line {first} failed and was rolled back ({cause}); {kept}"


def _audit_import(
    session: Session, principal: Principal, done: BatchDone, extra: dict[str, Any] | None
) -> None:
    code = session.scalar(select(Site.code).where(Site.id == principal.site_id))
    counts = {"patients": done.patients, "events": done.events, **(extra or {})}
    audit.record(session, principal, "import", "site", code, site_id=principal.site_id, new=counts)


def import_csv(
    session: Session,
    principal: Principal,
    content: bytes | str | IO[bytes],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    batch_rows: int | None = None,
) -> ImportReport:
    """Import a REDCap-style CSV into the caller's site.

    ``batch_rows=None`` (the default) writes the whole file in one transaction: all rows or
    none. With ``batch_rows`` the file is still validated as a whole first (an invalid file
    writes nothing), then committed in batches (:func:`commit_batches`). When
    ``report.ok`` is false, ``report.imported_patients`` says what was committed.
    """
    parsed = validate_import(session, principal, content, max_rows=max_rows)
    session.rollback()
    if parsed.errors:
        return parsed.refused()
    return commit_batches(lambda: nullcontext(session), principal, parsed,
                          batch_rows=batch_rows)  # fmt: skip
