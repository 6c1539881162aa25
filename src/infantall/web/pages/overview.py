"""The site dashboard, the coordinator view, and CSV import / export."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from infantall.domain import choices
from infantall.domain.quality import FOLLOW_UP_OVERDUE_DAYS, QUALITY_QUERIES
from infantall.outcomes.questions import clinical_order
from infantall.registry import import_jobs, io
from infantall.registry.access import Principal, require_record_level, require_role
from infantall.registry.csv_import import problems_csv
from infantall.registry.dictionary import DATA_DICTIONARY
from infantall.registry.export import template_csv
from infantall.registry.models import Role
from infantall.registry.text import CODE_PATTERN, ID_PATTERN
from infantall.web.deps import SessionDep, SettingsDep
from infantall.web.pages.queries import (
    STATUSES,
    DashboardFilters,
    PatientRow,
    apply_filters,
    coordinator_view,
    count_rows,
    site_dataset,
    site_patients,
    survival_panel,
)
from infantall.web.pages.rendering import CheckedForm, PageRoute, PageUser, render
from infantall.web.pages.voided import VOIDED_ROLES, voided_records

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
DEFAULT_PROTOCOL = "interfant-06"
#: Rows listed on one page of the dashboard (the counts and curves cover every match).
PAGE_SIZE = 50
#: Sortable columns of the patient list: query value -> (header, PatientRow attribute).
SORT_COLUMNS: dict[str, tuple[str, str]] = {
    "code": ("Code", "local_code"),
    "site": ("Site", "site_code"),
    "diagnosis": ("Diagnosis", "diagnosis_date"),
    "age": ("Age (days)", "age_days"),
    "kmt2a": ("KMT2A", "kmt2a"),
    "wbc": ("WBC (10⁹/L)", "wbc"),
    "risk": ("Risk group", "risk_group"),
    "status": ("Status", "status"),
    "follow_up": ("Last information", "last_follow_up"),
    "events": ("Events", "n_events"),
}
_Sort = Annotated[str, Query(pattern="^[a-z_]{1,20}$")]
_Order = Annotated[str, Query(pattern="^(asc|desc)$")]
_Page = Annotated[int, Query(ge=1, le=100_000)]
Protocol = Annotated[str, Query(pattern=CODE_PATTERN)]
_Short = Annotated[str, Query(max_length=64)]


def _protocols() -> list[str]:
    from infantall.protocols import PROTOCOLS

    return list(PROTOCOLS)


def _protocol(value: str) -> str:
    return value if value in _protocols() else DEFAULT_PROTOCOL


def sorted_rows(rows: list[PatientRow], sort: str, order: str) -> list[PatientRow]:
    """``rows`` sorted by the column ``sort`` (missing values last, whatever the order)."""
    attr = SORT_COLUMNS.get(sort, SORT_COLUMNS["code"])[1]
    present = [r for r in rows if getattr(r, attr) is not None]
    missing = [r for r in rows if getattr(r, attr) is None]
    present.sort(key=lambda r: (getattr(r, attr), r.local_code), reverse=order == "desc")
    return present + missing


def _link(params: dict[str, Any], **changes: Any) -> str:
    """The dashboard URL with ``params`` updated by ``changes`` (empty values dropped)."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in ("", None, False)}
    return "/dashboard?" + urlencode(kept) if kept else "/dashboard"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True, slots=True)
class ListOrder:
    """The sorting and page of the patient list (from the query string)."""

    sort: str = "code"
    order: str = "asc"
    page: int = 1


def list_order(sort: _Sort = "code", order: _Order = "asc", page: _Page = 1) -> ListOrder:
    """The list order of a request (an unknown column sorts by code)."""
    return ListOrder(sort if sort in SORT_COLUMNS else "code", order, page)


def _list_context(rows: list[PatientRow], how: ListOrder, params: dict[str, Any]) -> dict[str, Any]:
    """One page of ``rows`` in the order asked, with the links of the headers and pages."""
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(how.page, pages)
    start = (page - 1) * PAGE_SIZE
    params = {**params, "sort": how.sort, "order": how.order}

    def sort_link(col: str) -> str:
        flip = "desc" if col == how.sort and how.order == "asc" else "asc"
        return _link(params, sort=col, order=flip, page="")

    return {
        "rows": sorted_rows(rows, how.sort, how.order)[start : start + PAGE_SIZE],
        "first": start + 1,
        "page": page,
        "pages": pages,
        "sort": how.sort,
        "order": how.order,
        "columns": SORT_COLUMNS,
        "sort_link": sort_link,
        "page_link": lambda n: _link(params, page=n if n > 1 else ""),
    }


def _panels(
    session: Session, user: Principal, key: str, protocol: str, shown: list[PatientRow],
    n_all: int, max_shift_days: int,
) -> list[Any]:  # fmt: skip
    """The EFS and OS curves of the patients ``shown``."""
    from infantall.registry.io import pseudonym

    dataset = site_dataset(session, user, key, protocol, max_shift_days) if shown else None
    if dataset is None:
        return []
    ids = {pseudonym(key, r.registry_id) if user.reads_all_sites else r.registry_id
           for r in shown}  # fmt: skip
    label = "all patients" if len(shown) == n_all else "filtered patients"
    panels = []
    for endpoint, name in (("EFS", "Event-free survival"), ("OS", "Overall survival")):
        panel = survival_panel(dataset, endpoint, ids=ids, title=f"{name} — {label}")
        if panel is not None:
            panels.append(panel)
    return panels


@router.get("/dashboard")
def dashboard(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    how: Annotated[ListOrder, Depends(list_order)],
    q: _Short = "",
    risk_group: _Short = "",
    kmt2a: _Short = "",
    status: _Short = "",
    overdue: bool = False,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> Response:
    """Patients of the user's scope first (search, filters, sorting, pages of
    :data:`PAGE_SIZE`), then the counts and EFS/OS curves of every match."""
    require_record_level(user, "open the patient list (their page is /coordinator)")
    protocol = _protocol(protocol)
    filters = DashboardFilters(q=q, risk_group=risk_group, kmt2a=kmt2a, status=status,
                               overdue=overdue)  # fmt: skip
    everyone = site_patients(session, user, protocol, _today())
    shown = apply_filters(everyone, filters)
    key = settings.pseudonym_key.get_secret_value()
    params = {"q": q, "risk_group": risk_group, "kmt2a": kmt2a, "status": status,
              "overdue": overdue, "protocol": protocol}  # fmt: skip
    ctx = {
        **_list_context(shown, how, params),
        "n_shown": len(shown),
        "counts": count_rows(shown, protocol),
        "all_counts": count_rows(everyone, protocol),
        "filters": filters,
        "protocol": protocol,
        "protocols": _protocols(),
        "groups": clinical_order({r.risk_group for r in everyone}, protocol),
        "kmt2a_choices": choices("kmt2a"),
        "kmt2a_labels": dict(choices("kmt2a")),
        "statuses": STATUSES,
        "panels": _panels(
            session, user, key, protocol, shown, len(everyone), settings.date_shift_max_days
        ),
        "overdue_days": FOLLOW_UP_OVERDUE_DAYS,
        "can_write": user.role is Role.site_editor,
        "can_see_voided": user.role in VOIDED_ROLES,
    }
    return render(request, "dashboard.html", ctx, user=user, session=session)


@router.get("/coordinator")
def coordinator(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    protocol: Protocol = DEFAULT_PROTOCOL,
    done: Annotated[Literal["unlocked", ""], Query()] = "",
    unlocked: Annotated[str, Query(pattern=ID_PATTERN + "|^$")] = "",
) -> Response:
    """Pooled, de-identified analyses of every site (coordinators), and the form that
    unlocks a signed patient by registry id (they have no patient page: ``pooled_only``)."""
    require_role(user, frozenset({Role.coordinator}), "see the pooled analyses")
    protocol = _protocol(protocol)
    key = settings.pseudonym_key.get_secret_value()
    view = coordinator_view(session, user, key, protocol, _today(), settings.date_shift_max_days)
    ctx = {
        "view": view,
        "protocol": protocol,
        "protocols": _protocols(),
        "queries": QUALITY_QUERIES,
        "done": done,
        "unlocked": unlocked,
    }
    return render(request, "coordinator.html", ctx, user=user, session=session)


@router.get("/patients/voided")
def voided_page(request: Request, user: PageUser, session: SessionDep) -> Response:
    """Voided patients and voided events of the user's scope, with when and why."""
    require_role(user, VOIDED_ROLES, "see voided records")
    require_record_level(user, "list voided patient records")
    ctx = {"records": voided_records(session, user)}
    return render(request, "voided.html", ctx, user=user, session=session)


def _problems_link(report: Any) -> str:
    """The problems of a refused import as a ``data:`` URL of their CSV (a download link
    that needs no second request and keeps nothing on the server)."""
    if report is None or report.ok:
        return ""
    payload = base64.b64encode(problems_csv(report).encode("utf-8")).decode("ascii")
    return f"data:text/csv;charset=utf-8;base64,{payload}"


def _import_page(request: Request, user: Principal, session: Session, **extra: Any) -> Response:
    ctx: dict[str, Any] = {"dictionary": DATA_DICTIONARY, "report": None, **extra}
    ctx["problems_href"] = _problems_link(ctx["report"])
    ctx["labels"] = {v.name: v.label for v in DATA_DICTIONARY}
    failed = extra.get("missing_file") or (extra.get("report") is not None and not extra["ok"])
    status = 422 if failed else 200
    return render(request, "import.html", ctx, status=status, user=user, session=session)


@router.get("/import/template.csv")
def import_template(user: PageUser) -> Response:
    """An empty import file with every column of the data dictionary."""
    return Response(
        template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="infantall-import-template.csv"'},
    )


@router.get("/import")
def import_page(request: Request, user: PageUser, session: SessionDep) -> Response:
    """The CSV upload form, the data dictionary and the export buttons."""
    return _import_page(request, user, session)


@router.post("/import")
async def import_file(
    request: Request, user: PageUser, form: CheckedForm, session: SessionDep
) -> Response:
    """Import a REDCap-style CSV: every row valid, or nothing imported and a report."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await run_in_threadpool(
            _import_page, request, user, session, missing_file=True, report=None
        )
    content = await upload.read()
    await form.close()
    settings = request.app.state.settings
    if len(content) > settings.import_job_threshold_bytes:  # a job: the page follows it
        runner = request.app.state.import_jobs
        job = await run_in_threadpool(
            import_jobs.create_job, session, user, settings, content,
            (upload.filename or "")[:255], runner.worker,
        )  # fmt: skip
        session.commit()
        runner.submit(job.id, user)
        return RedirectResponse(f"/imports/{job.id}", status_code=303)
    report = await run_in_threadpool(io.import_csv, session, user, content)
    return await run_in_threadpool(
        _import_page, request, user, session, report=report, ok=report.ok,
        filename=upload.filename,
    )  # fmt: skip


@router.get("/imports/{job_id}")
def import_job_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
) -> Response:
    """An import job: progress while it runs (the page reloads itself), then its outcome."""
    job = import_jobs.get_job(session, user, job_id)
    ctx = {"job": import_jobs.job_record(job), "labels": {v.name: v.label for v in DATA_DICTIONARY}}
    return render(request, "import_job.html", ctx, user=user, session=session)
