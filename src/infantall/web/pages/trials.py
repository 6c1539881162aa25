"""Trial pages: the list, one trial's overview, enrolment by a site editor, the DMC report.

Every page calls :mod:`infantall.services.trials`, so it shows what the API shows to the
same role and refuses what the API refuses. Concealment as in the API: no page holds the
seed, the allocation list or an unused allocation; an arm appears on the page that answers
the enrolment that made it, and afterwards only to the enrolling site (its own patients)
and the trial's DMC statistician. The enrolment page shows the patient's eligibility with
the protocol's explanation before the editor confirms. The report page is the closed
(arm-level) report for the trial's DMC statistician and the open (pooled) one for everybody
else with read access.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from infantall.errors import InvalidInputError
from infantall.registry.access import Principal
from infantall.registry.errors import ConflictError
from infantall.registry.models import Role
from infantall.registry.text import CODE_PATTERN, ID_PATTERN
from infantall.reports.dmc_section import dmc_sections
from infantall.services.trials import enrol_and_run_due as enrol
from infantall.services.trials import is_dmc, load_trial, trial_view
from infantall.services.trials.dmc import dmc_report
from infantall.services.trials.enrol import enrolment_candidates, preview_enrolment
from infantall.services.trials.views import trial_list
from infantall.web.deps import SessionDep
from infantall.web.pages.forms import errors_of
from infantall.web.pages.rendering import CheckedForm, PageRoute, PageUser, render

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
TrialCode = Annotated[str, Path(pattern=CODE_PATTERN)]
PatientChoice = Annotated[str | None, Query(pattern=ID_PATTERN)]


@router.get("/trials")
def trials_page(request: Request, user: PageUser, session: SessionDep) -> Response:
    """Every trial: method, design version, status, pooled accrual, next analysis."""
    ctx = {"trials": trial_list(session, user)}
    return render(request, "trials.html", ctx, user=user, session=session)


@router.get("/trials/{code}")
def trial_page(request: Request, code: TrialCode, user: PageUser, session: SessionDep) -> Response:
    """One trial: the design, pooled accrual, your site's allocations (site roles)."""
    ctx = {"view": trial_view(session, user, code), "can_enrol": user.role == Role.site_editor}
    return render(request, "trial.html", ctx, user=user, session=session)


def _enrol_form(
    request: Request,
    user: Principal,
    session: Session,
    code: str,
    patient: str | None,
    errors: list[InvalidInputError],
    *,
    status: int = 200,
) -> Response:
    ctx = {
        "code": code,
        "candidates": enrolment_candidates(session, user, code),
        "preview": None if patient is None else preview_enrolment(session, user, code, patient),
        "chosen": patient,
        "error_list": errors,
    }
    return render(request, "trial_enrol.html", ctx, status=status, user=user, session=session)


@router.get("/trials/{code}/enrol")
def enrol_page(
    request: Request,
    code: TrialCode,
    user: PageUser,
    session: SessionDep,
    patient: PatientChoice = None,
) -> Response:
    """Choose one of your site's patients; its eligibility and why; then confirm."""
    return _enrol_form(request, user, session, code, patient, [])


@router.post("/trials/{code}/enrol")
def enrol_patient(
    request: Request, code: TrialCode, user: PageUser, form: CheckedForm, session: SessionDep
) -> Response:
    """Enrol the confirmed patient and show its allocation (once, on this answer)."""
    patient = form.get("patient")
    if not isinstance(patient, str) or not patient:
        error = InvalidInputError("patient", "choose a patient", "required")
        return _enrol_form(request, user, session, code, None, [error], status=422)
    try:
        result = enrol(session, user, code, patient)
    except (InvalidInputError, ConflictError) as exc:
        session.rollback()
        status = 409 if isinstance(exc, ConflictError) else 422
        return _enrol_form(request, user, session, code, patient, errors_of(exc), status=status)
    ctx = {"code": code, "result": result}
    return render(request, "trial_enrolled.html", ctx, status=201, user=user, session=session)


@router.get("/trials/{code}/report")
def report_page(request: Request, code: TrialCode, user: PageUser, session: SessionDep) -> Response:
    """The closed report for the trial's DMC statistician, the open one for the others."""
    closed = is_dmc(session, user, load_trial(session, code))
    report = dmc_report(session, user, code, closed=closed, now=dt.datetime.now(dt.UTC))
    ctx: dict[str, Any] = {"report": report, "sections": dmc_sections(report)}
    return render(request, "trial_report.html", ctx, user=user, session=session)
