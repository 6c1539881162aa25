"""What the data-monitoring reports hold: closed (arm level, DMC only) and open (pooled).

The closed report has accrual by site and stratum, the allocation history by arm, every
interim's posterior probabilities and decision, safety events by arm, and the predicted
dates of the next analyses (by patients, or by events when the schedule counts events; the
follow-up of each patient is taken from diagnosis, which precedes enrolment by days). The
open report, for the steering committee, has the same accrual, pooled safety counts and the
predicted dates, and nothing by arm.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.design.adaptive import TrialSpec, run_trials, spec_from_dict
from infantall.design.trial_timing import (
    InterimTiming,
    predict_event_times,
    predict_interim_times,
)
from infantall.registry.access import READ_ROLES, Principal, require_role
from infantall.registry.errors import PermissionDeniedError
from infantall.registry.models import Event, Site
from infantall.registry.trials import Trial, TrialEnrolment, TrialInterim
from infantall.services.trials.outcomes import registry_tte
from infantall.services.trials.rules import analysis_schedule, stratum_label
from infantall.services.trials.setup import TrialInfo, current_spec, is_dmc, load_trial, trial_info

__all__ = ["SAFETY_KINDS", "DmcReport", "dmc_report"]

#: Registry event kinds counted as safety events.
SAFETY_KINDS = ("death", "relapse", "second_malignancy")
YEAR_DAYS = 365.25
HISTORY_STEP = 50  # enrolments per row of the allocation history
RESIMULATED_TRIALS = 1000  # Monte-Carlo SE of a probability <= 0.016


@dataclass(frozen=True, slots=True)
class DmcReport:
    """The content of a closed (``closed=True``) or open DMC report."""

    closed: bool
    trial: TrialInfo
    enrolled: int
    by_site: dict[str, int]
    by_stratum: dict[str, int]
    safety: list[dict[str, Any]]
    allocation_history: list[dict[str, Any]]
    interims: list[dict[str, Any]]
    timing: InterimTiming | None
    resimulated: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "closed": self.closed,
            "trial": self.trial.to_dict(),
            "enrolled": self.enrolled,
            "by_site": self.by_site,
            "by_stratum": self.by_stratum,
            "safety": self.safety,
            "allocation_history": self.allocation_history,
            "interims": self.interims,
            "timing": None if self.timing is None else self.timing.to_dict(),
            "resimulated": self.resimulated,
        }


def _history(rows: list[TrialEnrolment], arms: list[str]) -> list[dict[str, Any]]:
    out = []
    for start in range(0, len(rows), HISTORY_STEP):
        part = Counter(e.arm_name for e in rows[start : start + HISTORY_STEP])
        out.append(
            {"enrolments": f"{start + 1}-{min(start + HISTORY_STEP, len(rows))}"}
            | {a: part.get(a, 0) for a in arms}
        )
    return out


def _safety(session: Session, rows: list[TrialEnrolment], closed: bool) -> list[dict[str, Any]]:
    arm_of = {e.patient_id: e.arm_name for e in rows}
    events = session.execute(
        select(Event.patient_id, Event.kind).where(
            Event.patient_id.in_(list(arm_of)),
            Event.kind.in_(SAFETY_KINDS),
            Event.voided_at.is_(None),
        )
    ).all()
    counts = Counter((arm_of[p] if closed else "all arms", k) for p, k in events)
    groups = sorted({g for g, _ in counts} | ({"all arms"} if not closed else set()))
    return [{"group": g} | {k: counts.get((g, k), 0) for k in SAFETY_KINDS} for g in groups]


def _timing(
    session: Session,
    trial: Trial,
    spec: TrialSpec,
    rows: list[TrialEnrolment],
    now: dt.datetime,
) -> InterimTiming | None:
    if len(rows) < 2:
        return None  # no accrual rate to fit yet: not estimable
    first = rows[0].enrolled_at
    entry = [(e.enrolled_at - first).total_seconds() / 86400 / YEAR_DAYS for e in rows]
    span = (now - first).total_seconds() / 86400 / YEAR_DAYS
    if span <= 0:
        return None
    kind, values = analysis_schedule(trial.settings, spec)
    rng = np.random.default_rng(len(rows))
    if kind == "events":
        tte = registry_tte(session, trial.code, now.date())
        most = max(int(spec.max_patients or 0), len(rows), int(values[-1]))
        targets = [int(v) for v in values]
        return predict_event_times(
            entry, tte.times, tte.events, span, targets, rng, max_patients=most
        )
    targets = [int(v) for v in spec.analyses.patients or []]
    return predict_interim_times(entry, span, targets, rng)


def _resimulated(spec: TrialSpec, interims: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Operating characteristics of the design re-simulated with every arm's success
    probability set to its posterior mean at the last interim (binary outcome)."""
    if not interims or spec.outcome != "binary":
        return None
    last = interims[-1]
    data = last["data"]
    prior = spec.prior
    arms = [
        arm.model_copy(update={"p": (prior.beta_a + y) / (prior.beta_a + prior.beta_b + n)})
        for arm, n, y in zip(spec.arms, data["patients"], data["successes"], strict=True)
    ]
    oc = run_trials(spec.model_copy(update={"arms": arms}), RESIMULATED_TRIALS, seed=len(interims))
    res = oc.operating_characteristics()
    return {
        "after_look": last["look"],
        "n_trials": res.n_trials,
        "assumed_p": [float(a.p or 0.0) for a in arms],
        "prob_superiority": res.prob_superiority,
        "prob_futility": res.prob_futility,
        "prob_select": list(res.prob_select),
        "expected_n": res.expected_n,
    }


def dmc_report(
    session: Session, principal: Principal, code: str, *, closed: bool, now: dt.datetime
) -> DmcReport:
    """The closed report (the trial's DMC statistician only) or the open one (pooled)."""
    trial = load_trial(session, code)
    dmc = is_dmc(session, principal, trial)
    if closed and not dmc:
        raise PermissionDeniedError("the closed DMC report is for the trial's DMC statistician")
    if not dmc:
        require_role(principal, READ_ROLES, "read trial reports")
    rows = list(
        session.scalars(
            select(TrialEnrolment)
            .where(TrialEnrolment.trial_id == trial.id)
            .order_by(TrialEnrolment.number)
        )
    )
    sites = {i: c for i, c in session.execute(select(Site.id, Site.code)).all()}
    spec = spec_from_dict(current_spec(session, trial).spec)
    arms = [a.name for a in spec.arms]
    interims = []
    if closed:
        interims = [
            {"look": i.look, "after_enrolments": i.after_enrolments, "data": i.data} | i.result
            for i in session.scalars(
                select(TrialInterim)
                .where(TrialInterim.trial_id == trial.id)
                .order_by(TrialInterim.look)
            )
        ]
    return DmcReport(
        closed=closed,
        trial=trial_info(session, trial),
        enrolled=len(rows),
        by_site=dict(sorted(Counter(sites[e.site_id] for e in rows).items())),
        by_stratum=dict(sorted(Counter(stratum_label(e.levels) for e in rows).items())),
        safety=_safety(session, rows, closed),
        allocation_history=_history(rows, arms) if closed else [],
        interims=interims,
        timing=_timing(session, trial, spec, rows, now),
        resimulated=_resimulated(spec, interims) if closed else None,
    )
