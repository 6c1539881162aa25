"""The binary outcome of each enrolled patient, from the registry's events, for an interim.

Outcome: event-free at ``outcome_lag_years`` after diagnosis (the design's landmark; the
diagnosis is the time origin of infant ALL trials, enrolment following within days). An
event is a relapse, death or second malignancy (``FAILURE_KINDS``). A patient has outcome
data at ``as_of`` when an event occurred before the landmark (failure), or when follow-up
(any recorded event or last contact) reached the landmark event-free (success); others
are not yet evaluable and not counted.

Time to event (:func:`registry_tte`): each enrolled patient's time from diagnosis to the
first failure event at ``as_of``, or censored at the last recorded event (e.g. last
contact) before ``as_of``. :func:`registry_event_count` counts the enrolled patients with a
failure event at ``as_of``: the count an interim schedule by events is checked against.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.design.adaptive import spec_from_dict
from infantall.registry.models import Event, Patient
from infantall.registry.trials import Trial, TrialEnrolment
from infantall.services.trials.setup import current_spec, load_trial

__all__ = [
    "FAILURE_KINDS",
    "TteData",
    "registry_event_count",
    "registry_outcomes",
    "registry_tte",
]

FAILURE_KINDS = frozenset({"relapse", "death", "second_malignancy"})
YEAR_DAYS = 365.25


def _outcome(
    diagnosis: dt.date, events: list[tuple[str, dt.date]], lag: float, as_of: dt.date
) -> int | None:
    landmark = diagnosis + dt.timedelta(days=round(lag * YEAR_DAYS))
    seen = [(d, k) for k, d in events if d <= as_of]
    if any(k in FAILURE_KINDS and d <= landmark for d, k in seen):
        return 0
    if landmark <= as_of and any(d >= landmark for d, _ in seen):
        return 1
    return None


def _enrolled(
    session: Session, trial: Trial
) -> tuple[list[tuple[int, int, dt.date]], dict[int, list[tuple[str, dt.date]]]]:
    """(patient id, arm, diagnosis date) of every enrolment, and each patient's live events."""
    rows = [
        (int(p), int(a), d)
        for p, a, d in session.execute(
            select(TrialEnrolment.patient_id, TrialEnrolment.arm, Patient.diagnosis_date)
            .join(Patient, Patient.id == TrialEnrolment.patient_id)
            .where(TrialEnrolment.trial_id == trial.id)
            .order_by(TrialEnrolment.number)
        ).all()
    ]
    events: dict[int, list[tuple[str, dt.date]]] = defaultdict(list)
    for pid, kind, when in session.execute(
        select(Event.patient_id, Event.kind, Event.event_date).where(
            Event.patient_id.in_([r[0] for r in rows]), Event.voided_at.is_(None)
        )
    ).all():
        events[pid].append((kind, when))
    return rows, events


def registry_outcomes(session: Session, code: str, as_of: dt.date) -> tuple[list[int], list[int]]:
    """Per arm: patients with outcome data at ``as_of`` and how many were event-free."""
    trial = load_trial(session, code)
    spec = spec_from_dict(current_spec(session, trial).spec)
    rows, events = _enrolled(session, trial)
    n = [0] * spec.n_arms
    y = [0] * spec.n_arms
    for pid, arm, diagnosis in rows:
        result = _outcome(diagnosis, events[pid], spec.outcome_lag_years, as_of)
        if result is not None:
            n[arm] += 1
            y[arm] += result
    return n, y


@dataclass(frozen=True, slots=True)
class TteData:
    """Per enrolled patient (in enrolment order): years of follow-up, event flag, arm."""

    times: list[float]
    events: list[int]
    arms: list[int]


def _first_failure(events: list[tuple[str, dt.date]], as_of: dt.date) -> dt.date | None:
    dates = [d for k, d in events if k in FAILURE_KINDS and d <= as_of]
    return min(dates) if dates else None


def registry_tte(session: Session, code: str, as_of: dt.date) -> TteData:
    """Follow-up from diagnosis to the first failure, or to the last recorded event."""
    trial = load_trial(session, code)
    rows, events = _enrolled(session, trial)
    out = TteData([], [], [])
    for pid, arm, diagnosis in rows:
        failure = _first_failure(events[pid], as_of)
        seen = [d for _, d in events[pid] if d <= as_of]
        end = failure or max(seen, default=diagnosis)
        out.times.append(max((end - diagnosis).days, 0) / YEAR_DAYS)
        out.events.append(int(failure is not None))
        out.arms.append(arm)
    return out


def registry_event_count(session: Session, trial: Trial, as_of: dt.date) -> int:
    """Enrolled patients with a failure event (relapse, death, second malignancy) at ``as_of``."""
    _, events = _enrolled(session, trial)
    return sum(1 for ev in events.values() if _first_failure(ev, as_of) is not None)
