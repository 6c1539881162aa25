"""Engine, sessions and schema migration of the registry database.

SQLite (the default) is opened in WAL mode with ``synchronous=FULL`` (acknowledged commits
survive power loss: sqlite.org "PRAGMA synchronous"), foreign keys on and a busy timeout;
PostgreSQL is used as is. Engines are built from settings by :func:`make_engine`, never at
import time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from infantall.registry.audit import chain_new_entries
from infantall.registry.settings import RegistrySettings

__all__ = [
    "HEAD_REVISION",
    "Database",
    "alembic_config",
    "current_revision",
    "integrity_check",
    "make_engine",
    "make_sessionmaker",
    "upgrade_database",
]

#: The newest migration; a database at this revision matches the models.
HEAD_REVISION = "0002"

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
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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
    which WAL lets run beside a writer.
    """
    args = dict(connect_args or {})
    if settings.is_sqlite:
        args.setdefault("check_same_thread", False)
        args.setdefault("timeout", 10)
        engine = create_engine(settings.database_url, connect_args=args)
        event.listen(engine, "connect", _sqlite_on_connect)
        begin = _sqlite_begin_immediate if immediate else _sqlite_begin_deferred
        event.listen(engine, "begin", begin)
        return engine
    return create_engine(
        settings.database_url,
        connect_args=args,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (API responses read them) and
    chain every audit row they write (:func:`infantall.registry.audit.chain_new_entries`)."""
    maker = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(maker, "after_flush", chain_new_entries)
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
        return cls(engine, reader, make_sessionmaker(engine), make_sessionmaker(reader), lock)

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
