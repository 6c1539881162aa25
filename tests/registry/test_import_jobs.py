"""Imports that cannot stall others (issue 14, defect 5): validated as a whole, committed in
bounded batches, run as jobs whose row always says exactly what is committed; a rejected
import is audited; a restart ends the jobs it interrupted. Both backends."""

from __future__ import annotations

import csv
import io
import os
import secrets
import socket
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from infantall.errors import InvalidInputError
from infantall.registry import audit, import_jobs
from infantall.registry.csv_import import BatchDone, commit_batches, validate_import
from infantall.registry.db import Database
from infantall.registry.errors import ConflictError
from infantall.registry.import_jobs import ImportJob, create_job, mark_interrupted, run_job
from infantall.registry.models import AuditEntry, Event, Patient
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.registry.testing import make_test_settings

HEADER = ["record_id", "redcap_repeat_instrument", "birth_date", "diagnosis_date",
          "event_kind", "event_date"]  # fmt: skip


def _csv(n: int, prefix: str = "R", bad: int | None = None) -> bytes:
    """``n`` patients, each followed by one last-contact event row; record ``bad`` (if any)
    has a diagnosis before its birth."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for i in range(n):
        diagnosis = "2023-01-01" if i == bad else "2024-03-01"
        writer.writerow([f"{prefix}{i:04d}", "", "2024-01-01", diagnosis, "", ""])
        writer.writerow([f"{prefix}{i:04d}", "event", "", "", "last_contact", "2024-06-01"])
    return out.getvalue().encode()


def _count(database: Database, model: Any, **where: Any) -> int:
    with database.read_sessions() as s:
        query = select(func.count()).select_from(model)
        for k, v in where.items():
            query = query.where(getattr(model, k) == v)
        return int(s.scalar(query) or 0)


def _settings(registry: Any, **overrides: Any) -> Any:
    settings, _ = registry
    return make_test_settings(settings.database_url, **overrides)


def _job(registry: Any, seeded: dict[str, Any], content: bytes, **overrides: Any) -> ImportJob:
    settings = _settings(registry, **overrides)
    _, database = registry
    with database.write_sessions() as s:
        job = create_job(s, seeded["editor_a"], settings, content, "f.csv", "test:1:x")
        s.commit()
    run_job(database, settings, job.id, seeded["editor_a"])
    with database.read_sessions() as s:
        done = s.get(ImportJob, job.id)
        assert done is not None
        return done


def test_a_job_commits_in_bounded_batches_and_reports_them(registry: Any, seeded: Any) -> None:
    _, database = registry
    job = _job(registry, seeded, _csv(30), import_batch_rows=7)
    assert (job.state, job.patients_committed, job.events_committed) == ("succeeded", 30, 30)
    assert job.rows_read == job.rows_validated == 60
    assert job.committed_through_line == 60  # the last patient row (header is line 1)
    assert not import_jobs.spool_path(job.id).exists()  # the upload is deleted
    assert _count(database, Patient) == 30 and _count(database, Event) == 30
    imports = _count(database, AuditEntry, action="import", entity="site")
    assert imports == 1


def test_an_imported_file_is_audited_row_by_row_and_chained(registry: Any, seeded: Any) -> None:
    """Every imported patient and event has its ``create`` audit row, the trail replays to
    exactly what is stored, and the hash chain verifies (the PostgreSQL path takes the
    audit ids from the sequence itself)."""
    _, database = registry
    job = _job(registry, seeded, _csv(12), import_batch_rows=5)
    assert (job.state, job.patients_committed, job.events_committed) == ("succeeded", 12, 12)
    assert _count(database, AuditEntry, action="create", entity="patient") == 12
    assert _count(database, AuditEntry, action="create", entity="event") == 12
    with database.read_sessions() as s:
        assert audit.verify_chain(s) == []
        assert audit.replay(audit.audit_entries(s)) == audit.current_state(s)
        chained = s.scalar(select(func.count()).select_from(audit.AUDIT_CHAIN))
        assert chained == _count(database, AuditEntry)


def test_batches_hold_at_most_batch_rows_rows(registry: Any, seeded: Any) -> None:
    _, database = registry
    seen: list[BatchDone] = []
    with database.write_sessions() as s:
        parsed = validate_import(s, seeded["editor_a"], _csv(10))
        s.rollback()
        report = commit_batches(
            database.write_sessions, seeded["editor_a"], parsed, batch_rows=5,
            on_batch=lambda _s, done: seen.append(done),
        )  # fmt: skip
    assert report.ok and report.imported_patients == 10
    # 2 CSV rows per record, at most 5 rows per batch -> 2 records per batch.
    assert [d.patients for d in seen] == [2, 4, 6, 8, 10]
    assert [d.last for d in seen] == [False] * 4 + [True]


def test_a_failing_batch_reports_exactly_what_was_committed(registry: Any, seeded: Any) -> None:
    _, database = registry
    editor = seeded["editor_a"]
    with database.write_sessions() as s:
        parsed = validate_import(s, editor, _csv(10))
        s.rollback()
    with database.write_sessions() as s:  # registered meanwhile by another request
        create_patient(s, editor, PatientCreate.model_validate(
            {"local_code": "R0005", "birth_date": "2024-01-01", "diagnosis_date": "2024-03-01"}
        ))  # fmt: skip
    report = commit_batches(database.write_sessions, editor, parsed, batch_rows=4)
    assert not report.ok and report.errors[0].code == "import_batch_failed"
    # Batches of 2 records: R0000-R0003 committed; the batch R0004-R0005 failed.
    assert (report.imported_patients, report.imported_events) == (4, 4)
    assert report.committed_through_line == 8
    with database.read_sessions() as s:
        codes = set(s.scalars(select(Patient.local_code)))
    assert codes == {"R0000", "R0001", "R0002", "R0003", "R0005"}
    assert "line 8 or before are committed" in report.errors[0].reason


def test_a_rejected_job_commits_nothing_and_is_audited(registry: Any, seeded: Any) -> None:
    _, database = registry
    job = _job(registry, seeded, _csv(20, bad=13), import_batch_rows=4)
    assert job.state == "rejected" and job.patients_committed == 0
    assert job.problem_count >= 1
    assert job.problems and job.problems[0]["row"] == 28 and job.problems[0]["record_id"] == "R0013"
    assert _count(database, Patient) == 0
    with database.read_sessions() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.action == "import_rejected")).one()
    assert row.entity_id == job.id and row.actor_username == "editor_a"


def test_the_site_row_limit_applies(registry: Any, seeded: Any) -> None:
    job = _job(registry, seeded, _csv(5), import_site_limits={"SITE-A": (10_000_000, 6)})
    assert job.state == "rejected"
    assert job.problems is not None and job.problems[-1]["code"] == "too_many_rows"


def test_the_site_byte_limit_and_one_job_per_site(registry: Any, seeded: Any) -> None:
    _, database = registry
    small = _settings(registry, import_site_limits={"SITE-A": (2048, 100)})
    with database.write_sessions() as s, pytest.raises(InvalidInputError) as err:
        create_job(s, seeded["editor_a"], small, _csv(40))
    assert err.value.code == "import_too_large"
    settings = _settings(registry)
    with database.write_sessions() as s:
        create_job(s, seeded["editor_a"], settings, _csv(2))
        s.commit()
        with pytest.raises(ConflictError) as conflict:
            create_job(s, seeded["editor_a"], settings, _csv(2))
        assert conflict.value.code == "import_running"
        create_job(s, seeded["editor_b"], settings, _csv(2))  # another site is not blocked


def test_a_restart_marks_unfinished_jobs_failed(registry: Any, seeded: Any) -> None:
    _, database = registry
    settings = _settings(registry)
    here = socket.gethostname()
    with database.write_sessions() as s:
        elsewhere = create_job(s, seeded["editor_b"], settings, _csv(3), worker="other-host:1:x")
        # A process of this host that no longer exists (pids stop well below 2**22).
        job = create_job(s, seeded["editor_a"], settings, _csv(3), worker=f"{here}:4999999:x")
        job.state, job.patients_committed, job.events_committed = "committing", 2, 2
        job.committed_through_line = 4
        s.commit()
    # The job of another machine with a recent heartbeat may still be running there.
    assert mark_interrupted(database, f"{here}:{os.getpid()}:new") == [job.id]
    with database.read_sessions() as s:
        other = s.get(ImportJob, elsewhere.id)
        assert other is not None and other.state == "queued"
    with database.read_sessions() as s:
        ended = s.get(ImportJob, job.id)
        assert ended is not None and ended.state == "failed" and ended.finished_at is not None
        assert ended.message is not None and "2 patients and 2 events" in ended.message
        assert "through line 4" in ended.message
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "import_failed")).one()
    assert audited.entity_id == job.id
    assert not import_jobs.spool_path(job.id).exists()
    assert mark_interrupted(database, f"{here}:{os.getpid()}:new") == []


def test_the_database_allows_one_unfinished_job_per_site(registry: Any, seeded: Any) -> None:
    _, database = registry
    site = seeded["editor_a"].site_id

    def job(state: str) -> ImportJob:
        return ImportJob(id=secrets.token_hex(16), site_id=site, username="editor_a",
                         state=state, size_bytes=1, rows_read=0, rows_validated=0,
                         patients_committed=0, events_committed=0, problem_count=0)  # fmt: skip

    with database.write_sessions() as s:
        s.add_all([job("succeeded"), job("failed"), job("queued")])
        s.commit()
        s.add(job("committing"))  # two uploads at once: the second insert is refused
        with pytest.raises(IntegrityError):
            s.commit()
