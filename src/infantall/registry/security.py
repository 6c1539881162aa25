"""Password hashing (argon2id), the password policy, and opaque tokens stored only as
SHA-256 digests.

The policy follows NIST SP 800-63B §3.1.1.2: a minimum length (12 here, above NIST's 8 and
OWASP ASVS v5's 12 minimum recommendation for a registry of health data), no composition
rules, and a check against a list of common and breached passwords shipped in the package
(``registry/data/common_passwords.csv``, provenance in ``registry/data/README.md``).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import os
import re
import secrets
from importlib import resources
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from infantall.errors import InvalidInputError
from infantall.registry.errors import ValidationFailedError
from infantall.registry.settings import RegistrySettings

__all__ = [
    "MIN_DISTINCT_CHARACTERS",
    "MIN_PASSWORD_LENGTH",
    "check_password",
    "common_passwords",
    "hash_password",
    "keyed_hash",
    "new_token",
    "password_hasher",
    "password_problems",
    "restrict_sqlite_file",
    "token_digest",
    "verify_password",
]

#: Minimum password length (NIST SP 800-63B asks for at least 8; OWASP ASVS v5 for 12).
MIN_PASSWORD_LENGTH = 12
#: Fewer distinct characters than this is a repetition ("aaaaaaaaaaaa", "abababababab").
MIN_DISTINCT_CHARACTERS = 5
_EDGES = re.compile(r"^[^a-z]+|[^a-z]+$")
_SEPARATORS = re.compile(r"[\s._-]+")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common and breached passwords (lower case)."""
    source = resources.files("infantall.registry") / "data" / "common_passwords.csv"
    rows = csv.reader(io.StringIO(source.read_text(encoding="utf-8"), newline=""))
    next(rows)
    return frozenset(row[0].lower() for row in rows if row)


def password_problems(password: str, username: str | None = None) -> list[InvalidInputError]:
    """What the password policy finds wrong with ``password`` (empty when acceptable).

    Codes: ``password_too_short``, ``password_common`` (the password, or the password
    without leading/trailing digits and symbols, or without separators, is on the shipped
    list), ``password_repetitive`` and ``password_contains_username``.
    """
    problems: list[InvalidInputError] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            InvalidInputError(
                "password",
                f"use at least {MIN_PASSWORD_LENGTH} characters",
                "password_too_short",
            )
        )
    lowered = password.lower()
    variants = {lowered, _EDGES.sub("", lowered), _SEPARATORS.sub("", lowered)}
    if variants & common_passwords():
        problems.append(
            InvalidInputError(
                "password",
                "this password is on the list of common or breached passwords",
                "password_common",
            )
        )
    if len(set(lowered)) < MIN_DISTINCT_CHARACTERS:
        problems.append(
            InvalidInputError(
                "password",
                f"use at least {MIN_DISTINCT_CHARACTERS} different characters",
                "password_repetitive",
            )
        )
    if username and len(username) >= 3 and username.lower() in lowered:
        problems.append(
            InvalidInputError(
                "password",
                "the password must not contain the username",
                "password_contains_username",
            )
        )
    return problems


def check_password(password: str, username: str | None = None) -> None:
    """Raise :class:`ValidationFailedError` (field ``password``) unless the policy accepts it."""
    problems = password_problems(password, username)
    if problems:
        raise ValidationFailedError(problems)


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


#: Permission bits of the SQLite database file and its WAL/shared-memory companions.
SQLITE_FILE_MODE = 0o600


def restrict_sqlite_file(database_url: str) -> Path | None:
    """Create the SQLite file of ``database_url`` readable by its owner only (mode 0600), or
    tighten an existing one and its ``-wal``/``-shm`` files; ``None`` for other databases.

    SQLite creates its files with the process umask (often world-readable 0644); patient
    data must not be (HIPAA §164.312(a)(1) access control).
    """
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    name = database_url[len(prefix) :].split("?", 1)[0]
    if not name or name == ":memory:":
        return None
    path = Path(name)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, SQLITE_FILE_MODE))
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            candidate.chmod(SQLITE_FILE_MODE)
    return path
