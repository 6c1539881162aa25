"""Isolated registry databases for tests and benchmarks (SQLite and PostgreSQL).

Each call of :func:`isolated_database` gives a fresh, migrated database of its own: a new
SQLite file, or a new PostgreSQL schema named in the URL's ``search_path`` (STYLE.md §15:
each test owns its database). PostgreSQL is found through ``INFANTALL_TEST_POSTGRES_URL``
or, failing that, the local server on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from infantall.registry import admin
from infantall.registry.access import Principal
from infantall.registry.auth import login
from infantall.registry.db import Database, upgrade_database
from infantall.registry.models import Role, User
from infantall.registry.schemas import SiteCreate, UserCreate
from infantall.registry.security import password_hasher
from infantall.registry.settings import RegistrySettings, load_settings

__all__ = [
    "LOCAL_POSTGRES_URL",
    "SEED_ACCOUNTS",
    "SEED_PASSWORD",
    "TEST_SECRET",
    "DatabaseTemplates",
    "isolated_database",
    "make_test_settings",
    "postgres_unavailable_reason",
    "postgres_url",
    "require_postgres",
    "seed_registry",
]

#: The machine's PostgreSQL server (trust authentication), tried when the variable is unset.
LOCAL_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: A non-default secret for test settings (tests run in the ``test`` environment).
TEST_SECRET = "test-secret-0123456789abcdef"


def postgres_url() -> str:
    """``INFANTALL_TEST_POSTGRES_URL``, or the local server's URL."""
    return os.environ.get("INFANTALL_TEST_POSTGRES_URL") or LOCAL_POSTGRES_URL


def postgres_unavailable_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or ``None`` when the server answers."""
    url = postgres_url()
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure means "unavailable"
        return (
            f"no PostgreSQL at {url} ({type(exc).__name__}); set INFANTALL_TEST_POSTGRES_URL "
            "or start the server with .ci/run"
        )
    finally:
        engine.dispose()
    return None


_PG_REASON: list[str | None] = []


def require_postgres() -> None:
    """In a test: skip, or under CI fail, when no PostgreSQL server answers.

    DESIGN.md: the PostgreSQL tests skip with a clear reason only when neither
    ``INFANTALL_TEST_POSTGRES_URL`` nor a local server is available, and CI must run them: so
    under CI (``CI`` set) or with the URL given explicitly, an unreachable server is a failure.
    The server is asked once per process.
    """
    import pytest

    if not _PG_REASON:
        _PG_REASON.append(postgres_unavailable_reason())
    reason = _PG_REASON[0]
    if reason is None:
        return
    if os.environ.get("CI") or os.environ.get("INFANTALL_TEST_POSTGRES_URL"):
        pytest.fail(f"PostgreSQL must run here: {reason}")
    pytest.skip(reason)


def make_test_settings(database_url: str, **overrides: Any) -> RegistrySettings:
    """Settings for tests: test environment, cheap argon2, the given database."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "pseudonym_key": TEST_SECRET + "-pseudonyms",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "db_pool_size": 5,
    }
    values.update(overrides)
    return load_settings(**values)


def _database_url(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin_execute(*statements: str) -> None:
    server = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        server.dispose()


class DatabaseTemplates:
    """Migrate once per backend, then hand out fresh copies (fast per-test isolation).

    SQLite: the migrated file is copied. PostgreSQL: ``CREATE DATABASE ... TEMPLATE`` of a
    migrated template database. Call :meth:`close` to drop the templates.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sqlite: Path | None = None
        self._postgres: str | None = None
        self._seeded_sqlite: Path | None = None
        self._seeded_postgres: str | None = None
        #: Per backend: (username -> Principal, username -> bearer token) of the seeded copy.
        self.seeds: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}

    def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self.directory / "template.db"
            database = Database.from_settings(make_test_settings(f"sqlite:///{path}"))
            upgrade_database(database.engine)
            database.dispose()  # the last connection checkpoints the WAL into the file
            self._sqlite = path
        return self._sqlite

    def _postgres_template(self) -> str:
        if self._postgres is None:
            name = f"infantall_tmpl_{secrets.token_hex(5)}"
            _admin_execute(f'CREATE DATABASE "{name}"')
            database = Database.from_settings(
                make_test_settings(_database_url(postgres_url(), name))
            )
            upgrade_database(database.engine)
            database.dispose()
            self._postgres = name
        return self._postgres

    def _seed(self, settings: RegistrySettings, backend: str) -> None:
        database = Database.from_settings(settings)
        principals = seed_registry(database, settings)
        tokens = {}
        with database.write_sessions() as session:
            for username in SEED_ACCOUNTS:
                tokens[username] = login(
                    session,
                    settings,
                    password_hasher(settings),
                    username=username,
                    password=SEED_PASSWORD,
                ).token
        database.dispose()
        self.seeds[backend] = (principals, tokens)

    def _seeded_sqlite_template(self) -> Path:
        if self._seeded_sqlite is None:
            path = self.directory / "seeded.db"
            shutil.copyfile(self._sqlite_template(), path)
            self._seed(make_test_settings(f"sqlite:///{path}"), "sqlite")
            self._seeded_sqlite = path
        return self._seeded_sqlite

    def _seeded_postgres_template(self) -> str:
        if self._seeded_postgres is None:
            name = f"infantall_tmpl_{secrets.token_hex(5)}"
            _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._postgres_template()}"')
            self._seed(make_test_settings(_database_url(postgres_url(), name)), "postgresql")
            self._seeded_postgres = name
        return self._seeded_postgres

    @contextmanager
    def database(
        self, backend: str, directory: Path, *, seeded: bool = False, **overrides: Any
    ) -> Iterator[tuple[RegistrySettings, Database]]:
        """A fresh migrated database of ``backend`` (``sqlite``/``postgresql``), dropped after.

        ``seeded=True`` gives a copy that already holds :func:`seed_registry`'s sites and
        accounts and a bearer token per account (see :attr:`seeds`).
        """
        name = None
        if backend == "sqlite":
            path = directory / f"registry-{secrets.token_hex(4)}.db"
            source = self._seeded_sqlite_template() if seeded else self._sqlite_template()
            shutil.copyfile(source, path)
            url = f"sqlite:///{path}"
        elif backend == "postgresql":
            template = self._seeded_postgres_template() if seeded else self._postgres_template()
            name = f"infantall_t_{secrets.token_hex(6)}"
            _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            url = _database_url(postgres_url(), name)
        else:
            raise ValueError(f"unknown backend {backend!r}")
        settings = make_test_settings(url, **overrides)
        database = Database.from_settings(settings)
        try:
            yield settings, database
        finally:
            database.dispose()
            if name is not None:
                _admin_execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop the PostgreSQL template database."""
        for name in (self._seeded_postgres, self._postgres):
            if name is not None:
                _admin_execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        self._postgres = self._seeded_postgres = None


@contextmanager
def isolated_database(
    backend: str, directory: Path, **overrides: Any
) -> Iterator[tuple[RegistrySettings, Database]]:
    """A fresh migrated database (``backend`` is ``sqlite`` or ``postgresql``), dropped after."""
    templates = DatabaseTemplates(directory)
    try:
        with templates.database(backend, directory, **overrides) as pair:
            yield pair
    finally:
        templates.close()


#: Password of every account made by :func:`seed_registry`.
SEED_PASSWORD = "correct-horse-battery"
#: Accounts made by :func:`seed_registry`: username -> (role, site code).
SEED_ACCOUNTS: dict[str, tuple[str, str | None]] = {
    "admin": ("admin", None),
    "coord": ("coordinator", None),
    "editor_a": ("site_editor", "SITE-A"),
    "viewer_a": ("site_viewer", "SITE-A"),
    "editor_b": ("site_editor", "SITE-B"),
    "viewer_b": ("site_viewer", "SITE-B"),
    "inv_a": ("investigator", "SITE-A"),
    "inv_b": ("investigator", "SITE-B"),
}


def seed_registry(database: Database, settings: RegistrySettings) -> dict[str, Any]:
    """Two sites (SITE-A, SITE-B) and one account per role; returns username -> Principal."""
    hasher = password_hasher(settings)
    with database.write_sessions() as session:
        admin.bootstrap_admin(session, hasher, "admin", SEED_PASSWORD)
        root = session.scalar(select(User).where(User.username == "admin"))
        assert root is not None
        me = Principal(root.id, root.username, Role.admin, None)
        for code in ("SITE-A", "SITE-B"):
            admin.create_site(session, me, SiteCreate(code=code, name=f"Hospital {code[-1]}"))
        for username, (role, site) in SEED_ACCOUNTS.items():
            if username != "admin":
                data = UserCreate(
                    username=username, password=SEED_PASSWORD, role=Role(role), site_code=site
                )
                admin.create_user(session, me, hasher, data)
        users = session.scalars(select(User)).all()
        return {u.username: Principal(u.id, u.username, Role(u.role), u.site_id) for u in users}
