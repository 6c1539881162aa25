"""A TOTP second factor (RFC 6238, ``pyotp``): secret storage, code checks, admin disable.

The secret is shown once at enrolment (an ``otpauth://`` URI for a QR code and the base32
text) and stored only encrypted: AES-256-GCM under a key derived (HKDF-SHA256) from the
app's ``secret_key``, with the user id as associated data so that a ciphertext copied to
another account does not decrypt. A code is accepted within one 30-second step either side
of the server clock, and only for a step after the last one accepted (no replay). In
production, administrators and coordinators must have an enabled second factor to log in
(:func:`required_for`).

Enrolment codes: in production an administrator or coordinator account enrols only with a
one-time code that another administrator issued (:func:`issue_enrolment_code`; or the
command line on the server, which bootstraps the first administrator), so that a stolen
password alone cannot enrol the thief's factor. A code is random (96 bits), shown once,
stored as its SHA-256 (a fast hash is enough for a random secret of that size, unlike a
password), expires after :data:`ENROLMENT_CODE_HOURS` and is used once
(:func:`use_enrolment_code`); issuing, using and refusing one are audited.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infantall.registry import audit
from infantall.registry.access import Principal, require_role
from infantall.registry.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from infantall.registry.models import Role, TotpEnrolmentCode, User, utcnow
from infantall.registry.settings import RegistrySettings

__all__ = [
    "ENROLMENT_CODE_HOURS",
    "ISSUER",
    "STEP_SECONDS",
    "EnrolmentCode",
    "TotpEnrolment",
    "decrypt_secret",
    "disable_totp",
    "encrypt_secret",
    "issue_enrolment_code",
    "matching_step",
    "new_enrolment",
    "required_for",
    "use_enrolment_code",
]

#: The issuer shown by authenticator apps.
ISSUER = "infantall"
#: RFC 6238 time step.
STEP_SECONDS = 30
#: Steps accepted either side of the server clock (clock drift of the phone).
_DRIFT = 1
_PREFIX = "v1:"
_NONCE = 12
#: Roles that must use a second factor in production.
_REQUIRED_ROLES = frozenset({Role.admin, Role.coordinator})


#: Hours an enrolment code stays valid.
ENROLMENT_CODE_HOURS = 24
#: Actor named in the audit trail for a code issued on the server's command line.
SERVER_CLI = "(command line on the server)"


@dataclass(frozen=True, slots=True)
class EnrolmentCode:
    """A one-time enrolment code, shown once."""

    username: str
    code: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """A new secret, shown once: the otpauth URI and its base32 text."""

    username: str
    secret: str
    otpauth_uri: str
    issuer: str = ISSUER


def required_for(settings: RegistrySettings, role: Role) -> bool:
    """Whether ``role`` must log in with a second factor in this environment."""
    return settings.environment == "production" and role in _REQUIRED_ROLES


def _key(settings: RegistrySettings) -> bytes:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"infantall totp secret")
    return kdf.derive(settings.secret_key.get_secret_value().encode("utf-8"))


def encrypt_secret(settings: RegistrySettings, user_id: int, secret: str) -> str:
    """The stored form of ``secret`` (AES-GCM, bound to ``user_id``)."""
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(_key(settings)).encrypt(nonce, secret.encode("ascii"), str(user_id).encode())
    return _PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_secret(settings: RegistrySettings, user_id: int, stored: str) -> str:
    """The secret of a stored value.

    Raises
    ------
    AuthenticationError
        ``totp_secret_unreadable``: not made with this ``secret_key`` for this user.
    """
    try:
        raw = base64.b64decode(stored.removeprefix(_PREFIX), validate=True)
        plain = AESGCM(_key(settings)).decrypt(raw[:_NONCE], raw[_NONCE:], str(user_id).encode())
    except (InvalidTag, ValueError):
        raise AuthenticationError(
            "the second-factor secret cannot be read (was the secret key changed?); "
            "ask an administrator to reset it",
            "totp_secret_unreadable",
        ) from None
    return plain.decode("ascii")


def new_enrolment(username: str) -> TotpEnrolment:
    """A fresh random secret (160 bits) and its provisioning URI."""
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    return TotpEnrolment(username=username, secret=secret, otpauth_uri=uri)


def matching_step(
    secret: str, code: str, last_step: int | None, now: dt.datetime | None = None
) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and not used before.

    Steps within ``_DRIFT`` of the server clock are tried; a step at or before
    ``last_step`` (already used) never matches, so a code cannot be replayed.
    """
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int((now or utcnow()).timestamp()) // STEP_SECONDS
    for step in range(current - _DRIFT, current + _DRIFT + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def disable_totp(session: Session, principal: Principal, username: str, reason: str) -> None:
    """Remove ``username``'s second factor (admin; audited with the reason; committed).

    The user enrols again at the next login (required in production for admin and
    coordinator accounts).
    """
    require_role(principal, frozenset({Role.admin}), "disable second factors")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError("no such user")
    if user.totp_secret is None:
        raise ConflictError(f"{username} has no second factor", "totp_not_enrolled")
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(totp_secret=None, totp_enabled=False, totp_last_step=None),
        execution_options={"synchronize_session": False},
    )
    audit.record(
        session,
        principal,
        "totp_disabled",
        "user",
        str(user.id),
        old={"totp_enabled": user.totp_enabled},
        new={"totp_enabled": False},
        reason=reason,
    )
    session.commit()


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


def issue_enrolment_code(
    session: Session, principal: Principal | None, username: str, now: dt.datetime | None = None
) -> EnrolmentCode:
    """A one-time code with which ``username`` may enrol a second factor (audited;
    committed). ``principal`` is another administrator, or None for the command line on the
    server. Codes issued before for the account and not used stop working.

    Raises
    ------
    PermissionDeniedError
        Not an administrator; ``totp_code_self_issued`` for the administrator's own account
        (another administrator, or the server's command line, must issue it).
    NotFoundError
        No such account.
    """
    if principal is not None:
        require_role(principal, frozenset({Role.admin}), "issue enrolment codes")
        if principal.username == username:
            raise PermissionDeniedError(
                "another administrator must issue your enrolment code", "totp_code_self_issued"
            )
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError("no such user")
    now = now or utcnow()
    session.execute(
        update(TotpEnrolmentCode)
        .where(TotpEnrolmentCode.user_id == user.id, TotpEnrolmentCode.used_at.is_(None))
        .where(TotpEnrolmentCode.expires_at > now)
        .values(expires_at=now),
        execution_options={"synchronize_session": False},
    )
    code = secrets.token_hex(12)  # 96 random bits, 24 hex digits: typed once
    expires = now + dt.timedelta(hours=ENROLMENT_CODE_HOURS)
    row = TotpEnrolmentCode(user_id=user.id, code_hash=_code_hash(code),
                            issued_by=principal.user_id if principal else None,
                            created_at=now, expires_at=expires)  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(session, principal, "totp_code_issued", "user", str(user.id),
                 new={"code": row.id, "expires_at": expires.isoformat()},
                 username=None if principal else SERVER_CLI)  # fmt: skip
    session.commit()
    return EnrolmentCode(username=user.username, code=code, expires_at=expires)


def _refusal(row: TotpEnrolmentCode | None, now: dt.datetime) -> str | None:
    if row is None:
        return "wrong"
    if row.used_at is not None:
        return "used"
    expires = row.expires_at
    return "expired" if expires <= now else None


def use_enrolment_code(
    session: Session, user: User, code: str | None, now: dt.datetime | None = None
) -> None:
    """Spend ``user``'s enrolment ``code`` (flushed with the audit row, not committed).

    Raises
    ------
    PermissionDeniedError
        ``totp_enrolment_code_required`` without a code; ``totp_enrolment_code_invalid``
        for a wrong, expired or already used one (one answer for the three; the audit row
        says which).
    """
    if not code:
        raise PermissionDeniedError(
            "this account enrols its second factor only with a one-time enrolment code "
            "from another administrator (enrolment_code)",
            "totp_enrolment_code_required",
        )
    now = now or utcnow()
    row = session.scalar(
        select(TotpEnrolmentCode).where(
            TotpEnrolmentCode.code_hash == _code_hash(code), TotpEnrolmentCode.user_id == user.id
        )
    )
    why = _refusal(row, now)
    if why is None and row is not None:
        spent = session.execute(  # used_at IS NULL again: of two requests at once, one wins
            update(TotpEnrolmentCode)
            .where(TotpEnrolmentCode.id == row.id, TotpEnrolmentCode.used_at.is_(None))
            .values(used_at=now),
            execution_options={"synchronize_session": False},
        )
        why = None if getattr(spent, "rowcount", 0) == 1 else "used"
    if why is not None or row is None:
        audit.record(session, None, "totp_code_refused", "user", str(user.id),
                     new={"why": why}, username=user.username)  # fmt: skip
        raise PermissionDeniedError(
            "the enrolment code is wrong, expired or already used: ask an administrator "
            "for a new one",
            "totp_enrolment_code_invalid",
        )
    audit.record(session, None, "totp_code_used", "user", str(user.id),
                 new={"code": row.id}, username=user.username)  # fmt: skip
