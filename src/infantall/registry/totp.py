"""A TOTP second factor (RFC 6238, ``pyotp``): secret storage, code checks, admin disable.

The secret is shown once at enrolment (an ``otpauth://`` URI for a QR code and the base32
text) and stored only encrypted: AES-256-GCM under a key derived (HKDF-SHA256) from the
app's ``secret_key``, with the user id as associated data so that a ciphertext copied to
another account does not decrypt. A code is accepted within one 30-second step either side
of the server clock, and only for a step after the last one accepted (no replay). In
production, administrators and coordinators must have an enabled second factor to log in
(:func:`required_for`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import os
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
from infantall.registry.errors import AuthenticationError, ConflictError, NotFoundError
from infantall.registry.models import Role, User, utcnow
from infantall.registry.settings import RegistrySettings

__all__ = [
    "ISSUER",
    "STEP_SECONDS",
    "TotpEnrolment",
    "decrypt_secret",
    "disable_totp",
    "encrypt_secret",
    "matching_step",
    "new_enrolment",
    "required_for",
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
