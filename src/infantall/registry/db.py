"""Engine, sessions and schema migration of the registry database.

SQLite (the default) is opened in WAL mode with ``synchronous=FULL`` (acknowledged commits
survive power loss: sqlite.org "PRAGMA synchronous"), foreign keys on and a busy timeout;
its writers, in every process, queue on a writer lock file before ``BEGIN IMMEDIATE``
(:mod:`infantall.registry.writer_lock`). PostgreSQL is used as is. Engines are built from
settings by :func:`make_engine`, never at import time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from infantall.errors import InvalidInputError
from infantall.registry import import_jobs as _import_jobs  # noqa: F401  (joins Base.metadata)
from infantall.registry import trials as _trials  # noqa: F401  (its tables join Base.metadata)
from infantall.registry.audit import install_chain
from infantall.registry.audit_chain import SQLITE_SHA256, sha256_hex
from infantall.registry.read_session import ReadSession, track_writes
from infantall.registry.rls import apply_site_scope, scope_session
from infantall.registry.security import restrict_sqlite_file
from infantall.registry.settings import RegistrySettings
from infantall.registry.writer_lock import WriterConnection, lock_path_for, writer_lock_supported

__all__ = [
    "HEAD_REVISION",
    "BackupFile",
    "Database",
    "ReadSession",
    "alembic_config",
    "backup_database",
    "current_revision",
    "integrity_check",
    "make_engine",
    "make_sessionmaker",
    "ping_after_idle",
    "restore_database",
    "scope_session",
    "upgrade_database",
]

#: The newest migration; a database at this revision matches the models.
HEAD_REVISION = "0009"

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN; let SQLAlchemy emit it instead so
    # that writers take the lock at BEGIN IMMEDIATE and never deadlock on upgrade.
    dbapi_connection.isolation_level = None
    # The audit chain's links are hashed inside their INSERT (audit_chain._SQLITE_LINK_SQL).
    dbapi_connection.create_function(SQLITE_SHA256, 1, sha256_hex, deterministic=True)
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    dbapi_connection = conn.connection.dbapi_connection
    if isinstance(dbapi_connection, WriterConnection):
        dbapi_connection.begin_immediate()  # the cross-process writer lock, then BEGIN
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _writer_lock_on_connect(lock_path: str) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, WriterConnection):
            dbapi_connection.open_writer_lock(lock_path)

    return on_connect


def _sqlite_begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(
    settings: RegistrySettings,
    *,
    connect_args: dict[str, Any] | None = None,
    immediate: bool = True,
) -> Engine:
    """Create the engine for ``settings.database_url`` with the registry's connection set-up.

    On SQLite, ``immediate=True`` starts every transaction with ``BEGIN IMMEDIATE`` (a
    writer takes the lock up front and waits for it, instead of failing with "database is
    locked" when it upgrades a read snapshot); ``immediate=False`` is for read-only work,
    which WAL lets run beside a writer. A writer engine on a database file also takes the
    cross-process writer lock of :mod:`infantall.registry.writer_lock` before each
    ``BEGIN IMMEDIATE`` (writers of all processes queue without SQLite's busy sleeps).
    A SQLite database file is made readable by its owner only (created so, or tightened):
    every command and the web app open the database here, so none leaves it
    world-readable (SQLite gives its -wal and -shm files the database file's mode).
    """
    args = dict(connect_args or {})
    if settings.is_sqlite:
        restrict_sqlite_file(settings.database_url)
        args.setdefault("check_same_thread", False)
        args.setdefault("timeout", 10)
        lock_path = lock_path_for(make_url(settings.database_url).database)
        locked = immediate and lock_path is not None and writer_lock_supported()
        if locked:
            args.setdefault("factory", WriterConnection)
        engine = create_engine(settings.database_url, connect_args=args)
        event.listen(engine, "connect", _sqlite_on_connect)
        if locked and lock_path is not None:
            event.listen(engine, "connect", _writer_lock_on_connect(lock_path))
        begin = _sqlite_begin_immediate if immediate else _sqlite_begin_deferred
        event.listen(engine, "begin", begin)
        return engine
    engine = create_engine(
        settings.database_url,
        connect_args=args,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
    )
    ping_after_idle(engine)
    return engine


#: A pooled PostgreSQL connection that sat unused this long is pinged before it is reused.
IDLE_PING_SECONDS = 1.0
_CHECKED_IN = "infantall_checked_in"


def ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only after it sat idle ``IDLE_PING_SECONDS``.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one round trip more per request,
    though under load a connection is back in use within milliseconds. This is its
    pessimistic disconnect handling with a time condition, in the form SQLAlchemy documents
    for a custom ping (a ``checkout`` listener raising ``DisconnectionError``): a connection
    the server dropped while it sat in the pool (a restart, an idle timeout, a terminated
    backend) fails its ping, the pool replaces it with a new one and invalidates every older
    connection. A drop between two uses less than ``IDLE_PING_SECONDS`` apart surfaces on the
    request's first query instead, which SQLAlchemy also reads as a disconnect and answers
    by invalidating the pool. A connection never checked in (fresh) is not pinged.

    The web app has two pools on one server (:mod:`infantall.registry.evented`): a
    connection is also pinged, however briefly idle, when a connection of any engine of this
    process to the same database was found lost since it was checked in, so that one
    request's disconnect warns the other pool too.
    """
    dialect = engine.dialect
    server = _server_key(engine)

    def lost(context: Any) -> None:
        if context.is_disconnect:
            _LOST_AT[server] = time.monotonic()

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_CHECKED_IN)
        if last is None:
            return
        if time.monotonic() - last < IDLE_PING_SECONDS and _LOST_AT.get(server, 0.0) < last:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_connection, None):
                raise exc.InvalidatePoolError(f"pooled connection lost while idle: {err}") from err
            raise

    event.listen(engine, "handle_error", lost)
    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)


#: When a connection to each database (:func:`_server_key`) was last found lost.
_LOST_AT: dict[tuple[str | None, int | None, str | None], float] = {}


def _server_key(engine: Engine) -> tuple[str | None, int | None, str | None]:
    url = engine.url
    return url.host, url.port, url.database


def make_sessionmaker(engine: Engine, *, reads: bool = False) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (API responses read them),
    chain every audit row they write (:func:`infantall.registry.audit.install_chain`) and,
    on PostgreSQL, keep a site-scoped caller to its site by row-level security
    (:func:`scope_session`). ``reads``: the reader sessions; on PostgreSQL they end a
    transaction that only read with ``COMMIT`` (:class:`ReadSession`)."""
    postgresql = engine.dialect.name == "postgresql"
    session_class = ReadSession if reads and postgresql else Session
    maker = sessionmaker(bind=engine, expire_on_commit=False, class_=session_class)
    install_chain(maker)
    if postgresql:
        event.listen(maker, "after_begin", apply_site_scope)
        track_writes(engine)
    return maker


@dataclass(frozen=True, slots=True)
class Database:
    """The registry database: a writer engine and a reader engine (the same on PostgreSQL).

    Build it with :meth:`from_settings`; close it with :meth:`dispose`.
    """

    engine: Engine
    read_engine: Engine
    write_sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    #: SQLite admits one writer at a time; writers of this process queue on this lock
    #: instead of polling SQLite's busy handler (which sleeps up to 100 ms per retry).
    write_lock: threading.Lock | None = None
    #: SQLite on a file with ``flock``: every write connection takes the cross-process
    #: writer lock at ``BEGIN IMMEDIATE`` (:mod:`infantall.registry.writer_lock`).
    file_locked: bool = False

    @classmethod
    def from_settings(
        cls, settings: RegistrySettings, *, connect_args: dict[str, Any] | None = None
    ) -> Database:
        """Open (not create) the database of ``settings``."""
        engine = make_engine(settings, connect_args=connect_args)
        reader = (
            make_engine(settings, connect_args=connect_args, immediate=False)
            if settings.is_sqlite
            else engine
        )
        lock = threading.Lock() if settings.is_sqlite else None
        path = lock_path_for(make_url(settings.database_url).database) if lock else None
        file_locked = path is not None and writer_lock_supported()
        return cls(
            engine,
            reader,
            make_sessionmaker(engine),
            make_sessionmaker(reader, reads=True),
            lock,
            file_locked,
        )

    @property
    def process_write_lock(self) -> threading.Lock | None:
        """The lock a writer session of this process must hold for its whole life: SQLite
        without the file lock only. With it (a database file with ``flock``), every write
        connection takes the cross-process lock at ``BEGIN IMMEDIATE`` and drops it at
        ``COMMIT``/``ROLLBACK``, between this process's threads too; PostgreSQL locks rows."""
        return None if self.file_locked else self.write_lock

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        self.read_engine.dispose()


def alembic_config(engine: Engine) -> Any:
    """An Alembic ``Config`` for the migrations shipped inside this package."""
    from alembic.config import Config

    config = Config()
    location = resources.files("infantall.registry") / "migrations"
    config.set_main_option("script_location", str(location))
    config.attributes["engine"] = engine
    return config


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the schema with Alembic (the only way the schema changes)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (``None`` for an empty database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if value is None else str(value)


def integrity_check(engine: Engine) -> list[str]:
    """Problems the database finds in itself; an empty list means healthy.

    SQLite: ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``. PostgreSQL:
    checks that every foreign key of the registry points to an existing row.
    """
    problems: list[str] = []
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            result = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check")]
            if result != ["ok"]:
                problems.extend(result)
            problems.extend(
                f"foreign key: {tuple(r)}" for r in conn.exec_driver_sql("PRAGMA foreign_key_check")
            )
        else:
            for child, fk, parent in (
                ("events", "patient_id", "patients"),
                ("patients", "site_id", "sites"),
                ("api_tokens", "user_id", "users"),
                ("risk_assignments", "patient_id", "patients"),
            ):
                orphans = conn.execute(
                    text(
                        f"SELECT count(*) FROM {child} c LEFT JOIN {parent} p "
                        f"ON c.{fk} = p.id WHERE p.id IS NULL"
                    )
                ).scalar_one()
                if orphans:
                    problems.append(f"{orphans} orphan rows in {child}.{fk}")
    return problems


# --- backup and restore ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupFile:
    """A backup (or the file a restore read): where, which backend, size and SHA-256."""

    path: str
    backend: str
    size_bytes: int
    sha256: str

    def as_record(self) -> dict[str, Any]:
        """The fields as one flat, JSON-safe record."""
        return {
            "path": self.path,
            "backend": self.backend,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
        }


def _described(path: Path, backend: str) -> BackupFile:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return BackupFile(str(path), backend, path.stat().st_size, digest.hexdigest())


def _sqlite_file(settings: RegistrySettings) -> Path:
    name = make_url(settings.database_url).database
    if not name or name == ":memory:":
        raise InvalidInputError(
            "database_url", "backup needs a SQLite database file", "invalid_setting"
        )
    return Path(name)


def _pg_tool(tool: str, settings: RegistrySettings, field: str, *args: str) -> None:
    """Run ``pg_dump``/``pg_restore`` against the settings' database (password in the
    environment, never on the command line)."""
    executable = shutil.which(tool)
    if executable is None:
        raise InvalidInputError(
            "database_url", f"{tool} is not installed (PostgreSQL client tools)", "missing_tool"
        )
    url = make_url(settings.database_url)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run(
        [executable, *args, f"--dbname={dsn}"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise InvalidInputError(
            field, f"{tool} failed: {done.stderr.strip()[-500:]}", "backup_failed"
        )


def backup_database(settings: RegistrySettings, destination: Path) -> BackupFile:
    """Write a consistent copy of the live database to ``destination`` (mode 0600).

    SQLite: the online backup API (``sqlite3.Connection.backup``; writers may keep going,
    the copy is one consistent snapshot). PostgreSQL: ``pg_dump --format=custom`` (one
    snapshot; restored by :func:`restore_database` with ``pg_restore``).

    Raises
    ------
    InvalidInputError
        ``backup_exists`` if ``destination`` exists; ``backup_failed`` or ``missing_tool``.
    """
    try:  # created here, owner-only, or refused: never over an existing file
        os.close(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise InvalidInputError(
            "destination", f"{destination} already exists", "backup_exists"
        ) from None
    except OSError as exc:
        raise InvalidInputError(
            "destination", f"cannot write {destination}: {exc.strerror or exc}", "backup_failed"
        ) from None
    try:
        os.chmod(destination, 0o600)
        return _write_backup(settings, destination)
    except BaseException:
        destination.unlink(missing_ok=True)  # a failed backup leaves no partial file behind
        raise


def _write_backup(settings: RegistrySettings, destination: Path) -> BackupFile:
    if settings.is_sqlite:
        source = sqlite3.connect(_sqlite_file(settings))
        target = sqlite3.connect(destination)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
        return _described(destination, "sqlite")
    _pg_tool(
        "pg_dump",
        settings,
        "database_url",
        "--format=custom",
        "--no-owner",
        f"--file={destination}",
    )
    return _described(destination, "postgresql")


def restore_database(settings: RegistrySettings, source: Path) -> BackupFile:
    """Replace the settings' database by the backup ``source`` (then run ``verify``).

    SQLite: the backup API copies the file into the database page by page. PostgreSQL:
    ``pg_restore --clean --if-exists --no-owner --single-transaction`` (all or nothing).

    Raises
    ------
    InvalidInputError
        ``backup_missing`` when ``source`` is not a file; ``backup_failed`` or
        ``missing_tool``.
    """
    if not source.is_file():
        raise InvalidInputError("source", f"{source} is not a file", "backup_missing")
    if settings.is_sqlite:
        with source.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                raise InvalidInputError("source", "not a SQLite backup", "backup_failed")
        backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        target_path = _sqlite_file(settings)
        target = sqlite3.connect(target_path)
        try:
            with target:
                backup.backup(target)
        finally:
            target.close()
            backup.close()
        os.chmod(target_path, 0o600)
        return _described(source, "sqlite")
    _pg_tool(
        "pg_restore",
        settings,
        "source",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        str(source),
    )
    return _described(source, "postgresql")
