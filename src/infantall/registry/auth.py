"""Login, tokens, revocation and lockout.

Passwords are checked against argon2id hashes; a successful login issues an opaque token
(a bearer token for the API, or the value of the session cookie for pages) of which only
the SHA-256 digest is stored, so a database leak reveals no usable token. After
``lockout_threshold`` consecutive failures an account is locked for ``lockout_minutes``
(21 CFR 11.300(d); OWASP ASVS v5 authentication). A locked account answers exactly like an
unknown user or a wrong password (one message, one status), so a lockout reveals neither
that the account exists nor that it is locked; an administrator can unlock it
(:func:`infantall.registry.admin.unlock_user`). Session tokens (the pages' cookie) also
expire after ``idle_timeout_minutes`` without use: each use slides their expiry forward, at
most to ``token_ttl_minutes`` after login. Every login, failure, lockout and revocation is
an audit row. An account with a TOTP second factor (:mod:`infantall.registry.totp`) also
gives a one-time code; admins and coordinators must have one in production.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infantall.errors import InvalidInputError
from infantall.registry import audit, totp
from infantall.registry.access import Principal
from infantall.registry.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from infantall.registry.models import ApiToken, Role, Site, User, utcnow
from infantall.registry.security import (
    hash_password,
    new_token,
    password_problems,
    token_digest,
    verify_password,
)
from infantall.registry.settings import RegistrySettings
from infantall.registry.tokens import authenticate

__all__ = [
    "IssuedToken",
    "authenticate",
    "change_password",
    "confirm_totp",
    "enrol_totp",
    "issue_token",
    "login",
    "reauthenticate",
    "revoke_token",
    "revoke_user_tokens",
]

_BAD_CREDENTIALS = "invalid username or password"
TOKEN_KINDS = ("bearer", "session")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token shown once to its owner, with the account it authenticates."""

    token: str
    token_id: int
    expires_at: dt.datetime
    username: str
    role: str
    site_code: str | None


def _site_code(session: Session, site_id: int | None) -> str | None:
    if site_id is None:
        return None
    return session.scalar(select(Site.code).where(Site.id == site_id))


def issue_token(
    session: Session, settings: RegistrySettings, user: User, kind: str, channel: str = "api"
) -> IssuedToken:
    """Create a token for ``user`` (committed, audited)."""
    if kind not in TOKEN_KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    token = new_token()
    minutes = settings.token_ttl_minutes
    if kind == "session":
        minutes = min(minutes, settings.idle_timeout_minutes)
    expires = utcnow() + dt.timedelta(minutes=minutes)
    row = ApiToken(user_id=user.id, token_hash=token_digest(token), kind=kind, expires_at=expires)
    session.add(row)
    session.flush()
    principal = Principal(user.id, user.username, Role(user.role), user.site_id, row.id, channel)
    audit.record(session, principal, "token_issued", "token", str(row.id), new={"kind": kind})
    session.commit()
    return IssuedToken(
        token, row.id, expires, user.username, user.role, _site_code(session, user.site_id)
    )


def login(
    session: Session,
    settings: RegistrySettings,
    hasher: PasswordHasher,
    *,
    username: str,
    password: str,
    kind: str = "bearer",
    channel: str = "api",
    totp_code: str | None = None,
) -> IssuedToken:
    """Check a password (and the second factor, when enrolled or required) and issue a token.

    Raises
    ------
    AuthenticationError
        Unknown user, inactive or locked account, wrong password or wrong, expired or
        replayed one-time code (one message for all); ``totp_required`` when the account
        has a second factor and no code was given.
    PermissionDeniedError
        ``totp_enrolment_required``: an admin or coordinator without a second factor in
        production (enrol first: ``POST /api/v1/auth/totp/enrol``).
    """
    user = _check_password(session, settings, hasher, username, password)
    _second_factor(session, settings, user, totp_code)
    if user.failed_logins or user.locked_until is not None:
        session.execute(
            update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None),
            execution_options={"synchronize_session": False},
        )
    audit.record(session, None, "login", "user", str(user.id), username=user.username)
    return issue_token(session, settings, user, kind, channel)


def _check_password(
    session: Session,
    settings: RegistrySettings,
    hasher: PasswordHasher,
    username: str,
    password: str,
) -> User:
    """The active, unlocked account ``username`` if ``password`` is its password.

    Failures are audited and counted towards the lockout (one message for all).
    """
    username = unicodedata.normalize("NFC", username)
    user = session.scalar(select(User).where(User.username == username))
    now = utcnow()
    if user is None or not user.active:
        # Spend the same time as a real check so that timing does not reveal usernames.
        verify_password(hasher, _dummy_hash(hasher), password)
        audit.record(session, None, "login_failed", "user", None, username=username[:64])
        session.commit()
        raise AuthenticationError(_BAD_CREDENTIALS)
    if user.locked_until is not None and user.locked_until > now:
        verify_password(hasher, _dummy_hash(hasher), password)
        audit.record(session, None, "login_locked", "user", str(user.id), username=username)
        session.commit()
        raise AuthenticationError(_BAD_CREDENTIALS)
    if not verify_password(hasher, user.password_hash, password):
        _count_failure(session, settings, user, now)
        raise AuthenticationError(_BAD_CREDENTIALS)
    return user


def _second_factor(
    session: Session, settings: RegistrySettings, user: User, code: str | None
) -> None:
    """Check the one-time code of an enrolled account, or refuse a privileged account
    without one in production (audited)."""
    if not user.totp_enabled or user.totp_secret is None:
        if totp.required_for(settings, Role(user.role)):
            audit.record(
                session, None, "login_needs_totp", "user", str(user.id), username=user.username
            )
            session.commit()
            raise PermissionDeniedError(
                "this account must use a second factor: enrol an authenticator app first "
                "(POST /api/v1/auth/totp/enrol, then /confirm)",
                "totp_enrolment_required",
            )
        return
    if not code:
        session.commit()
        raise AuthenticationError(
            "enter the 6-digit code of your authenticator app", "totp_required"
        )
    secret = totp.decrypt_secret(settings, user.id, user.totp_secret)
    step = totp.matching_step(secret, code, user.totp_last_step)
    if step is None:
        audit.record(session, None, "totp_failed", "user", str(user.id), username=user.username)
        _count_failure(session, settings, user, utcnow())
        raise AuthenticationError(_BAD_CREDENTIALS)
    _use_step(session, user.id, step)


def _use_step(session: Session, user_id: int, step: int) -> None:
    # A plain UPDATE, like the login counters: the step is no audited data.
    session.execute(
        update(User).where(User.id == user_id).values(totp_last_step=step),
        execution_options={"synchronize_session": False},
    )


def reauthenticate(
    session: Session,
    settings: RegistrySettings,
    hasher: PasswordHasher,
    principal: Principal,
    password: str,
) -> User:
    """The caller's account, if ``password`` is still its password (an e-signature's
    re-entry, 21 CFR 11.200(a)(1)). A wrong password counts towards the lockout.

    Raises
    ------
    PermissionDeniedError
        ``signature_refused``: wrong password, or the account is locked or inactive.
    """
    try:
        return _check_password(session, settings, hasher, principal.username, password)
    except AuthenticationError:
        raise PermissionDeniedError(
            "the password does not match your account: nothing was signed",
            "signature_refused",
        ) from None


def change_password(
    session: Session,
    settings: RegistrySettings,
    hasher: PasswordHasher,
    principal: Principal,
    current: str,
    new: str,
) -> int:
    """Replace the caller's own password; the number of its tokens and sessions revoked.

    The current password is re-entered (a wrong one counts towards the lockout, as at
    login), the new one meets the password policy, and every token and session of the
    account ends, this request's too: what was issued under a password an administrator
    chose (account creation, a reset) or someone else learnt does not outlive it, and only
    the owner knows the password that signs (21 CFR 11.300(b), 11.200(a)(3)). Audited as
    ``password_changed``, no password in the row. Nothing changes when a check fails.

    Raises
    ------
    PermissionDeniedError
        ``password_refused``: the current password is wrong, or the account is locked.
    ValidationFailedError
        Field ``new_password`` with the policy's codes (``password_too_short``, ...).
    """
    try:
        user = _check_password(session, settings, hasher, principal.username, current)
    except AuthenticationError:
        raise PermissionDeniedError(
            "the current password does not match your account: nothing was changed",
            "password_refused",
        ) from None
    problems = password_problems(new, principal.username)
    if problems:
        raise ValidationFailedError(
            [InvalidInputError("new_password", p.reason, p.code) for p in problems]
        )
    user.password_hash = hash_password(hasher, new)
    audit.record(session, principal, "password_changed", "user", str(user.id))
    revoked = revoke_user_tokens(session, principal, user.id, "password changed")
    session.commit()
    return revoked


def enrol_totp(
    session: Session,
    settings: RegistrySettings,
    hasher: PasswordHasher,
    username: str,
    password: str,
    enrolment_code: str | None = None,
) -> totp.TotpEnrolment:
    """Start an enrolment: a new secret, shown once, pending until :func:`confirm_totp`.
    Where the factor is required (admin and coordinator in production) the account also
    needs a one-time ``enrolment_code`` from another administrator (spent here).

    Raises
    ------
    AuthenticationError
        Wrong credentials (one message, counted towards the lockout).
    ConflictError
        ``totp_already_enabled``: only an administrator can remove an enabled factor.
    PermissionDeniedError
        ``totp_enrolment_code_required`` / ``totp_enrolment_code_invalid`` (a wrong,
        expired or used code counts towards the lockout too).
    """
    user = _check_password(session, settings, hasher, username, password)
    if user.totp_enabled:
        session.commit()
        raise ConflictError(
            "a second factor is already enabled: an administrator must disable it first",
            "totp_already_enabled",
        )
    if totp.required_for(settings, Role(user.role)):
        try:
            totp.use_enrolment_code(session, user, enrolment_code)
        except PermissionDeniedError:
            if enrolment_code:
                _count_failure(session, settings, user, utcnow())
            session.commit()
            raise
    enrolment = totp.new_enrolment(user.username)
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            totp_secret=totp.encrypt_secret(settings, user.id, enrolment.secret),
            totp_enabled=False,
            totp_last_step=None,
        ),
        execution_options={"synchronize_session": False},
    )
    audit.record(session, None, "totp_enrolment", "user", str(user.id), username=user.username)
    session.commit()
    return enrolment


def confirm_totp(
    session: Session,
    settings: RegistrySettings,
    hasher: PasswordHasher,
    username: str,
    password: str,
    code: str,
) -> None:
    """Enable a pending second factor with a first valid code (audited; committed).

    Raises
    ------
    ConflictError
        ``totp_not_pending``: no enrolment started, or the factor is already enabled.
    AuthenticationError
        Wrong credentials or code (one message, counted towards the lockout).
    """
    user = _check_password(session, settings, hasher, username, password)
    if user.totp_enabled or user.totp_secret is None:
        session.commit()
        raise ConflictError("no pending enrolment: start one first", "totp_not_pending")
    secret = totp.decrypt_secret(settings, user.id, user.totp_secret)
    step = totp.matching_step(secret, code, user.totp_last_step)
    if step is None:
        audit.record(session, None, "totp_failed", "user", str(user.id), username=username)
        _count_failure(session, settings, user, utcnow())
        raise AuthenticationError(_BAD_CREDENTIALS)
    session.execute(
        update(User).where(User.id == user.id).values(totp_enabled=True, totp_last_step=step),
        execution_options={"synchronize_session": False},
    )
    audit.record(
        session,
        None,
        "totp_enabled",
        "user",
        str(user.id),
        username=user.username,
        new={"totp_enabled": True},
    )
    session.commit()


def _count_failure(
    session: Session, settings: RegistrySettings, user: User, now: dt.datetime
) -> None:
    failures = user.failed_logins + 1
    locked_until = None
    if failures >= settings.lockout_threshold:
        locked_until = now + dt.timedelta(minutes=settings.lockout_minutes)
        failures = 0
    # A plain UPDATE: login counters are not audited data and do not bump the version.
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=failures, locked_until=locked_until),
        execution_options={"synchronize_session": False},
    )
    audit.record(session, None, "login_failed", "user", str(user.id), username=user.username)
    if locked_until is not None:
        audit.record(
            session,
            None,
            "lockout",
            "user",
            str(user.id),
            username=user.username,
            new={"locked_until": locked_until.isoformat()},
        )
    session.commit()


_DUMMY: dict[int, str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = id(hasher)
    if key not in _DUMMY:
        _DUMMY[key] = hasher.hash("not-a-real-password")
    return _DUMMY[key]


def revoke_token(session: Session, principal: Principal, token_id: int | None = None) -> int:
    """Revoke ``token_id`` (default: the caller's own token); admins may revoke any token.

    Returns the id of the revoked token. A revoked token fails on the very next request.
    """
    target = principal.token_id if token_id is None else token_id
    tok = session.get(ApiToken, target) if target is not None else None
    if tok is None or (tok.user_id != principal.user_id and principal.role is not Role.admin):
        raise NotFoundError("no such token")
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        audit.record(session, principal, "token_revoked", "token", str(tok.id))
    session.commit()
    return tok.id


def revoke_user_tokens(
    session: Session, principal: Principal | None, user_id: int, reason: str
) -> int:
    """Revoke every live token and session of ``user_id`` (audited; not committed).

    Called on a password reset, a role or site change and a deactivation, so that nothing
    issued under the old credentials or rights survives the change.
    """
    now = utcnow()
    ids = list(
        session.scalars(
            select(ApiToken.id).where(
                ApiToken.user_id == user_id,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > now,
            )
        )
    )
    if ids:
        session.execute(
            update(ApiToken).where(ApiToken.id.in_(ids)).values(revoked_at=now),
            execution_options={"synchronize_session": False},
        )
    audit.record(
        session,
        principal,
        "tokens_revoked",
        "user",
        str(user_id),
        new={"tokens": len(ids)},
        reason=reason,
    )
    return len(ids)
