"""Sites and accounts (admin): the admin manages them and sees who was granted a
privileged role; it reads no patient data."""

from __future__ import annotations

from fastapi import APIRouter, Path, status

from infantall.registry import admin
from infantall.registry.schemas import SiteCreate, SitePublic, UserCreate, UserPublic, UserUpdate
from infantall.registry.text import CODE_PATTERN
from infantall.web.deps import CurrentUser, HasherDep, LimiterDep, SessionDep

__all__ = ["router"]

router = APIRouter(tags=["sites and users"])


@router.get("/sites", response_model=list[SitePublic])
def list_sites(user: CurrentUser, session: SessionDep) -> list[SitePublic]:
    """Sites the caller may see (all for admin and coordinator, else the caller's own)."""
    return admin.list_sites(session, user)


@router.post("/sites", response_model=SitePublic, status_code=status.HTTP_201_CREATED)
def create_site(body: SiteCreate, user: CurrentUser, session: SessionDep) -> SitePublic:
    """Register a site (admin)."""
    return admin.create_site(session, user, body)


@router.get("/users", response_model=list[UserPublic])
def list_users(user: CurrentUser, session: SessionDep) -> list[UserPublic]:
    """Every account (admin)."""
    return admin.list_users(session, user)


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, user: CurrentUser, session: SessionDep, hasher: HasherDep
) -> UserPublic:
    """Create an account with a role (and a site for site roles) (admin)."""
    return admin.create_user(session, user, hasher, body)


@router.patch("/users/{username}", response_model=UserPublic)
def update_user(
    body: UserUpdate,
    user: CurrentUser,
    session: SessionDep,
    hasher: HasherDep,
    username: str = Path(pattern=CODE_PATTERN),
) -> UserPublic:
    """Change an account's role, site, activity or password (admin; version checked)."""
    return admin.update_user(session, user, hasher, username, body)


@router.get("/users/privilege-grants", response_model=list[admin.PrivilegeGrant])
def privilege_grants(user: CurrentUser, session: SessionDep) -> list[admin.PrivilegeGrant]:
    """Every grant of the coordinator or admin role: who, to whom, when (every admin)."""
    return admin.list_privilege_grants(session, user)


@router.post("/users/{username}/unlock", response_model=UserPublic)
def unlock_user(
    user: CurrentUser,
    session: SessionDep,
    limiter: LimiterDep,
    username: str = Path(pattern=CODE_PATTERN),
) -> UserPublic:
    """Lift a lockout and the login rate limit of an account (admin; audited)."""
    unlocked = admin.unlock_user(session, user, username)
    limiter.clear_account(username)
    return unlocked
