"""Least privilege on PostgreSQL: the app connects as a role that cannot rewrite history.

``infantall registry init --app-role NAME`` runs the migrations as the connecting role
(the *owner*: it owns every table, trigger and function) and then creates (or updates) the
*app role* with only what the web app and the CLI need:

* ``SELECT, INSERT, UPDATE`` on the data tables (sites, users, tokens, patients, events,
  risk groups) — no ``DELETE`` anywhere (records are voided, never deleted);
* ``SELECT, INSERT`` only on ``audit_log``, ``audit_chain``, the trial ledgers and the
  e-signature tables (``signatures``, ``signature_unlocks``): no UPDATE, DELETE or
  TRUNCATE (the triggers refuse them too, a second wall);
* ``SELECT`` on ``alembic_version``; ``USAGE`` on the id sequences;
* ``SELECT`` on the pooled views of schema ``infantall_pooled`` (migration 0009: what a
  coordinator's session reads), and ``UPDATE`` on its ``patients`` view only so that an
  unlock can row-lock the patient (``SELECT ... FOR UPDATE``; a trigger refuses every write
  through the views);
* ``NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT`` and not the owner: it can
  neither ``ALTER TABLE ... DISABLE TRIGGER`` (owner only) nor set
  ``session_replication_role`` (superuser only).

The app then runs with ``INFANTALL_DATABASE_URL`` naming the app role; migrations keep
running with the owner's URL (``registry init --database-url``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from infantall.errors import InvalidInputError
from infantall.registry.models import Base

__all__ = ["APPEND_ONLY_TABLES", "POOLED_VIEWS", "AppRoleGrant", "grant_app_role"]

#: Tables the app role may only read and append to.
APPEND_ONLY_TABLES = (
    "audit_log",
    "audit_chain",
    "trial_spec_versions",
    "trial_enrolments",
    "trial_interims",
    "signatures",
    "signature_unlocks",
)
#: The pooled views of migration 0009 (schema ``infantall_pooled``).
POOLED_VIEWS = ("infantall_pooled.patients", "infantall_pooled.events")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class AppRoleGrant:
    """What :func:`grant_app_role` set up."""

    role: str
    owner: str
    created: bool
    data_tables: tuple[str, ...]
    append_only_tables: tuple[str, ...]

    def as_record(self) -> dict[str, Any]:
        """A flat, JSON-safe record."""
        return {
            "app_role": self.role,
            "owner_role": self.owner,
            "app_role_created": self.created,
            "read_write_tables": ", ".join(self.data_tables),
            "append_only_tables": ", ".join(self.append_only_tables),
        }


def _grants(role: str, schema: str, data: tuple[str, ...]) -> list[str]:
    q = f'"{role}"'
    statements = [
        f'GRANT USAGE ON SCHEMA "{schema}" TO {q}',
        f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {q}',
        f"GRANT SELECT ON alembic_version TO {q}",
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {q}',
    ]
    statements += [f"GRANT SELECT, INSERT, UPDATE ON {t} TO {q}" for t in data]
    statements += [f"GRANT SELECT, INSERT ON {t} TO {q}" for t in APPEND_ONLY_TABLES]
    return statements


def _pooled_grants(role: str) -> list[str]:
    q = f'"{role}"'
    return [
        f"GRANT USAGE ON SCHEMA infantall_pooled TO {q}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA infantall_pooled FROM {q}",
        *(f"GRANT SELECT ON {v} TO {q}" for v in POOLED_VIEWS),
        f"GRANT UPDATE ON infantall_pooled.patients TO {q}",  # the row lock of an unlock
    ]


def grant_app_role(engine: Engine, role: str, password: str | None) -> AppRoleGrant:
    """Create (or update) the least-privilege app role on the migrated database.

    Raises
    ------
    InvalidInputError
        ``invalid_role`` for a role name that is not a plain lower-case identifier or that
        names the owner; ``unsupported_backend`` on SQLite (a file has no roles: protect it
        with file permissions).
    """
    if engine.dialect.name != "postgresql":
        raise InvalidInputError(
            "app_role",
            "roles exist on PostgreSQL only (SQLite: file mode 0600)",
            "unsupported_backend",
        )
    if not _ROLE_NAME.match(role):
        raise InvalidInputError(
            "app_role", "use a lower-case identifier (letters, digits, _)", "invalid_role"
        )
    data = tuple(
        t.name
        for t in Base.metadata.sorted_tables
        if t.name not in APPEND_ONLY_TABLES and t.name != "alembic_version"
    )
    with engine.begin() as conn:
        owner = str(conn.execute(text("SELECT current_user")).scalar_one())
        schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
        database = str(conn.execute(text("SELECT current_database()")).scalar_one())
        if role == owner:
            raise InvalidInputError(
                "app_role", "the app role must not be the owner of the tables", "invalid_role"
            )
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        created = exists.first() is None
        verb = "CREATE" if created else "ALTER"
        attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT"
        conn.execute(text(f'{verb} ROLE "{role}" WITH {attributes}'))
        if password:
            quoted = conn.execute(text("SELECT quote_literal(:p)"), {"p": password}).scalar_one()
            conn.execute(text(f'ALTER ROLE "{role}" PASSWORD {quoted}'))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"'))
        statements = _grants(role, schema, data)
        pooled = conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = 'infantall_pooled'"))
        if pooled.first() is not None:  # migration 0009 and later
            statements += _pooled_grants(role)
        for statement in statements:
            conn.execute(text(statement))
    return AppRoleGrant(role, owner, created, data, APPEND_ONLY_TABLES)
