"""Interims of a running trial: due by the schedule, run with the design's own rules.

The schedule counts patients enrolled or years since the first enrolment (the design's
``analyses``), or failure events among the enrolled patients (``settings.interim_events``,
checked against the registry's events at ``as_of``). A due interim runs the engine's
analysis step: for a binary outcome on patients with outcome data and their successes, for
a time-to-event outcome on each patient's follow-up and event
(:func:`infantall.design.allocation.tte_interim_update`). Only the trial's DMC statistician
runs interims and reads their results.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from infantall.design.adaptive import TrialSpec, spec_from_dict
from infantall.design.allocation import interim_update, tte_interim_update
from infantall.errors import InvalidInputError
from infantall.registry import audit
from infantall.registry.access import Principal
from infantall.registry.errors import PermissionDeniedError
from infantall.registry.models import Role
from infantall.registry.trials import Trial, TrialInterim
from infantall.services.trials.enrol import EnrolmentResult, enrol, enrolments, interims_of
from infantall.services.trials.outcomes import (
    YEAR_DAYS,
    registry_event_count,
    registry_outcomes,
    registry_tte,
)
from infantall.services.trials.rules import analysis_schedule
from infantall.services.trials.setup import commit, current_spec, is_dmc, load_trial

__all__ = [
    "analysis_progress",
    "enrol_and_run_due",
    "record_interim",
    "run_due_interims",
    "run_due_interims_scheduled",
]


def analysis_progress(
    session: Session, trial: Trial, spec: TrialSpec, as_of: dt.date
) -> tuple[str, list[float], float]:
    """What the schedule counts, its values, and where the trial is at ``as_of``."""
    kind, values = analysis_schedule(trial.settings, spec)
    rows = enrolments(session, trial)
    if kind == "events":
        return kind, values, float(registry_event_count(session, trial, as_of))
    if kind == "patients":
        return kind, values, float(len(rows))
    if not rows:
        return kind, values, 0.0
    first = rows[0].enrolled_at.date()
    return kind, values, max((as_of - first).days, 0) / YEAR_DAYS


def _binary(
    session: Session,
    code: str,
    spec: TrialSpec,
    look: int,
    active: list[bool],
    patients: Sequence[float] | None,
    successes: Sequence[float] | None,
    as_of: dt.date,
) -> tuple[dict[str, Any], dict[str, Any]]:
    if patients is None or successes is None:
        patients, successes = registry_outcomes(session, code, as_of)
    upd = interim_update(spec, look, patients, successes, active)
    data = {"patients": list(patients), "successes": list(successes), "active": active}
    return data, upd.to_dict()


def _tte(
    session: Session, code: str, spec: TrialSpec, look: int, active: list[bool], as_of: dt.date
) -> tuple[dict[str, Any], dict[str, Any]]:
    tte = registry_tte(session, code, as_of)
    res = tte_interim_update(spec, look, tte.times, tte.events, tte.arms, active)
    data = {"exposure": list(res.exposure), "events": list(res.events), "active": active}
    return data, res.update.to_dict()


def _due(session: Session, trial: Trial, spec: TrialSpec, day: dt.date) -> tuple[int, str]:
    """The look that is due now, or ``-1`` with the reason none is."""
    look = len(interims_of(session, trial))
    kind, schedule, reached = analysis_progress(session, trial, spec, day)
    if look < len(schedule) and reached >= schedule[look]:
        return look, ""
    due = "none left" if look >= len(schedule) else f"at {schedule[look]:g} {kind}"
    now = f"{reached:g} " + ("enrolled" if kind == "patients" else kind)
    return -1, f"no interim is due ({now}; next {due})"


def _run(
    session: Session,
    principal: Principal,
    trial: Trial,
    spec: TrialSpec,
    look: int,
    day: dt.date,
    data_in: tuple[Sequence[float] | None, Sequence[float] | None] = (None, None),
) -> dict[str, Any]:
    """Run interim ``look`` with the design's rules and record it (not committed)."""
    code = trial.code
    done = interims_of(session, trial)
    active = done[-1].result["active"] if done else [True] * spec.n_arms
    patients, successes = data_in
    if spec.outcome == "binary":
        data, result = _binary(session, code, spec, look, active, patients, successes, day)
    elif patients is not None or successes is not None:
        raise InvalidInputError(
            "patients", "a time-to-event interim reads the registry's events", "tte_from_registry"
        )
    else:
        data, result = _tte(session, code, spec, look, active, day)
    n = len(enrolments(session, trial))
    session.add(
        TrialInterim(
            trial_id=trial.id,
            look=look,
            after_enrolments=n,
            data=data,
            result=result,
            recorded_by=principal.username,
        )
    )
    if result["decision"] != "continue":
        trial.status = "stopped"
    audit.record(
        session,
        principal,
        "interim",
        "trial_interim",
        f"{code}/{look}",
        new={"data": data, "result": result, "after_enrolments": n},
    )
    session.flush()
    return result


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

    Binary outcome: ``patients`` / ``successes`` per arm are those with outcome data; when
    not given they are derived from the registry's events at ``as_of`` (today) by
    :func:`~infantall.services.trials.outcomes.registry_outcomes`. Time to event: always
    from the registry (:func:`~infantall.services.trials.outcomes.registry_tte`).
    """
    trial = load_trial(session, code, lock=True)
    if not is_dmc(session, principal, trial):
        raise PermissionDeniedError("only the trial's DMC statistician runs interims", "not_dmc")
    day = as_of or dt.date.today()
    spec = spec_from_dict(current_spec(session, trial).spec)
    look, why = _due(session, trial, spec, day)
    if look < 0:
        raise InvalidInputError("look", why, "not_due")
    result = _run(session, principal, trial, spec, look, day, (patients, successes))
    commit(session)
    return result


def run_due_interims(
    session: Session, principal: Principal, code: str, as_of: dt.date | None = None
) -> int:
    """Run every interim that is due, for a trial whose ``settings.auto_interims`` is true.

    The interims run with the design's rules on the registry's data at ``as_of`` (today),
    recorded for the DMC exactly as :func:`record_interim` records them (the audit row names
    ``principal`` with channel ``auto``). The caller learns how many ran, never their
    results. A trial without ``auto_interims`` runs nothing (its DMC runs each interim).
    """
    trial = load_trial(session, code, lock=True)
    if not trial.settings.get("auto_interims", False):
        return 0
    day = as_of or dt.date.today()
    actor = dataclasses.replace(principal, channel="auto")
    spec = spec_from_dict(current_spec(session, trial).spec)  # frozen while interims run
    ran = 0
    while trial.status == "open":
        look, _ = _due(session, trial, spec, day)
        if look < 0:
            break
        _run(session, actor, trial, spec, look, day)
        ran += 1
    commit(session)
    return ran


def run_due_interims_scheduled(
    session: Session, principal: Principal, code: str, as_of: dt.date | None = None
) -> int:
    """:func:`run_due_interims` for a scheduler (``infantall trial run-due``, e.g. daily
    from cron, for schedules by events or years): the trial's DMC statistician or a
    coordinator; the answer is the number of interims run, never their results."""
    trial = load_trial(session, code)
    if principal.role is not Role.coordinator and not is_dmc(session, principal, trial):
        raise PermissionDeniedError(
            "a coordinator or the trial's DMC statistician runs due interims", "not_dmc"
        )
    return run_due_interims(session, principal, code, as_of)


def enrol_and_run_due(
    session: Session, principal: Principal, code: str, registry_id: str
) -> EnrolmentResult:
    """Enrol and allocate (:func:`~infantall.services.trials.enrol.enrol`), then run the
    interims this enrolment made due when the trial fires them automatically."""
    result = enrol(session, principal, code, registry_id)
    run_due_interims(session, principal, code)
    return result
