"""Password hashing (argon2id) and opaque tokens stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from infantall.registry.settings import RegistrySettings

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "hash_password",
    "keyed_hash",
    "new_token",
    "password_hasher",
    "token_digest",
    "verify_password",
]

#: Minimum password length (NIST SP 800-63B §5.1.1.2 asks for at least 8; we ask 10).
MIN_PASSWORD_LENGTH = 10


def password_hasher(settings: RegistrySettings) -> PasswordHasher:
    """argon2id with the costs of ``settings`` (argon2-cffi defaults unless lowered)."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
    )


def hash_password(hasher: PasswordHasher, password: str) -> str:
    """The argon2id hash string of ``password``."""
    return str(hasher.hash(password))


def verify_password(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (never raises for a mismatch)."""
    try:
        return bool(hasher.verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A fresh opaque token (256 bits from ``secrets``)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a token: what the database stores (never the token)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def keyed_hash(key: str, value: str) -> str:
    """HMAC-SHA-256 of ``value`` under ``key`` (pseudonyms of pooled exports)."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
