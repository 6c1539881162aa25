"""CSV imports that run as jobs, so that a long import cannot stall the other sites.

``POST /api/v1/import`` of a large file (or with ``Prefer: respond-async``) stores the upload
in a private spool file (mode 0600), records an :class:`ImportJob` row and answers ``202``
with the job's status URL; a thread of the server process (:class:`ImportJobRunner`, no
broker) then runs :func:`run_job`:

1. ``validating``: the file is read as a stream and validated as a whole
   (:func:`infantall.registry.csv_import.validate_import`), nothing written; ``rows_read``
   advances as it goes. An invalid file ends ``rejected``: nothing committed, the problems
   stored with the job (the first :data:`MAX_STORED_PROBLEMS`; ``problem_count`` has them
   all) and an ``import_rejected`` audit row.
2. ``committing``: batches of at most ``import_batch_rows`` CSV rows, each its own short
   transaction (:func:`infantall.registry.csv_import.commit_batches`). The job row's counts
   (``patients_committed``, ``events_committed``, ``committed_through_line``) are updated
   **inside each batch's transaction**, so they always say exactly what is committed, even
   after a crash. The job ends ``succeeded``, or ``failed`` when a batch fails (its records
   and every later one not committed; an ``import_failed`` audit row says what was).

The answer a client reads at ``GET /api/v1/imports/{job_id}`` is therefore never behind
the database: no commit happens that the job does not report. A server restart ends every
job it was running: :meth:`ImportJobRunner.recover` (run when the app starts) marks them
``failed`` with what their committed batches hold; the upload is not resumed (send the
records after ``committed_through_line`` again).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ForeignKey, Index, Integer, String, Text, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from infantall.errors import InvalidInputError
from infantall.registry import audit
from infantall.registry.access import WRITE_ROLES, Principal, require_role
from infantall.registry.csv_import import BatchDone, commit_batches, validate_import
from infantall.registry.csv_report import RowError
from infantall.registry.errors import ConflictError, NotFoundError
from infantall.registry.models import Base, JSONType, Role, Site, UTCDateTime, utcnow
from infantall.registry.rls import scope_session
from infantall.registry.settings import RegistrySettings


class Database(Protocol):
    """What a job needs of :class:`infantall.registry.db.Database` (which imports this
    module for its table, so it is described here rather than imported)."""

    @property
    def write_lock(self) -> threading.Lock | None: ...
    @property
    def write_sessions(self) -> sessionmaker[Session]: ...
    @property
    def read_sessions(self) -> sessionmaker[Session]: ...


__all__ = [
    "ACTIVE_STATES",
    "MAX_STORED_PROBLEMS",
    "ImportJob",
    "ImportJobRunner",
    "create_job",
    "get_job",
    "job_record",
    "mark_interrupted",
    "run_job",
]

log = logging.getLogger(__name__)

#: States of a job that has not ended.
ACTIVE_STATES = ("queued", "validating", "committing")
#: The same, as the SQL condition of the partial unique index (migration 0005).
ACTIVE_SQL = "state IN ('queued', 'validating', 'committing')"
#: Problems stored with a rejected job (``problem_count`` counts them all).
MAX_STORED_PROBLEMS = 1000
#: Pause after each batch so that other writers go first: on SQLite the requests queued on
#: the process's write lock, on both backends the request threads of this process waiting
#: for the interpreter (the job is pure Python between its round trips). This share of the
#: time the batch took (the first: SQLite, where others wait for the writer; the second:
#: PostgreSQL), at least the first bound and at most the second.
_YIELD_SHARE = (0.5, 0.2)
_YIELD_SECONDS = 0.005
_MAX_YIELD_SECONDS = 0.25


class ImportJob(Base):
    """One CSV import run as a job: its state, progress and outcome (migration 0005)."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        Index("ix_import_jobs_site_state", "site_id", "state"),
        # One import at a time per site, enforced by the database too (two uploads at once).
        Index(
            "uq_import_jobs_active_site", "site_id", unique=True,
            sqlite_where=text(ACTIVE_SQL), postgresql_where=text(ACTIVE_SQL),
        ),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(Integer)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_validated: Mapped[int] = mapped_column(Integer, default=0)
    patients_committed: Mapped[int] = mapped_column(Integer, default=0)
    events_committed: Mapped[int] = mapped_column(Integer, default=0)
    committed_through_line: Mapped[int | None] = mapped_column(Integer)
    problem_count: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    message: Mapped[str | None] = mapped_column(Text)
    #: ``host:pid:token`` of the process running the job (who may still finish it).
    worker: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


def job_record(job: ImportJob, api_prefix: str = "/api/v1") -> dict[str, Any]:
    """The job as the JSON the status URL answers (strict JSON: null, never NaN)."""
    return {
        "job_id": job.id,
        "status_url": f"{api_prefix}/imports/{job.id}",
        "state": job.state,
        "done": job.state not in ACTIVE_STATES,
        "filename": job.filename,
        "size_bytes": job.size_bytes,
        "rows_read": job.rows_read,
        "rows_validated": job.rows_validated,
        "patients_committed": job.patients_committed,
        "events_committed": job.events_committed,
        "committed_through_line": job.committed_through_line,
        "problem_count": job.problem_count,
        "problems": list(job.problems or []),
        "message": job.message,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def _spool_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "infantall-imports"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def spool_path(job_id: str) -> Path:
    """Where the upload of ``job_id`` waits for its job (deleted when the job ends)."""
    return _spool_dir() / f"{job_id}.csv"


def create_job(
    session: Session,
    principal: Principal,
    settings: RegistrySettings,
    content: bytes,
    filename: str | None = None,
    worker: str | None = None,
) -> ImportJob:
    """Check the caller and the site's limits, spool the upload and add a queued job.

    The caller commits ``session`` and then hands the job to :meth:`ImportJobRunner.submit`.

    Raises
    ------
    InvalidInputError
        ``import_too_large`` when the file exceeds the site's byte limit.
    ConflictError
        ``import_running`` when the site already has an import that has not ended.
    """
    require_role(principal, WRITE_ROLES, "import patients")
    assert principal.site_id is not None  # site editors always have a site
    code = session.scalar(select(Site.code).where(Site.id == principal.site_id)) or ""
    max_bytes, _ = settings.import_limits(code)
    if len(content) > max_bytes:
        raise InvalidInputError(
            "file", f"the file is larger than this site's limit of {max_bytes} bytes",
            "import_too_large",
        )  # fmt: skip
    running = session.scalar(
        select(ImportJob.id).where(
            ImportJob.site_id == principal.site_id, ImportJob.state.in_(ACTIVE_STATES)
        )
    )
    if running is not None:
        raise ConflictError(
            f"this site's import {running} has not ended; wait for it "
            f"(GET /api/v1/imports/{running})",
            "import_running",
        )
    job = ImportJob(
        id=secrets.token_hex(16), site_id=principal.site_id, user_id=principal.user_id,
        username=principal.username, state="queued", filename=(filename or None),
        size_bytes=len(content), problems=None, worker=worker,
    )  # fmt: skip
    session.add(job)
    try:
        session.flush()
    except IntegrityError:  # another upload of this site got in first
        session.rollback()
        raise ConflictError("this site's previous import has not ended", "import_running") from None
    fd = os.open(spool_path(job.id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    return job


def get_job(session: Session, principal: Principal, job_id: str) -> ImportJob:
    """The job, for the accounts of its site (and coordinators); 404 for anyone else."""
    job = session.get(ImportJob, job_id)
    visible = job is not None and (
        principal.role is Role.coordinator or principal.site_id == job.site_id
    )
    if job is None or not visible:
        raise NotFoundError(f"no import job {job_id}", "import_job_not_found")
    return job


# --- running a job ---------------------------------------------------------------------


@contextlib.contextmanager
def _writer(
    database: Database, principal: Principal | None = None, pause: bool = False
) -> Iterator[Session]:
    """A write session (kept to ``principal``'s site by row-level security on PostgreSQL),
    holding the process's SQLite write lock for its lifetime only; with ``pause`` (or on
    SQLite), a short pause follows (see :data:`_YIELD_SHARE`)."""
    lock = database.write_lock or contextlib.nullcontext()
    with lock, database.write_sessions() as session:
        held = time.perf_counter()
        if principal is not None:
            scope_session(session, principal)
        yield session
        held = time.perf_counter() - held
    if pause or database.write_lock is not None:
        # ``threading.Lock`` is not fair, nor is the interpreter lock: without a pause the
        # job would take them back before a waiting request's thread is even scheduled.
        share = _YIELD_SHARE[0] if database.write_lock is not None else _YIELD_SHARE[1]
        time.sleep(min(_MAX_YIELD_SECONDS, max(_YIELD_SECONDS, held * share)))


def _set(database: Database, job_id: str, **values: Any) -> None:
    with _writer(database) as session:
        session.execute(
            update(ImportJob).where(ImportJob.id == job_id).values(updated_at=utcnow(), **values)
        )
        session.commit()


def _problems(errors: tuple[RowError, ...] | list[RowError]) -> list[dict[str, Any]]:
    ordered = sorted(errors, key=lambda e: (e.row, e.field))
    return [e.as_record() for e in ordered[:MAX_STORED_PROBLEMS]]


def _end_audited(
    database: Database, job_id: str, principal: Principal, action: str, **values: Any
) -> None:
    """End the job and write its audit row in one transaction."""
    now = utcnow()
    with _writer(database) as session:
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(updated_at=now, finished_at=now, **values)
        )
        summary = {k: v for k, v in values.items() if k not in ("problems", "message")}
        audit.record(
            session, principal, action, "import", job_id,
            site_id=principal.site_id, new=summary, reason=values.get("message"),
        )  # fmt: skip
        session.commit()


def run_job(
    database: Database, settings: RegistrySettings, job_id: str, principal: Principal
) -> None:
    """Validate, then commit in batches, the spooled upload of ``job_id`` (see the module)."""
    path = spool_path(job_id)
    try:
        _validate_and_commit(database, settings, job_id, principal, path)
    except Exception as exc:  # the job must end, whatever happened
        log.exception("import job %s failed", job_id)
        with database.read_sessions() as session:
            job = session.get(ImportJob, job_id)
            kept = (job.patients_committed, job.events_committed) if job else (0, 0)
        _end_audited(database, job_id, principal, "import_failed", state="failed",
                     message=f"internal error ({type(exc).__name__}); {kept[0]} patients and "
                             f"{kept[1]} events were committed")  # fmt: skip
    finally:
        path.unlink(missing_ok=True)


def _validate_and_commit(
    database: Database,
    settings: RegistrySettings,
    job_id: str,
    principal: Principal,
    path: Path,
) -> None:
    _set(database, job_id, state="validating")
    with database.read_sessions() as session:
        scope_session(session, principal)
        code = session.scalar(select(Site.code).where(Site.id == principal.site_id)) or ""
        _, max_rows = settings.import_limits(code)
        with path.open("rb") as handle:
            parsed = validate_import(
                session, principal, handle, max_rows=max_rows,
                progress=lambda n: _set(database, job_id, rows_read=n),
            )  # fmt: skip
    if parsed.errors:
        _end_audited(database, job_id, principal, "import_rejected", state="rejected",
                     rows_read=parsed.rows_read, problem_count=len(parsed.errors),
                     problems=_problems(parsed.errors),
                     message="nothing was imported: the file has problems")  # fmt: skip
        return
    _set(database, job_id, state="committing", rows_read=parsed.rows_read,
         rows_validated=parsed.rows_read)  # fmt: skip

    def on_batch(session: Session, done: BatchDone) -> None:
        values: dict[str, Any] = {
            "patients_committed": done.patients, "events_committed": done.events,
            "committed_through_line": done.through_line, "updated_at": utcnow(),
        }  # fmt: skip
        if done.last:
            values |= {"state": "succeeded", "finished_at": utcnow(), "message": None}
        session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))

    report = commit_batches(
        lambda: _writer(database, principal, pause=True), principal, parsed,
        batch_rows=settings.import_batch_rows, on_batch=on_batch, audit_new={"job": job_id},
    )  # fmt: skip
    if not report.ok:
        _end_audited(database, job_id, principal, "import_failed", state="failed",
                     problem_count=len(report.errors), problems=_problems(report.errors),
                     message=report.errors[0].reason)  # fmt: skip


# --- the runner inside the server process ----------------------------------------------


def _this_host() -> str:
    return socket.gethostname()


def _worker_alive(worker: str | None, updated_at: dt.datetime, me: str) -> bool:
    """Whether the process named ``worker`` may still be running its job."""
    if not worker or worker == me:
        return False
    host, _, rest = worker.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _this_host():  # another machine: trust a recent heartbeat
        return utcnow() - updated_at < dt.timedelta(minutes=10)
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False  # this process, an earlier runner of it (tests), or garbage
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted(database: Database, me: str = "") -> list[str]:
    """Mark ``failed`` every job that has not ended and whose process is gone (a restart);
    returns their ids. Each keeps its committed counts, which the message repeats."""
    with database.read_sessions() as session:
        if not inspect(session.connection()).has_table("import_jobs"):
            return []  # a database not migrated yet has no jobs
        jobs = list(session.scalars(select(ImportJob).where(ImportJob.state.in_(ACTIVE_STATES))))
    ended = []
    for job in jobs:
        if _worker_alive(job.worker, job.updated_at, me):
            continue
        through = job.committed_through_line
        kept = f" (records through line {through})" if through is not None else ""
        message = (
            f"the server restarted while this import ran ({job.state}); "
            f"{job.patients_committed} patients and {job.events_committed} events were "
            f"committed{kept}, nothing after that"
        )
        now = utcnow()
        with _writer(database) as session:
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id, ImportJob.state.in_(ACTIVE_STATES))
                .values(state="failed", message=message, updated_at=now, finished_at=now)
            )
            audit.record(session, None, "import_failed", "import", job.id, site_id=job.site_id,
                         new={"state": "failed"}, reason=message, username="system")  # fmt: skip
            session.commit()
        spool_path(job.id).unlink(missing_ok=True)
        ended.append(job.id)
    return ended


class ImportJobRunner:
    """Import jobs on threads of this server process (``import_workers`` at once)."""

    def __init__(self, database: Database, settings: RegistrySettings) -> None:
        self.database = database
        self.settings = settings
        self.worker = f"{_this_host()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def recover(self) -> list[str]:
        """End the jobs a previous run of the server left unfinished (see the module)."""
        return mark_interrupted(self.database, self.worker)

    def submit(self, job_id: str, principal: Principal) -> Future[None]:
        """Run ``job_id`` (created with ``worker=self.worker``) on a worker thread."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.settings.import_workers, thread_name_prefix="infantall-import"
                )
            return self._pool.submit(run_job, self.database, self.settings, job_id, principal)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; with ``wait``, let the running ones finish."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=wait)
                self._pool = None
