"""Sites and accounts (admin only): create, list and change, every change audited.

Role and site changes of an account are data changes of the ``user`` entity (ICH E6(R3)
4.2.2: account creation and permission changes are part of the audit trail).

Least privilege: the administrator manages sites and accounts and reads audit metadata,
never patient values. Two safeguards keep that promise:

* **Privileged grants are visible to every administrator.** Creating an account with, or
  changing an account to, a role that reads patient data of every site (``coordinator``)
  or manages accounts (``admin``) writes an extra audit row ``privilege_granted``;
  :func:`list_privilege_grants` (``GET /api/v1/users/privilege-grants`` and the admin page)
  shows every such grant to every administrator, with who granted it and when. We chose
  "logged and shown" over a second admin's approval because a registry often has a single
  administrator; the audit trail makes a grant undeniable and any other admin sees it.
* **Credential and permission changes end old sessions.** A password reset, a role or site
  change and a deactivation revoke every token and session of the account
  (:func:`infantall.registry.auth.revoke_user_tokens`), so nothing issued before the change
  keeps its old rights.

New passwords follow :func:`infantall.registry.security.check_password` (12 characters, not
on the shipped list of common and breached passwords).
"""

from __future__ import annotations

import datetime as dt

from argon2 import PasswordHasher
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infantall.errors import InvalidInputError
from infantall.registry import audit
from infantall.registry.access import SITE_ROLES, Principal, require_role
from infantall.registry.auth import revoke_user_tokens
from infantall.registry.errors import ConflictError, NotFoundError, ValidationFailedError
from infantall.registry.models import AuditEntry, Role, Site, User
from infantall.registry.schemas import (
    AuditPublic,
    SiteCreate,
    SitePublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from infantall.registry.security import check_password, hash_password

__all__ = [
    "ADMIN_VALUE_ENTITIES",
    "PRIVILEGED_ROLES",
    "PrivilegeGrant",
    "audit_metadata",
    "bootstrap_admin",
    "create_site",
    "create_user",
    "list_privilege_grants",
    "list_sites",
    "list_users",
    "site_public",
    "unlock_user",
    "update_user",
    "user_public",
]

_ADMIN = frozenset({Role.admin})
_SITE_ROLES = SITE_ROLES
#: Roles whose grant every administrator sees (pooled patient reads; account management).
PRIVILEGED_ROLES = frozenset({Role.coordinator, Role.admin})


#: Audited entities whose values an administrator may read (its own domain: no patient data).
ADMIN_VALUE_ENTITIES = frozenset({"site", "user", "token", "audit"})


def audit_metadata(entry: AuditEntry) -> AuditPublic:
    """An audit row as an administrator sees it: who, when, what kind, which id.

    The old and new values and the reason of rows about patient data (patients, events,
    risk assignments, imports, reads) are left out: a reason for change may quote a
    patient's values. Values of sites, accounts and tokens stay visible.
    """
    public = AuditPublic.model_validate(entry, from_attributes=True)
    if entry.entity in ADMIN_VALUE_ENTITIES:
        return public
    return public.model_copy(update={"old": None, "new": None, "reason": None})


class PrivilegeGrant(BaseModel):
    """One grant of a privileged role, from the audit trail."""

    audit_id: int
    at: dt.datetime
    granted_by: str | None
    username: str
    role: str
    previous_role: str | None


def _record_grant(
    session: Session, principal: Principal | None, user: User, previous: str | None
) -> None:
    if Role(user.role) not in PRIVILEGED_ROLES or user.role == previous:
        return
    audit.record(
        session,
        principal,
        "privilege_granted",
        "user",
        str(user.id),
        new={"username": user.username, "role": user.role, "previous_role": previous},
        username=None if principal else "registry-init",
    )


def site_public(site: Site) -> SitePublic:
    """The public form of a site."""
    return SitePublic(
        code=site.code, name=site.name, country=site.country, created_at=site.created_at
    )


def user_public(user: User, site_code: str | None) -> UserPublic:
    """The public form of an account (no hash)."""
    return UserPublic(
        username=user.username,
        role=user.role,
        site_code=site_code,
        active=user.active,
        locked_until=user.locked_until,
        version=user.version,
        created_at=user.created_at,
    )


def list_sites(session: Session, principal: Principal) -> list[SitePublic]:
    """Sites the caller may know: all for admins and coordinators, else the caller's own."""
    query = select(Site).order_by(Site.code)
    if principal.role not in (Role.admin, Role.coordinator):
        query = query.where(Site.id == (principal.site_id if principal.site_id else -1))
    return [site_public(s) for s in session.scalars(query)]


def create_site(session: Session, principal: Principal, data: SiteCreate) -> SitePublic:
    """Register a site (admin)."""
    require_role(principal, _ADMIN, "create sites")
    if session.scalar(select(Site.id).where(Site.code == data.code)) is not None:
        raise ConflictError(f"site {data.code} already exists", "duplicate_site")
    site = Site(code=data.code, name=data.name, country=data.country)
    session.add(site)
    session.flush()
    audit.record(
        session, principal, "create", "site", str(site.id), new=audit.snapshot("site", site)
    )
    session.commit()
    return site_public(site)


def _site_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    site_id = session.scalar(select(Site.id).where(Site.code == code))
    if site_id is None:
        raise ValidationFailedError(
            [InvalidInputError("site_code", f"no site {code}", "unknown_site")]
        )
    return site_id


def _check_role_site(role: Role, site_id: int | None) -> None:
    if role in _SITE_ROLES and site_id is None:
        raise ValidationFailedError(
            [InvalidInputError("site_code", f"the role {role.value} needs a site", "site_required")]
        )
    if role not in _SITE_ROLES and site_id is not None:
        raise ValidationFailedError(
            [
                InvalidInputError(
                    "site_code", f"the role {role.value} is not tied to a site", "site_not_allowed"
                )
            ]
        )


def create_user(
    session: Session, principal: Principal, hasher: PasswordHasher, data: UserCreate
) -> UserPublic:
    """Create an account (admin)."""
    require_role(principal, _ADMIN, "create accounts")
    site_id = _site_id(session, data.site_code)
    _check_role_site(data.role, site_id)
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise ConflictError(f"user {data.username} already exists", "duplicate_user")
    check_password(data.password, data.username)
    user = User(
        username=data.username,
        password_hash=hash_password(hasher, data.password),
        role=data.role.value,
        site_id=site_id,
        full_name=data.full_name,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, principal, "create", "user", str(user.id), new=audit.snapshot("user", user)
    )
    if data.full_name:
        audit.record(
            session, principal, "printed_name", "user", str(user.id), new={"name": user.full_name}
        )
    _record_grant(session, principal, user, None)
    session.commit()
    return user_public(user, data.site_code)


def bootstrap_admin(
    session: Session, hasher: PasswordHasher, username: str, password: str
) -> UserPublic:
    """Create the first admin of an empty registry (``infantall registry init``)."""
    data = UserCreate(username=username, password=password, role=Role.admin)
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise ConflictError(f"user {data.username} already exists", "duplicate_user")
    check_password(data.password, data.username)
    user = User(
        username=data.username, password_hash=hash_password(hasher, data.password), role="admin"
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        None,
        "create",
        "user",
        str(user.id),
        new=audit.snapshot("user", user),
        username="registry-init",
        reason="initial administrator",
    )
    _record_grant(session, None, user, None)
    session.commit()
    return user_public(user, None)


def list_users(session: Session, principal: Principal) -> list[UserPublic]:
    """Every account (admin)."""
    require_role(principal, _ADMIN, "list accounts")
    rows = session.execute(
        select(User, Site.code).outerjoin(Site, Site.id == User.site_id).order_by(User.username)
    ).all()
    return [user_public(u, code) for u, code in rows]


def update_user(
    session: Session,
    principal: Principal,
    hasher: PasswordHasher,
    username: str,
    data: UserUpdate,
) -> UserPublic:
    """Change an account's role, site, activity or password (admin; version checked)."""
    require_role(principal, _ADMIN, "change accounts")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError("no such user")
    if user.version != data.version:
        raise ConflictError(
            f"user {username} is at version {user.version}, not {data.version}", "stale_version"
        )
    old = audit.snapshot("user", user)
    previous_role = user.role
    fields = data.model_dump(exclude_unset=True)
    role = Role(fields.get("role", user.role))
    site_id = _site_id(session, data.site_code) if "site_code" in fields else user.site_id
    if "role" in fields and "site_code" not in fields and role not in _SITE_ROLES:
        site_id = None
    _check_role_site(role, site_id)
    if data.password is not None:
        check_password(data.password, user.username)
    changed = _changes(user, role, site_id, data)
    user.role, user.site_id = role.value, site_id
    if data.active is not None:
        user.active = data.active
    if data.password is not None:
        user.password_hash = hash_password(hasher, data.password)
    session.flush()
    audit.record(
        session,
        principal,
        "update",
        "user",
        str(user.id),
        old=old,
        new=audit.snapshot("user", user),
    )
    _record_grant(session, principal, user, previous_role)
    if changed:
        revoke_user_tokens(session, principal, user.id, "; ".join(changed))
    session.commit()
    code = (
        session.scalar(select(Site.code).where(Site.id == user.site_id)) if user.site_id else None
    )
    return user_public(user, code)


def _changes(user: User, role: Role, site_id: int | None, data: UserUpdate) -> list[str]:
    """The changes of an update that must end the account's sessions."""
    changed = []
    if data.password is not None:
        changed.append("password reset")
    if role.value != user.role:
        changed.append("role changed")
    if site_id != user.site_id:
        changed.append("site changed")
    if data.active is False and user.active:
        changed.append("account deactivated")
    return changed


def unlock_user(session: Session, principal: Principal, username: str) -> UserPublic:
    """Lift a lockout and reset the failure count of ``username`` (admin; audited)."""
    require_role(principal, _ADMIN, "unlock accounts")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError("no such user")
    session.execute(
        update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None),
        execution_options={"synchronize_session": False},
    )
    audit.record(
        session,
        principal,
        "unlock",
        "user",
        str(user.id),
        old={"locked_until": user.locked_until.isoformat() if user.locked_until else None},
    )
    session.commit()
    session.refresh(user)
    code = (
        session.scalar(select(Site.code).where(Site.id == user.site_id)) if user.site_id else None
    )
    return user_public(user, code)


def list_privilege_grants(session: Session, principal: Principal) -> list[PrivilegeGrant]:
    """Every grant of the coordinator or admin role, oldest first (every admin sees all)."""
    require_role(principal, _ADMIN, "list privileged grants")
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "privilege_granted").order_by(AuditEntry.id)
    )
    return [
        PrivilegeGrant(
            audit_id=row.id,
            at=row.at,
            granted_by=row.actor_username,
            username=str((row.new or {}).get("username", "")),
            role=str((row.new or {}).get("role", "")),
            previous_role=(row.new or {}).get("previous_role"),
        )
        for row in rows
    ]
