"""What each role may see of a running trial (concealment and blinding).

Everybody with registry access sees the design and pooled accrual (by site and stratum,
never by arm). A site editor or viewer also sees the arms of its own site's enrolled
patients. Only the trial's DMC statistician sees arm-level counts and the interim results.
No view holds the seed, an unused allocation or the allocation list.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.design.adaptive import spec_from_dict
from infantall.registry.access import READ_ROLES, SITE_ROLES, Principal, require_role
from infantall.registry.models import Patient, Site
from infantall.registry.trials import Trial, TrialEnrolment, TrialInterim
from infantall.services.trials.interims import analysis_progress
from infantall.services.trials.rules import stratum_label
from infantall.services.trials.setup import current_spec, is_dmc, load_trial, trial_info

__all__ = ["trial_list", "trial_view"]


def trial_view(session: Session, principal: Principal, code: str) -> dict[str, Any]:
    """The JSON-safe view of trial ``code`` allowed to ``principal``."""
    trial = load_trial(session, code)
    dmc = is_dmc(session, principal, trial)
    if not dmc:
        require_role(principal, READ_ROLES, "read trials")
    rows = session.execute(
        select(TrialEnrolment, Patient.registry_id, Site.code)
        .join(Patient, Patient.id == TrialEnrolment.patient_id)
        .join(Site, Site.id == TrialEnrolment.site_id)
        .where(TrialEnrolment.trial_id == trial.id)
        .order_by(TrialEnrolment.number)
    ).all()
    out: dict[str, Any] = {
        "trial": trial_info(session, trial).to_dict(),
        "blinded": not dmc,
        "enrolled": len(rows),
        "by_site": dict(sorted(Counter(site for _, _, site in rows).items())),
        "by_stratum": dict(sorted(Counter(stratum_label(e.levels) for e, _, _ in rows).items())),
    }
    spec = spec_from_dict(current_spec(session, trial).spec)
    kind, schedule, reached = analysis_progress(session, trial, spec, dt.date.today())
    looks = session.scalars(select(TrialInterim.look).where(TrialInterim.trial_id == trial.id))
    done = len(list(looks))
    out["next_analysis"] = (
        None
        if done >= len(schedule)
        else {
            "look": done + 1,
            "counts": kind,
            f"at_{kind}": schedule[done] if kind == "years" else int(schedule[done]),
            "due": reached >= schedule[done],
        }
    )
    if principal.role in SITE_ROLES and principal.site_id is not None:
        out["my_site_allocations"] = [
            {"number": e.number, "patient": rid, "arm": e.arm_name}
            for e, rid, _ in rows
            if e.site_id == principal.site_id
        ]
    if dmc:
        out["by_arm"] = dict(sorted(Counter(e.arm_name for e, _, _ in rows).items()))
        interims = session.scalars(
            select(TrialInterim)
            .where(TrialInterim.trial_id == trial.id)
            .order_by(TrialInterim.look)
        )
        out["interims"] = [
            {"look": i.look, "after_enrolments": i.after_enrolments, "result": i.result}
            for i in interims
        ]
    return out


def trial_list(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Every trial with its pooled accrual and next analysis (read roles), by code."""
    require_role(principal, READ_ROLES, "read trials")
    codes = session.scalars(select(Trial.code).order_by(Trial.code))
    out = []
    for code in codes:
        view = trial_view(session, principal, code)
        out.append(
            {
                "trial": view["trial"],
                "enrolled": view["enrolled"],
                "next_analysis": view["next_analysis"],
            }
        )
    return out
