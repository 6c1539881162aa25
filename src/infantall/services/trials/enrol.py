"""Enrolment with immediate, concealed allocation (interims: :mod:`.interims`).

A site editor enrols one of its own patients: eligibility is checked by
:func:`infantall.protocols.stratify` (the explanation is returned or given in the error),
the factors are derived from the record, the arm is computed by
:func:`infantall.services.trials.rules.allocate` from the server-side seed, and one audit
row (``allocate`` / ``trial_allocation``) holds everything replay needs. The caller learns
only this patient's arm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.design.adaptive import spec_from_dict
from infantall.errors import InvalidInputError
from infantall.protocols import NOT_APPLICABLE, stratify
from infantall.registry import audit
from infantall.registry.access import Principal, require_role
from infantall.registry.errors import ConflictError
from infantall.registry.histories import to_histories
from infantall.registry.models import Event, Patient, Role
from infantall.registry.patients import load_patient
from infantall.registry.trials import Trial, TrialEnrolment, TrialInterim
from infantall.services.trials.rules import allocate, initial_allocation, patient_levels
from infantall.services.trials.setup import commit, current_spec, load_trial

__all__ = [
    "EnrolmentResult",
    "eligibility",
    "enrol",
    "enrolment_candidates",
    "enrolments",
    "interims_of",
    "preview_enrolment",
    "probabilities_in_force",
]


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


def eligibility(session: Session, trial: Trial, patient: Any, site_code: str) -> tuple[bool, str]:
    """Whether ``patient`` is eligible for ``trial`` under its protocol, and why."""
    events = list(
        session.scalars(
            select(Event).where(Event.patient_id == patient.id, Event.voided_at.is_(None))
        )
    )
    history = to_histories([(patient, site_code)], {patient.id: events})[0]
    decision = stratify(history, trial.settings["protocol"])
    groups: list[str] = trial.settings["eligible_groups"]
    ok = decision.group != NOT_APPLICABLE and (not groups or decision.group in groups)
    return ok, decision.explanation


def _eligibility(session: Session, trial: Trial, patient: Any, site_code: str) -> str:
    ok, explanation = eligibility(session, trial, patient, site_code)
    if not ok:
        raise InvalidInputError("patient", f"not eligible: {explanation}", "ineligible")
    return explanation


def preview_enrolment(
    session: Session, principal: Principal, code: str, registry_id: str
) -> dict[str, Any]:
    """Before enrolling (site editor): is the patient eligible, why, already enrolled?

    Reveals nothing about the allocation the patient would receive.
    """
    require_role(principal, frozenset({Role.site_editor}), "enrol patients in trials")
    trial = load_trial(session, code)
    patient, site_code = load_patient(session, principal, registry_id, operation="enrol")
    ok, explanation = eligibility(session, trial, patient, site_code)
    enrolled = session.scalar(
        select(TrialEnrolment.id).where(
            TrialEnrolment.trial_id == trial.id, TrialEnrolment.patient_id == patient.id
        )
    )
    return {
        "patient": registry_id,
        "local_code": patient.local_code,
        "eligible": ok,
        "explanation": explanation,
        "enrolled": enrolled is not None,
        "open": trial.status == "open",
    }


def enrolment_candidates(session: Session, principal: Principal, code: str) -> list[dict[str, str]]:
    """The site editor's own live patients not yet in trial ``code`` (code order)."""
    require_role(principal, frozenset({Role.site_editor}), "enrol patients in trials")
    trial = load_trial(session, code)
    taken = select(TrialEnrolment.patient_id).where(TrialEnrolment.trial_id == trial.id)
    rows = session.execute(
        select(Patient.registry_id, Patient.local_code)
        .where(
            Patient.site_id == principal.site_id,
            Patient.voided_at.is_(None),
            Patient.id.not_in(taken),
        )
        .order_by(Patient.local_code)
    ).all()
    return [{"patient": rid, "local_code": local} for rid, local in rows]


def enrolments(session: Session, trial: Trial) -> list[TrialEnrolment]:
    query = select(TrialEnrolment).where(TrialEnrolment.trial_id == trial.id)
    return list(session.scalars(query.order_by(TrialEnrolment.number)))


def interims_of(session: Session, trial: Trial) -> list[TrialInterim]:
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
    done = enrolments(session, trial)
    if any(e.patient_id == patient.id for e in done):
        raise ConflictError(f"patient {registry_id} is already enrolled in {code}")
    version = current_spec(session, trial)
    levels = patient_levels(
        trial.settings["factors"], age_days=patient.age_days, wbc=patient.wbc, site=site_code
    )
    interims = [i.result for i in interims_of(session, trial)]
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
