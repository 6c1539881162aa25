"""Who may do what: roles, site scope, and the identity of a request (``Principal``).

Default deny (anchors-reliability A2): a site role sees only its own site, an account
without a site sees no patient, ``coordinator`` reads every site, ``admin`` manages users
and sites but reads no patient data. An ``investigator`` reads its own site and signs (and
unlocks) its patients' data sets but never edits them; a coordinator may unlock any site's.
Role checks (403) come before scope checks, and a record outside the caller's scope is
reported exactly like a missing one (404).

A coordinator reads the pooled view only (issue 14): no patient-level record with
identifying values (site-local code, true dates, notes, the audit history) through the API
or the pages — :func:`require_record_level` refuses it with 403 ``pooled_only``. What it
keeps: the pooled, pseudonymised and date-shifted outputs (pooled export, analysis
dataset, data-quality findings, ``/coordinator``) and, by registry id, a signed patient's
signature state and its unlock. On PostgreSQL the database refuses it too (migration 0009).
"""

from __future__ import annotations

from dataclasses import dataclass

from infantall.registry.errors import PermissionDeniedError
from infantall.registry.models import Role

__all__ = [
    "POOLED_ONLY",
    "READ_ROLES",
    "SIGN_ROLES",
    "SITE_ROLES",
    "UNLOCK_ROLES",
    "WRITE_ROLES",
    "Principal",
    "can_read_site",
    "can_write_site",
    "require_record_level",
    "require_role",
]

#: Error code of a patient-level read refused to a caller who reads the pooled view only.
POOLED_ONLY = "pooled_only"

#: Roles that read patient data (each within its scope).
READ_ROLES = frozenset({Role.site_editor, Role.site_viewer, Role.coordinator, Role.investigator})
#: Roles that write patient data (own site only).
WRITE_ROLES = frozenset({Role.site_editor})
#: Roles that sign a patient's data set (own site only).
SIGN_ROLES = frozenset({Role.investigator})
#: Roles that unlock a signed patient (investigator: own site; coordinator: any site).
UNLOCK_ROLES = frozenset({Role.investigator, Role.coordinator})
#: Roles scoped to one site.
SITE_ROLES = frozenset({Role.site_editor, Role.site_viewer, Role.investigator})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    username: str
    role: Role
    site_id: int | None
    token_id: int | None = None
    channel: str = "api"

    @property
    def reads_all_sites(self) -> bool:
        """Whether the caller's scope is every site (coordinator)."""
        return self.role is Role.coordinator


def require_role(principal: Principal, roles: frozenset[Role] | set[Role], action: str) -> None:
    """Raise :class:`PermissionDeniedError` unless the caller has one of ``roles``."""
    if principal.role not in roles:
        raise PermissionDeniedError(f"the role {principal.role.value} may not {action}")


def require_record_level(principal: Principal, action: str) -> None:
    """Raise :class:`PermissionDeniedError` (403 ``pooled_only``) when the caller reads the
    pooled view only (coordinator) and ``action`` would show identifying patient values."""
    if principal.role is Role.coordinator:
        raise PermissionDeniedError(
            f"pooled_only: a coordinator may not {action}; coordinators read the pooled, "
            "de-identified view only (/coordinator, /api/v1/export/pooled, /api/v1/analysis/"
            "dataset, /api/v1/quality)",
            POOLED_ONLY,
        )


def can_read_site(principal: Principal, site_id: int) -> bool:
    """Whether the caller may read patient data of ``site_id``."""
    if principal.role is Role.coordinator:
        return True
    if principal.role in SITE_ROLES:
        return principal.site_id is not None and principal.site_id == site_id
    return False


def can_write_site(principal: Principal, site_id: int) -> bool:
    """Whether the caller may change patient data of ``site_id``."""
    return (
        principal.role is Role.site_editor
        and principal.site_id is not None
        and principal.site_id == site_id
    )
