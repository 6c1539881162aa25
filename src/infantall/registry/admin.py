"""Sites and accounts (admin only): create, list and change, every change audited.

Role and site changes of an account are data changes of the ``user`` entity (ICH E6(R3)
4.2.2: account creation and permission changes are part of the audit trail).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.errors import InvalidInputError
from infantall.registry import audit
from infantall.registry.access import Principal, require_role
from infantall.registry.errors import ConflictError, NotFoundError, ValidationFailedError
from infantall.registry.models import Role, Site, User
from infantall.registry.schemas import (
    SiteCreate,
    SitePublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from infantall.registry.security import hash_password

__all__ = [
    "bootstrap_admin",
    "create_site",
    "create_user",
    "list_sites",
    "list_users",
    "site_public",
    "update_user",
    "user_public",
]

_ADMIN = frozenset({Role.admin})
_SITE_ROLES = frozenset({Role.site_editor, Role.site_viewer})


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
    user = User(
        username=data.username,
        password_hash=hash_password(hasher, data.password),
        role=data.role.value,
        site_id=site_id,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, principal, "create", "user", str(user.id), new=audit.snapshot("user", user)
    )
    session.commit()
    return user_public(user, data.site_code)


def bootstrap_admin(
    session: Session, hasher: PasswordHasher, username: str, password: str
) -> UserPublic:
    """Create the first admin of an empty registry (``infantall registry init``)."""
    data = UserCreate(username=username, password=password, role=Role.admin)
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise ConflictError(f"user {data.username} already exists", "duplicate_user")
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
    fields = data.model_dump(exclude_unset=True)
    role = Role(fields.get("role", user.role))
    site_id = _site_id(session, data.site_code) if "site_code" in fields else user.site_id
    if "role" in fields and "site_code" not in fields and role not in _SITE_ROLES:
        site_id = None
    _check_role_site(role, site_id)
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
    session.commit()
    code = (
        session.scalar(select(Site.code).where(Site.id == user.site_id)) if user.site_id else None
    )
    return user_public(user, code)
