"""Bearer and session tokens checked on every request: who the caller is, and the
sliding idle expiry of a browser session (re-exported by :mod:`infantall.registry.auth`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from infantall.registry.access import Principal
from infantall.registry.errors import AuthenticationError
from infantall.registry.models import ApiToken, Role, User, utcnow
from infantall.registry.rls import scope_columns
from infantall.registry.security import token_digest
from infantall.registry.settings import RegistrySettings

__all__ = ["authenticate"]


#: The token and its user, by the token's digest: built once, run on every request.
_TOKEN = (
    select(
        ApiToken.id,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        ApiToken.kind,
        ApiToken.created_at,
        User.id,
        User.username,
        User.role,
        User.site_id,
        User.active,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("digest"))
)
#: PostgreSQL: the same lookup, which also sets the caller's row-level-security scope in
#: the transaction it begins (one round trip instead of two on every request).
_TOKEN_SCOPED = _TOKEN.add_columns(*scope_columns())


def authenticate(
    session: Session,
    token: str,
    channel: str = "api",
    settings: RegistrySettings | None = None,
    *,
    slide: bool = True,
    scope: bool = False,
) -> Principal:
    """The caller that ``token`` authenticates.

    A session token's idle expiry slides forward on use (``settings``, else the defaults of
    :class:`RegistrySettings`), written at most once a minute per session; ``slide=False``
    leaves it (a caller that must not write, such as a read checked on the event loop).
    ``scope=True`` on PostgreSQL: the lookup also sets the caller's row-level-security scope
    in the session's transaction (:func:`infantall.registry.rls.scope_columns`); the caller
    then records it with ``scope_session(..., applied=True)``.

    Raises
    ------
    AuthenticationError
        Unknown, expired (idle or absolute) or revoked token, or an inactive account.
    """
    if not token or len(token) > 200:
        raise AuthenticationError("missing or malformed credentials")
    # Plain columns, not ORM entities, on the session's connection (its transaction, so the
    # scope it sets holds for the request's later queries): this runs on every request, and
    # Session.execute would add its ORM layer (autoflush, ORM compile state) for nothing.
    scoped = scope and session.get_bind().dialect.name == "postgresql"
    row = (
        session.connection()
        .execute(_TOKEN_SCOPED if scoped else _TOKEN, {"digest": token_digest(token)})
        .first()
    )
    if row is None:
        raise AuthenticationError("invalid or expired credentials")
    token_id, revoked_at, expires_at, kind, created_at, user_id, username, role, site_id, active = (
        row[:10]
    )
    now = utcnow()
    if revoked_at is not None or expires_at <= now or not active:
        raise AuthenticationError("invalid or expired credentials")
    if kind == "session" and slide:
        _slide_idle_expiry(session, _windows(settings), token_id, created_at, expires_at, now)
    return Principal(user_id, username, Role(role), site_id, token_id, channel)


#: A session's expiry is rewritten only when it would move by more than this.
_SLIDE_STEP = dt.timedelta(minutes=1)


def _windows(settings: RegistrySettings | None) -> tuple[int, int]:
    """(idle, absolute) lifetimes of a session in minutes."""
    if settings is not None:
        return settings.idle_timeout_minutes, settings.token_ttl_minutes
    fields = RegistrySettings.model_fields
    idle: int = fields["idle_timeout_minutes"].default
    ttl: int = fields["token_ttl_minutes"].default
    return idle, ttl


def _slide_idle_expiry(
    session: Session,
    windows: tuple[int, int],
    token_id: int,
    created_at: dt.datetime,
    expires_at: dt.datetime,
    now: dt.datetime,
) -> None:
    idle, ttl = windows
    cap = created_at + dt.timedelta(minutes=ttl)
    target = min(now + dt.timedelta(minutes=idle), cap)
    if target - expires_at < _SLIDE_STEP:
        return
    # A short transaction of its own, so the caller's (possibly read-only) one is untouched.
    with Session(bind=session.get_bind()) as writer:
        writer.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(expires_at=target)
        )
        writer.commit()
