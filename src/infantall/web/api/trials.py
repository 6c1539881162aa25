"""Trials: open a simulated design, enrol with concealed allocation, DMC interims, views.

There is no endpoint for the seed, the allocation list or the next allocation: an arm is
revealed only in the answer to the enrolment that made it, and afterwards to the enrolling
site and the trial's DMC statistician (``GET /trials/{code}``). Replay is server-side
(``infantall trial replay``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from infantall.errors import InvalidInputError
from infantall.registry.text import CODE_PATTERN, ID_PATTERN
from infantall.web.deps import CurrentUser, HasherDep, SessionDep
from infantall.web.errors import problem

__all__ = ["router"]

router = APIRouter(prefix="/trials", tags=["trials"])

TrialCode = Annotated[str, Path(pattern=CODE_PATTERN, description="Trial code")]
_STRICT = ConfigDict(extra="forbid")


class TrialCreate(BaseModel):
    """A trial to open: the design the simulator ran, the method and its settings."""

    model_config = _STRICT
    code: str = Field(pattern=CODE_PATTERN)
    spec: dict[str, Any]
    method: str = Field(max_length=24)
    settings: dict[str, Any] = Field(default_factory=dict)


class SpecRevision(BaseModel):
    """A new design version; after the first enrolment ``signature`` (your username) and
    ``reason`` are required."""

    model_config = _STRICT
    spec: dict[str, Any]
    reason: str | None = Field(default=None, max_length=2000)
    signature: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=256)


class EnrolmentCreate(BaseModel):
    """The patient to enrol (registry id of your site)."""

    model_config = _STRICT
    patient: str = Field(pattern=ID_PATTERN)


class InterimData(BaseModel):
    """Per arm: patients with outcome data and their successes (binary outcome); both left
    out: derived from the registry's events today."""

    model_config = _STRICT
    patients: list[int] | None = Field(default=None, max_length=20)
    successes: list[int] | None = Field(default=None, max_length=20)


class MemberCreate(BaseModel):
    """A trial-level role for a registry user."""

    model_config = _STRICT
    username: str = Field(pattern=CODE_PATTERN)
    role: str = Field(max_length=24)


def _answer(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except InvalidInputError as exc:
        error = {"field": exc.field, "reason": exc.reason, "code": exc.code}
        return problem(422, f"{exc.field}: {exc.reason}", exc.code, [error])


@router.post("", status_code=status.HTTP_201_CREATED)
def open_trial(body: TrialCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Open a trial (coordinator); its allocation seed is drawn and kept server-side."""
    from infantall.services.trials import create_trial

    return _answer(
        lambda: create_trial(
            session,
            user,
            code=body.code,
            spec=body.spec,
            method=body.method,
            settings=body.settings,
        ).to_dict()
    )


@router.get("/{code}")
def show_trial(code: TrialCode, user: CurrentUser, session: SessionDep) -> Any:
    """What your role may see: pooled accrual; your site's arms; arm level for the DMC."""
    from infantall.services.trials import trial_view

    return _answer(lambda: trial_view(session, user, code))


@router.get("/{code}/report", response_class=HTMLResponse)
def dmc_report_page(
    code: TrialCode, user: CurrentUser, session: SessionDep, closed: bool = False
) -> Any:
    """The open (pooled) data-monitoring report, or the closed one for the DMC statistician."""
    import datetime as dt

    from infantall.reports.dmc_section import dmc_report_html
    from infantall.services.trials.dmc import dmc_report

    now = dt.datetime.now(dt.UTC)
    return _answer(
        lambda: HTMLResponse(
            dmc_report_html(dmc_report(session, user, code, closed=closed, now=now))
        )
    )


@router.post("/{code}/spec-versions", status_code=status.HTTP_201_CREATED)
def revise(
    code: TrialCode, body: SpecRevision, user: CurrentUser, session: SessionDep, hasher: HasherDep
) -> Any:
    """A new design version (coordinator); signed (username + password) after enrolment."""
    from infantall.services.trials import revise_spec

    return _answer(
        lambda: revise_spec(
            session,
            user,
            code,
            body.spec,
            reason=body.reason,
            signature=body.signature,
            password=body.password,
            hasher=hasher,
        ).to_dict()
    )


@router.post("/{code}/enrolments", status_code=status.HTTP_201_CREATED)
def enrol_patient(
    code: TrialCode, body: EnrolmentCreate, user: CurrentUser, session: SessionDep
) -> Any:
    """Enrol an eligible patient of your site (site editor) and learn its arm."""
    from infantall.services.trials import enrol_and_run_due as enrol

    return _answer(lambda: enrol(session, user, code, body.patient).to_dict())


@router.post("/{code}/interims", status_code=status.HTTP_201_CREATED)
def run_interim(code: TrialCode, body: InterimData, user: CurrentUser, session: SessionDep) -> Any:
    """Run the due interim with the design's rules (the trial's DMC statistician only)."""
    from infantall.services.trials import record_interim

    return _answer(
        lambda: record_interim(
            session, user, code, patients=body.patients, successes=body.successes
        )
    )


@router.post("/{code}/members", status_code=status.HTTP_201_CREATED)
def add_member(code: TrialCode, body: MemberCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Give a user a trial role such as ``dmc_statistician`` (coordinator or admin)."""
    from infantall.services.trials import grant_trial_role

    def grant() -> dict[str, str]:
        grant_trial_role(session, user, code, body.username, body.role)
        return {"username": body.username, "role": body.role}

    return _answer(grant)
