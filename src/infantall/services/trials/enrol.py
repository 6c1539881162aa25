"""Enrolment with immediate, concealed allocation; interims run with the design's rules.

A site editor enrols one of its own patients: eligibility is checked by
:func:`infantall.protocols.stratify` (the explanation is returned or given in the error),
the factors are derived from the record, the arm is computed by
:func:`infantall.services.trials.rules.allocate` from the server-side seed, and one audit
row (``allocate`` / ``trial_allocation``) holds everything replay needs. The caller learns
only this patient's arm.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.design.adaptive import spec_from_dict
from infantall.design.allocation import interim_update
from infantall.errors import InvalidInputError
from infantall.protocols import NOT_APPLICABLE, stratify
from infantall.registry import audit
from infantall.registry.access import Principal, require_role
from infantall.registry.errors import ConflictError, PermissionDeniedError
from infantall.registry.histories import to_histories
from infantall.registry.models import Event, Role
from infantall.registry.patients import load_patient
from infantall.registry.trials import Trial, TrialEnrolment, TrialInterim
from infantall.services.trials.outcomes import registry_outcomes
from infantall.services.trials.rules import allocate, initial_allocation, patient_levels
from infantall.services.trials.setup import commit, current_spec, is_dmc, load_trial

__all__ = ["EnrolmentResult", "enrol", "probabilities_in_force", "record_interim"]


@dataclass(frozen=True, slots=True)
class EnrolmentResult:
    """What the enrolling site learns: this patient's number and arm, and why eligible."""

    trial: str
    patient: str
    number: int
    arm: str
    eligibility: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "trial": self.trial,
            "patient": self.patient,
            "number": self.number,
            "arm": self.arm,
            "eligibility": self.eligibility,
        }


def _eligibility(session: Session, trial: Trial, patient: Any, site_code: str) -> str:
    events = list(
        session.scalars(
            select(Event).where(Event.patient_id == patient.id, Event.voided_at.is_(None))
        )
    )
    history = to_histories([(patient, site_code)], {patient.id: events})[0]
    decision = stratify(history, trial.settings["protocol"])
    groups: list[str] = trial.settings["eligible_groups"]
    if decision.group == NOT_APPLICABLE or (groups and decision.group not in groups):
        raise InvalidInputError("patient", f"not eligible: {decision.explanation}", "ineligible")
    return decision.explanation


def _history(session: Session, trial: Trial) -> list[TrialEnrolment]:
    query = select(TrialEnrolment).where(TrialEnrolment.trial_id == trial.id)
    return list(session.scalars(query.order_by(TrialEnrolment.number)))


def _interims(session: Session, trial: Trial) -> list[TrialInterim]:
    query = select(TrialInterim).where(TrialInterim.trial_id == trial.id)
    return list(session.scalars(query.order_by(TrialInterim.look)))


def probabilities_in_force(
    spec_body: dict[str, Any], interims: Sequence[dict[str, Any]]
) -> tuple[tuple[float, ...], int | None]:
    """Allocation probabilities of the last interim (or the design's initial ones)."""
    if interims:
        last = interims[-1]
        return tuple(float(p) for p in last["allocation"]), int(last["look"])
    return initial_allocation(spec_from_dict(spec_body)), None


def enrol(session: Session, principal: Principal, code: str, registry_id: str) -> EnrolmentResult:
    """Enrol ``registry_id`` in trial ``code`` and allocate it at once (site editor)."""
    require_role(principal, frozenset({Role.site_editor}), "enrol patients in trials")
    trial = load_trial(session, code, lock=True)
    if trial.status != "open":
        raise ConflictError(f"trial {code!r} is {trial.status}: no enrolment")
    patient, site_code = load_patient(
        session, principal, registry_id, write=True, operation="enrol", data_change=False
    )
    explanation = _eligibility(session, trial, patient, site_code)
    done = _history(session, trial)
    if any(e.patient_id == patient.id for e in done):
        raise ConflictError(f"patient {registry_id} is already enrolled in {code}")
    version = current_spec(session, trial)
    levels = patient_levels(
        trial.settings["factors"], age_days=patient.age_days, wbc=patient.wbc, site=site_code
    )
    interims = [i.result for i in _interims(session, trial)]
    probs, look = probabilities_in_force(version.spec, interims)
    number = len(done)
    alloc = allocate(
        trial.method,
        trial.settings,
        trial.seed,
        number,
        levels,
        [(e.levels, e.arm) for e in done],
        probs,
    )
    arm_name = version.spec["arms"][alloc.arm]["name"]
    row = TrialEnrolment(
        trial_id=trial.id,
        number=number,
        patient_id=patient.id,
        site_id=patient.site_id,
        levels=levels,
        arm=alloc.arm,
        arm_name=arm_name,
        spec_version=version.version,
        interim_look=look,
        enrolled_by=principal.username,
    )
    session.add(row)
    new = {
        "trial": code,
        "number": number,
        "patient": registry_id,
        "levels": levels,
        "arm": alloc.arm,
        "spec_version": version.version,
        "spec_digest": version.digest,
        "interim_look": look,
        "probabilities": None if alloc.probabilities is None else list(alloc.probabilities),
    }
    audit.record(
        session,
        principal,
        "allocate",
        "trial_allocation",
        f"{code}/{number}",
        site_id=patient.site_id,
        new=new,
    )
    commit(session)
    return EnrolmentResult(code, registry_id, number, arm_name, explanation)


def record_interim(
    session: Session,
    principal: Principal,
    code: str,
    *,
    patients: Sequence[float] | None = None,
    successes: Sequence[float] | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """Run the next scheduled interim with the design's rules; DMC statisticians only.

    ``patients`` / ``successes`` per arm are those with outcome data (binary outcome); when
    not given they are derived from the registry's events at ``as_of`` (today) by
    :func:`~infantall.services.trials.outcomes.registry_outcomes`. The interim is due once
    the enrolments reach the design's next ``analyses.patients``.
    """
    trial = load_trial(session, code, lock=True)
    if not is_dmc(session, principal, trial):
        raise PermissionDeniedError("only the trial's DMC statistician runs interims", "not_dmc")
    version = current_spec(session, trial)
    spec = spec_from_dict(version.spec)
    done = _interims(session, trial)
    look = len(done)
    schedule = spec.analyses.patients or []
    n = len(_history(session, trial))
    if look >= len(schedule) or n < schedule[look]:
        due = "none left" if look >= len(schedule) else f"at {schedule[look]} patients"
        raise InvalidInputError("look", f"no interim is due ({n} enrolled; next {due})", "not_due")
    if patients is None or successes is None:
        patients, successes = registry_outcomes(session, code, as_of or dt.date.today())
    active = done[-1].result["active"] if done else [True] * spec.n_arms
    upd = interim_update(spec, look, patients, successes, active)
    data = {"patients": list(patients), "successes": list(successes), "active": active}
    session.add(
        TrialInterim(
            trial_id=trial.id,
            look=look,
            after_enrolments=n,
            data=data,
            result=upd.to_dict(),
            recorded_by=principal.username,
        )
    )
    if upd.decision != "continue":
        trial.status = "stopped"
    audit.record(
        session,
        principal,
        "interim",
        "trial_interim",
        f"{code}/{look}",
        new={"data": data, "result": upd.to_dict(), "after_enrolments": n},
    )
    commit(session)
    return upd.to_dict()
