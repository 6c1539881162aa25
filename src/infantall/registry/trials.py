"""Storage of running trials: the frozen design, its signed versions, enrolments, interims.

A trial holds the design specification that ``infantall design simulate`` ran (stored as
JSON with the SHA-256 of its canonical form) in :class:`TrialSpecVersion` rows; a new version
after the first enrolment needs a signature (who, why) and is audited. The allocation seed
(:attr:`Trial.seed`) is held server-side and never leaves the service layer. Enrolments are
numbered from 0 in order; each is also an audit row, from which ``trial replay`` recomputes
the allocation. Trial-level roles (the DMC statistician) are rows of :class:`TrialMember`.
Migration ``0003`` creates these tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infantall.registry.models import Base, JSONType, UTCDateTime, utcnow

__all__ = [
    "ALLOCATION_METHODS",
    "TRIAL_ROLES",
    "Trial",
    "TrialEnrolment",
    "TrialInterim",
    "TrialMember",
    "TrialSpecVersion",
]

#: Allocation methods of a trial.
ALLOCATION_METHODS = ("permuted-blocks", "minimisation", "response-adaptive")
#: Trial-level roles granted to registry users.
TRIAL_ROLES = ("dmc_statistician",)


class Trial(Base):
    """A randomised trial run in the registry."""

    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(24))
    # factors, block multipliers, p_best, protocol and eligible groups
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrialSpecVersion(Base):
    """One frozen version of a trial's design specification."""

    __tablename__ = "trial_spec_versions"
    __table_args__ = (UniqueConstraint("trial_id", "version", name="uq_trial_spec_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    digest: Mapped[str] = mapped_column(String(64))
    signed_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrialEnrolment(Base):
    """One enrolled patient and the arm allocated at once."""

    __tablename__ = "trial_enrolments"
    __table_args__ = (
        UniqueConstraint("trial_id", "number", name="uq_trial_enrolment_number"),
        UniqueConstraint("trial_id", "patient_id", name="uq_trial_enrolment_patient"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    levels: Mapped[dict[str, Any]] = mapped_column(JSONType)
    arm: Mapped[int] = mapped_column(Integer)
    arm_name: Mapped[str] = mapped_column(String(64))
    spec_version: Mapped[int] = mapped_column(Integer)
    interim_look: Mapped[int | None] = mapped_column(Integer)
    enrolled_by: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrialInterim(Base):
    """An interim analysis run with the design's rules (closed: DMC only)."""

    __tablename__ = "trial_interims"
    __table_args__ = (UniqueConstraint("trial_id", "look", name="uq_trial_interim_look"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    look: Mapped[int] = mapped_column(Integer)
    after_enrolments: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrialMember(Base):
    """A trial-level role of a registry user (e.g. the DMC statistician)."""

    __tablename__ = "trial_members"
    __table_args__ = (UniqueConstraint("trial_id", "user_id", name="uq_trial_member_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(24))
