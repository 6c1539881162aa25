"""Typed settings of the registry and its web app, built by one factory (STYLE.md §9).

Nothing is read at import time: :func:`load_settings` reads the ``INFANTALL_*`` environment
(and keyword overrides) when called, and refuses a default secret outside development.
"""

from __future__ import annotations

from typing import Any, Literal

from limits import parse
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infantall.errors import InvalidInputError

__all__ = ["DEFAULT_SECRET", "RegistrySettings", "load_settings"]

#: The development secret. Any environment other than ``development`` refuses it.
DEFAULT_SECRET = "infantall-development-secret-change-me"


class RegistrySettings(BaseSettings):
    """Everything the registry and the web app need to know about their environment.

    Read from ``INFANTALL_<FIELD>`` environment variables, e.g. ``INFANTALL_DATABASE_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="INFANTALL_", extra="forbid", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///infantall-registry.db"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    #: Key of the keyed hash (HMAC) that pseudonymises ids and date shifts in pooled exports;
    #: kept outside the database (GDPR Art. 4(5), EDPB Guidelines 01/2025).
    pseudonym_key: SecretStr = SecretStr(DEFAULT_SECRET + "-pseudonyms")
    #: Half-width in days of the per-patient date shift of every pseudonymised output
    #: (uniform over -N..-1, 1..N); changing it changes every shift.
    date_shift_max_days: int = Field(default=182, ge=1, le=3650)
    token_ttl_minutes: int = Field(default=8 * 60, ge=1, le=60 * 24 * 30)
    session_cookie_name: str = "infantall_session"
    session_cookie_secure: bool = False
    #: A session (cookie) unused for this long expires (OWASP ASVS v5 7.3.1); bearer tokens
    #: keep only their absolute lifetime ``token_ttl_minutes``.
    idle_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    #: Login attempts allowed per client address and per account (``limits`` notation);
    #: exceeding them answers 429 before any password is checked.
    login_rate_per_ip: str = "20/minute"
    login_rate_per_account: str = "10/minute"
    #: Requests of any kind allowed per client address (a flood guard, not a quota).
    request_rate_per_ip: str = "120000/minute"
    #: Where the rate-limit counters live (``limits`` storage URI).
    rate_limit_storage: str = "memory://"
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_import_bytes: int = Field(default=20_000_000, ge=1024)
    #: Rows one import file may have (header not counted).
    max_import_rows: int = Field(default=200_000, ge=1)
    #: Per-site limits of one import file: site code -> ``[max bytes, max rows]``; a site
    #: not named here has ``max_import_bytes`` and ``max_import_rows``. The byte limit of
    #: the request itself stays ``max_import_bytes`` (the largest a site may send).
    import_site_limits: dict[str, tuple[int, int]] = {}
    #: CSV rows (patient + event rows) committed per transaction by an import job: the
    #: bound on how long an import holds the database's writer (and the audit chain).
    import_batch_rows: int = Field(default=200, ge=1, le=100_000)
    #: Uploads larger than this run as a job (202 + a status URL); smaller ones are
    #: imported in the request, all or nothing. ``Prefer: respond-async`` always asks a job.
    import_job_threshold_bytes: int = Field(default=256_000, ge=0)
    #: Import jobs run at once in one server process (threads).
    import_workers: int = Field(default=1, ge=1, le=8)
    max_json_depth: int = Field(default=32, ge=2, le=512)
    page_size_max: int = Field(default=500, ge=1, le=10_000)
    #: argon2 cost (argon2-cffi defaults: t=3, m=64 MiB). Tests lower them for speed.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=64)
    #: PostgreSQL connections kept per pool, with as many more opened under load. A served
    #: process has two pools on PostgreSQL (its threads' and its event loop's,
    #: :mod:`infantall.registry.evented`): up to 4 x this many connections per worker, to
    #: count against the server's ``max_connections``.
    db_pool_size: int = Field(default=10, ge=1, le=200)

    @field_validator("login_rate_per_ip", "login_rate_per_account", "request_rate_per_ip")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate such as '20/minute' or '100 per hour'"
            ) from None
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> RegistrySettings:
        if self.environment != "development":
            for name in ("secret_key", "pseudonym_key"):
                value: SecretStr = getattr(self, name)
                if (
                    value.get_secret_value().startswith(DEFAULT_SECRET)
                    or len(value.get_secret_value()) < 16
                ):
                    raise InvalidInputError(
                        f"INFANTALL_{name.upper()}",
                        f"set a secret of at least 16 characters: the default is refused in "
                        f"the {self.environment} environment",
                        "default_secret_refused",
                    )
        return self

    def import_limits(self, site_code: str) -> tuple[int, int]:
        """(max bytes, max rows) of one import file of ``site_code``."""
        default = (self.max_import_bytes, self.max_import_rows)
        return self.import_site_limits.get(site_code, default)

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (the zero set-up default)."""
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: Any) -> RegistrySettings:
    """Build the settings from the environment, with keyword ``overrides`` taking precedence.

    Raises
    ------
    InvalidInputError
        ``default_secret_refused`` when a default secret is used outside development, or
        ``invalid_setting`` for a malformed value.
    """
    from pydantic import ValidationError

    try:
        return RegistrySettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        if isinstance(first.get("ctx", {}).get("error"), InvalidInputError):
            raise first["ctx"]["error"] from None
        raise InvalidInputError(field, first["msg"], "invalid_setting") from None
