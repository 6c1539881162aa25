"""PostgreSQL row-level security, set per session: the registry's second wall.

Migration 0006 gives ``patients``, ``events`` and ``risk_assignments`` policies that read the
session setting ``infantall.site_id``; migration 0009 adds ``infantall.role``: a
coordinator's session is refused every row of ``patients`` and ``events`` and reads them
through the pooled views of schema ``infantall_pooled`` (no site-local code, notes or free
text), which that session puts first on its ``search_path``. :func:`scope_session` records
the caller's scope on a session and :func:`apply_site_scope` (a session hook installed by
:func:`infantall.registry.db.make_sessionmaker`) sets it at the start of every transaction
with ``set_config(..., true)``, the function form of ``SET LOCAL``: it lasts for that
transaction only, so a pooled connection never carries one caller's scope to the next.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, literal_column, text
from sqlalchemy.orm import Session

from infantall.registry.access import SITE_ROLES, Principal
from infantall.registry.models import Role

__all__ = ["POOLED_SCHEMA", "apply_site_scope", "scope_columns", "scope_session"]

#: The schema of the pooled views (migration 0009).
POOLED_SCHEMA = "infantall_pooled"
#: The roles kept to their own site (``infantall.site_id``): the Python checks' site roles
#: (:data:`infantall.registry.access.SITE_ROLES`), so the two walls cannot drift apart.
_SITE_SCOPED = tuple(sorted(SITE_ROLES, key=lambda r: r.value))


def _settings(site: str, role: str) -> tuple[str, str, str]:
    """The ``set_config`` calls of a scope, given SQL for its site and role (``''`` for
    none): the session settings the policies of migrations 0006 and 0009 read, and the
    search path, the pooled views first for a coordinator, the base tables for everyone
    else. One template for :data:`_SCOPE` (bound values) and :func:`scope_columns` (the
    caller's ``users`` row)."""
    path = (
        f"CASE WHEN {role} = '{Role.coordinator.value}' THEN '{POOLED_SCHEMA}, ' ELSE '' END "
        f"|| regexp_replace(current_setting('search_path'), '^{POOLED_SCHEMA}, ', '')"
    )
    return (
        f"set_config('infantall.site_id', {site}, true)",
        f"set_config('infantall.role', {role}, true)",
        f"set_config('search_path', {path}, true)",
    )


_SCOPE = "SELECT " + ", ".join(_settings("CAST(:site AS text)", "CAST(:role AS text)"))


def apply_site_scope(session: Session, _transaction: Any, connection: Any) -> None:
    """Session hook (``after_begin``): the transaction just begun gets the session's scope."""
    site = session.info.get("rls_site")
    role = session.info.get("rls_role")
    if site is not None or role is not None:
        connection.execute(text(_SCOPE), {"site": site or "", "role": role or ""})


def _scope_of(principal: Principal) -> tuple[str | None, str | None]:
    """(site, role) settings of ``principal``: the site for a site-scoped caller (site
    editor, site viewer, investigator), the role for a coordinator, neither for anyone else."""
    scoped = principal.role in _SITE_SCOPED
    site = str(principal.site_id) if scoped and principal.site_id is not None else None
    role = Role.coordinator.value if principal.role is Role.coordinator else None
    return site, role


def scope_columns() -> tuple[ColumnElement[Any], ...]:
    """The scope of :func:`scope_session`, set by a query of the ``users`` row itself.

    Added to the token lookup of :func:`infantall.registry.auth.authenticate` on
    PostgreSQL, these columns set the three settings of ``_SCOPE`` from the caller's own
    ``users`` row in the same round trip, by exactly :func:`_scope_of`'s rule (a test
    compares the two for every role). A token that is then refused (revoked, expired, an
    inactive account) leaves a scope set in a transaction that runs no other query.
    """
    scoped = ", ".join(f"'{r.value}'" for r in _SITE_SCOPED)
    coordinator = Role.coordinator.value
    site = (
        f"CASE WHEN users.role IN ({scoped}) AND users.site_id IS NOT NULL "
        "THEN CAST(users.site_id AS text) ELSE '' END"
    )
    role = f"CASE WHEN users.role = '{coordinator}' THEN '{coordinator}' ELSE '' END"
    return tuple(literal_column(call) for call in _settings(site, role))


def scope_session(session: Session, principal: Principal, *, applied: bool = False) -> None:
    """Keep ``session`` to the caller's scope by PostgreSQL row-level security (migrations
    0006 and 0009), a second wall behind the Python checks.

    For a site-scoped caller (site editor, site viewer, investigator) every transaction of
    the session starts with ``SET LOCAL infantall.site_id`` (``set_config(..., true)``), so
    even a raw SQL select sees that site's patients, events and risk groups only. A coordinator's
    session gets ``infantall.role = coordinator``: the base ``patients`` and ``events`` refuse
    it every row, and ``infantall_pooled`` comes first on its ``search_path``, so the
    registry's queries (pooled export, analysis dataset, data quality, ``/coordinator``, an
    unlock) read every site through the pooled views, without identifiers. Admins and the
    command line leave both settings empty. SQLite has no row-level security: a no-op there.

    ``applied``: the transaction already begun has this scope (its token lookup set it with
    :func:`scope_columns`), so only the later transactions of the session need it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    site, role = _scope_of(principal)
    for key, value in (("rls_site", site), ("rls_role", role)):
        if value is None:
            session.info.pop(key, None)
        else:
            session.info[key] = value
    if session.in_transaction() and not applied:  # the transaction already begun gets it now
        session.execute(text(_SCOPE), {"site": site or "", "role": role or ""})
