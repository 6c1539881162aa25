"""Opening a trial in the registry: the frozen design, its signed versions, the DMC members."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infantall.design.adaptive import TrialSpec, spec_from_dict
from infantall.errors import InvalidInputError
from infantall.registry import audit
from infantall.registry.access import Principal, require_role
from infantall.registry.errors import ConflictError, NotFoundError
from infantall.registry.models import Role, User
from infantall.registry.security import verify_password
from infantall.registry.trials import (
    ALLOCATION_METHODS,
    TRIAL_ROLES,
    Trial,
    TrialEnrolment,
    TrialMember,
    TrialSpecVersion,
)
from infantall.services.trials.rules import check_settings, spec_digest

__all__ = [
    "TrialInfo",
    "commit",
    "create_trial",
    "current_spec",
    "grant_trial_role",
    "is_dmc",
    "load_trial",
    "revise_spec",
    "trial_info",
]

COORDINATOR = frozenset({Role.coordinator})


@dataclass(frozen=True, slots=True)
class TrialInfo:
    """Public description of a trial (never its seed)."""

    code: str
    name: str
    method: str
    arms: tuple[str, ...]
    factors: tuple[str, ...]
    spec_version: int
    spec_digest: str
    status: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "code": self.code,
            "name": self.name,
            "method": self.method,
            "arms": list(self.arms),
            "factors": list(self.factors),
            "spec_version": self.spec_version,
            "spec_digest": self.spec_digest,
            "status": self.status,
        }


def commit(session: Session) -> None:
    """Commit, turning a lost race (same enrolment number, same member) into a conflict."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError("the trial changed meanwhile: try again", "trial_conflict") from None


def load_trial(session: Session, code: str, *, lock: bool = False) -> Trial:
    """The trial ``code`` or :class:`NotFoundError`; ``lock`` serialises writers (PostgreSQL).

    SQLite serialises writers with BEGIN IMMEDIATE already.
    """
    query = select(Trial).where(Trial.code == code)
    if lock and session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update().execution_options(populate_existing=True)
    trial = session.scalar(query)
    if trial is None:
        raise NotFoundError(f"no trial {code!r}")
    return trial


def current_spec(session: Session, trial: Trial) -> TrialSpecVersion:
    """The latest design version of ``trial``."""
    row = session.scalar(
        select(TrialSpecVersion)
        .where(TrialSpecVersion.trial_id == trial.id)
        .order_by(TrialSpecVersion.version.desc())
        .limit(1)
    )
    if row is None:  # pragma: no cover - create_trial always writes version 1
        raise NotFoundError(f"trial {trial.code!r} has no design")
    return row


def trial_info(session: Session, trial: Trial) -> TrialInfo:
    version = current_spec(session, trial)
    spec = spec_from_dict(version.spec)
    return TrialInfo(
        code=trial.code,
        name=trial.name,
        method=trial.method,
        arms=tuple(a.name for a in spec.arms),
        factors=tuple(trial.settings["factors"]),
        spec_version=version.version,
        spec_digest=version.digest,
        status=trial.status,
    )


def _n_looks(spec: TrialSpec) -> int:
    return len(spec.analyses.patients or spec.analyses.years or [])


def create_trial(
    session: Session,
    principal: Principal,
    *,
    code: str,
    spec: Mapping[str, Any],
    method: str,
    settings: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> TrialInfo:
    """Open a trial (coordinator) with design version 1; the seed is drawn server-side.

    ``seed`` is for tests and demonstrations only; it is never returned.
    """
    require_role(principal, COORDINATOR, "open trials")
    if method not in ALLOCATION_METHODS:
        raise InvalidInputError("method", f"one of {', '.join(ALLOCATION_METHODS)}", "bad_method")
    if not code.strip():
        raise InvalidInputError("code", "a trial code is required", "required")
    parsed = spec_from_dict(dict(spec))
    checked = check_settings(method, settings or {}, parsed.n_arms, _n_looks(parsed))
    if session.scalar(select(Trial).where(Trial.code == code)) is not None:
        raise ConflictError(f"a trial {code!r} exists already")
    trial = Trial(
        code=code,
        name=parsed.name,
        method=method,
        settings=checked,
        seed=secrets.randbits(62) if seed is None else int(seed),
        status="open",
    )
    session.add(trial)
    session.flush()
    body = dict(spec)
    version = TrialSpecVersion(trial_id=trial.id, version=1, spec=body, digest=spec_digest(body))
    session.add(version)
    new = {"method": method, "settings": checked, "spec_digest": version.digest}
    audit.record(session, principal, "create", "trial", code, new=new)
    commit(session)
    return trial_info(session, trial)


def _enrolled(session: Session, trial: Trial) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(TrialEnrolment)
            .where(TrialEnrolment.trial_id == trial.id)
        )
        or 0
    )


def _signed(
    session: Session,
    principal: Principal,
    signature: str | None,
    password: str | None,
    hasher: PasswordHasher | None,
) -> bool:
    if signature != principal.username or not password or hasher is None:
        return False
    user = session.get(User, principal.user_id)
    return user is not None and verify_password(hasher, user.password_hash, password)


def revise_spec(
    session: Session,
    principal: Principal,
    code: str,
    spec: Mapping[str, Any],
    *,
    reason: str | None = None,
    signature: str | None = None,
    password: str | None = None,
    hasher: PasswordHasher | None = None,
) -> TrialInfo:
    """A new design version. After the first enrolment it must be signed.

    Signing (an electronic signature as in 21 CFR 11.200: two components) is typing one's
    own username as ``signature`` and re-entering one's ``password``, with a ``reason``.
    Arms cannot change (allocations refer to them).
    """
    require_role(principal, COORDINATOR, "change a trial's design")
    trial = load_trial(session, code, lock=True)
    parsed = spec_from_dict(dict(spec))
    check_settings(trial.method, trial.settings, parsed.n_arms, _n_looks(parsed))
    old = current_spec(session, trial)
    if [a.name for a in parsed.arms] != [a["name"] for a in old.spec["arms"]]:
        raise InvalidInputError(
            "spec.arms", "the arms of a running trial cannot change", "arms_changed"
        )
    signed = _signed(session, principal, signature, password, hasher)
    if _enrolled(session, trial) > 0 and not (signed and reason and reason.strip()):
        raise InvalidInputError(
            "signature",
            "the design is locked after the first enrolment: a new version needs your "
            "signature (your username and password) and a reason",
            "spec_locked",
        )
    body = dict(spec)
    version = TrialSpecVersion(
        trial_id=trial.id,
        version=old.version + 1,
        spec=body,
        digest=spec_digest(body),
        signed_by=principal.username if signed else None,
        reason=reason,
    )
    session.add(version)
    audit.record(
        session,
        principal,
        "revise",
        "trial_spec",
        f"{code}/v{version.version}",
        old={"digest": old.digest, "version": old.version},
        new={"digest": version.digest, "version": version.version, "signed_by": version.signed_by},
        reason=reason,
    )
    commit(session)
    return trial_info(session, trial)


def grant_trial_role(
    session: Session, principal: Principal, code: str, username: str, role: str
) -> None:
    """Give ``username`` a trial-level role (coordinator or admin)."""
    require_role(principal, frozenset({Role.coordinator, Role.admin}), "grant trial roles")
    if role not in TRIAL_ROLES:
        raise InvalidInputError("role", f"one of {', '.join(TRIAL_ROLES)}", "bad_trial_role")
    trial = load_trial(session, code)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InvalidInputError("username", f"no user {username!r}", "unknown_user")
    session.add(TrialMember(trial_id=trial.id, user_id=user.id, role=role))
    audit.record(
        session, principal, "grant", "trial_member", f"{code}/{username}", new={"role": role}
    )
    commit(session)


def is_dmc(session: Session, principal: Principal, trial: Trial) -> bool:
    """Whether the caller is a DMC statistician of ``trial``."""
    row = session.scalar(
        select(TrialMember).where(
            TrialMember.trial_id == trial.id,
            TrialMember.user_id == principal.user_id,
            TrialMember.role == "dmc_statistician",
        )
    )
    return row is not None
