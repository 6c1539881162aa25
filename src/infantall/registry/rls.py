"""PostgreSQL row-level security, set per session: the registry's second wall per site.

Migration 0006 gives ``patients``, ``events`` and ``risk_assignments`` policies that read the
session setting ``infantall.site_id``. :func:`scope_session` records the caller's site on a
session and :func:`apply_site_scope` (a session hook installed by
:func:`infantall.registry.db.make_sessionmaker`) sets it at the start of every transaction
with ``set_config(..., true)``, the function form of ``SET LOCAL``: it lasts for that
transaction only, so a pooled connection never carries one caller's site to the next.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from infantall.registry.access import Principal
from infantall.registry.models import Role

__all__ = ["apply_site_scope", "scope_session"]

#: The session setting the row-level security policies of migration 0006 read.
_SITE_SETTING = "SELECT set_config('infantall.site_id', :site, true)"


def apply_site_scope(session: Session, _transaction: Any, connection: Any) -> None:
    """Session hook (``after_begin``): the transaction just begun gets the session's site."""
    site = session.info.get("rls_site")
    if site is not None:
        connection.execute(text(_SITE_SETTING), {"site": site})


def scope_session(session: Session, principal: Principal) -> None:
    """Keep ``session`` to the caller's site by PostgreSQL row-level security (migration
    0006), a second wall behind the Python checks: for a site-scoped caller (site editor,
    site viewer) every transaction of the session starts with ``SET LOCAL
    infantall.site_id`` (``set_config(..., true)``), so even a raw SQL select sees that
    site's patients, events and risk groups only. Coordinators and admins read every site
    (setting left empty). SQLite has no row-level security: a no-op there.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    scoped = principal.role in (Role.site_editor, Role.site_viewer)
    site = str(principal.site_id) if scoped and principal.site_id is not None else None
    if site is None:
        session.info.pop("rls_site", None)
    else:
        session.info["rls_site"] = site
    if session.in_transaction():  # the transaction already begun gets it now
        session.execute(text(_SITE_SETTING), {"site": site or ""})
