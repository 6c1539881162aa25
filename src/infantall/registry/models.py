"""SQLAlchemy 2 ORM models of the registry.

Patients are pseudonymised: a random registry id and a site-local code, never a name. The
diagnosis features are one column per field of ``infantall.domain.Patient``. Each event of
the domain model (response, MRD, relapse, death, HSCT, second malignancy, last contact,
late effect) is a row with its kind, its date and the domain event's own JSON-friendly
dictionary (``to_dict``), so the ORM follows the domain exactly. Nothing is deleted: rows carry
``voided_at``/``void_reason`` (OpenMRS "void, never purge"). Alembic migrations in
``infantall.registry.migrations`` are the only way the schema changes.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from infantall.domain import EVENT_KINDS as DOMAIN_EVENT_KINDS

__all__ = [
    "EVENT_KINDS",
    "KIND_LENGTH",
    "ROLES",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Event",
    "EventKind",
    "Patient",
    "RiskAssignment",
    "Role",
    "Signature",
    "SignatureUnlock",
    "Site",
    "TotpEnrolmentCode",
    "User",
    "utcnow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current time in UTC (server clock, never the client's: ICH E6(R3) 4.2.2(d))."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)  # the column type guarantees it
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Role(StrEnum):
    """Roles of a registry user (issue 6)."""

    site_editor = "site_editor"
    site_viewer = "site_viewer"
    coordinator = "coordinator"
    admin = "admin"
    #: Reads its own site and signs its patients' data sets (21 CFR 11.50); never edits.
    investigator = "investigator"


ROLES: tuple[str, ...] = tuple(r.value for r in Role)


#: Kinds of clinical events: the event types of ``infantall.domain`` (stored in
#: ``events.kind`` as the domain's ``kind`` tag, unchanged).
EVENT_KINDS: tuple[str, ...] = DOMAIN_EVENT_KINDS
#: The event kinds as an enumeration (member name = stored value = domain ``kind``); built
#: from the domain, so mypy cannot list its members.
EventKind = StrEnum("EventKind", [(kind, kind) for kind in EVENT_KINDS])  # type: ignore[misc]
#: Longest stored event kind: ``events.kind`` is ``String(KIND_LENGTH)`` (migration 0001).
KIND_LENGTH = 20


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable migration names)."""

    metadata = MetaData(naming_convention=NAMING)


class Site(Base):
    """A participating hospital (or national group) that owns its patients."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Optimistic concurrency: every UPDATE checks and bumps the version (stale -> 409).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    """A registry account: one role, and the site it belongs to for site roles."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The signer's printed name in a signature manifestation (21 CFR 11.50(a)(1)).
    full_name: Mapped[str | None] = mapped_column(String(200))
    #: TOTP secret (RFC 6238), encrypted with a key derived from the app's secret key;
    #: pending until ``totp_enabled`` (confirmed by a first valid code).
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The last accepted 30-second step: a code is accepted once (no replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Optimistic concurrency: every UPDATE checks and bumps the version (stale -> 409).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TotpEnrolmentCode(Base):
    """A one-time code that lets an account enrol its second factor (migration 0009): only
    its SHA-256 is stored; it expires and is used once."""

    __tablename__ = "totp_enrolment_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The administrator who issued it; NULL: the command line on the server.
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A bearer token or a session (cookie); only its SHA-256 is stored, never the token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Patient(Base):
    """A registered infant: pseudonymised identifiers plus the domain diagnosis features.

    ``registry_id`` is the domain ``patient_id``; the site is the domain ``site`` (its code).
    """

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("site_id", "local_code", name="uq_patients_site_local_code"),
        Index("ix_patients_site_diagnosis", "site_id", "diagnosis_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registry_id: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    local_code: Mapped[str] = mapped_column(String(64))
    # Diagnosis features: one column per field of ``infantall.domain.Patient``. A choice
    # column is NULL when the value was not entered, "unknown" when entered as unknown.
    sex: Mapped[str | None] = mapped_column(String(16))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    diagnosis_date: Mapped[dt.date] = mapped_column(Date)
    age_days: Mapped[int] = mapped_column(Integer)
    wbc: Mapped[float | None] = mapped_column(Float)
    immunophenotype: Mapped[str | None] = mapped_column(String(24))
    cd10: Mapped[str | None] = mapped_column(String(16))
    kmt2a: Mapped[str | None] = mapped_column(String(16))
    fusion_partner: Mapped[str | None] = mapped_column(String(16))
    cns: Mapped[str | None] = mapped_column(String(16))
    day8_blasts: Mapped[float | None] = mapped_column(Float)
    prednisone_response: Mapped[str | None] = mapped_column(String(16))
    day15_marrow: Mapped[str | None] = mapped_column(String(16))
    enrollment_date: Mapped[dt.date | None] = mapped_column(Date)
    protocol: Mapped[str] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Optimistic concurrency: every UPDATE checks and bumps the version (stale -> 409).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Event(Base):
    """One clinical event of a patient (kind + date + the domain event's dictionary)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_patient_date", "patient_id", "event_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registry_id: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    event_date: Mapped[dt.date] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Optimistic concurrency: every UPDATE checks and bumps the version (stale -> 409).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RiskAssignment(Base):
    """A risk group computed by ``infantall.protocols``, stored with the protocol version."""

    __tablename__ = "risk_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registry_id: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    protocol: Mapped[str] = mapped_column(String(40))
    protocol_version: Mapped[str] = mapped_column(String(40))
    risk_group: Mapped[str] = mapped_column(String(40))
    decision: Mapped[dict[str, Any]] = mapped_column(JSONType)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """One append-only audit row: who, when (UTC), what record, old and new values, why.

    The database refuses UPDATE and DELETE on this table (triggers created by the
    migration, on SQLite and PostgreSQL).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str | None] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    actor_site_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30), index=True)
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    site_id: Mapped[int | None] = mapped_column(Integer)
    old: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    reason: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10), default="api")


class Signature(Base):
    """An electronic signature of a patient's data set (append-only; 21 CFR 11.50, 11.70).

    The manifestation (printed name, UTC time, meaning) is stored with the SHA-256 of the
    record's canonical content at signing time. A signature locks the patient until an
    unlock (:class:`SignatureUnlock`) supersedes it; the row itself never changes.
    """

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registry_id: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    printed_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(40))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    content_digest: Mapped[str] = mapped_column(String(64))
    patient_version: Mapped[int] = mapped_column(Integer)


class SignatureUnlock(Base):
    """An unlock of a signed patient (append-only): supersedes every signature up to
    ``last_signature_id``, with who, when and why."""

    __tablename__ = "signature_unlocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registry_id: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    last_signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    unlocked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
