"""The site dashboard, the coordinator view, and CSV import / export."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from infantall.domain import KMT2AStatus
from infantall.domain.quality import FOLLOW_UP_OVERDUE_DAYS, QUALITY_QUERIES
from infantall.registry import io
from infantall.registry.access import Principal, require_role
from infantall.registry.dictionary import DATA_DICTIONARY
from infantall.registry.models import Role
from infantall.registry.text import CODE_PATTERN
from infantall.web.deps import SessionDep, SettingsDep
from infantall.web.pages.queries import (
    STATUSES,
    DashboardFilters,
    apply_filters,
    coordinator_view,
    count_rows,
    site_dataset,
    site_patients,
    survival_panel,
)
from infantall.web.pages.rendering import CheckedForm, PageRoute, PageUser, render

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
DEFAULT_PROTOCOL = "interfant-06"
#: Rows listed on the dashboard at once (the counts and curves cover every match).
MAX_ROWS_SHOWN = 500
Protocol = Annotated[str, Query(pattern=CODE_PATTERN)]
_Short = Annotated[str, Query(max_length=64)]


def _protocols() -> list[str]:
    from infantall.protocols import PROTOCOLS

    return list(PROTOCOLS)


def _protocol(value: str) -> str:
    return value if value in _protocols() else DEFAULT_PROTOCOL


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@router.get("/dashboard")
def dashboard(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    q: _Short = "",
    risk_group: _Short = "",
    kmt2a: _Short = "",
    status: _Short = "",
    overdue: bool = False,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> Response:
    """Patients of the user's scope with search, filters, counts and EFS/OS curves."""
    from infantall.registry.io import pseudonym

    protocol = _protocol(protocol)
    filters = DashboardFilters(q=q, risk_group=risk_group, kmt2a=kmt2a, status=status,
                               overdue=overdue)  # fmt: skip
    everyone = site_patients(session, user, protocol, _today())
    shown = apply_filters(everyone, filters)
    key = settings.pseudonym_key.get_secret_value()
    panels = []
    dataset = site_dataset(session, user, key, protocol) if shown else None
    if dataset is not None:
        ids = {pseudonym(key, r.registry_id) if user.reads_all_sites else r.registry_id
               for r in shown}  # fmt: skip
        label = "all patients" if len(shown) == len(everyone) else "filtered patients"
        for endpoint, name in (("EFS", "Event-free survival"), ("OS", "Overall survival")):
            panel = survival_panel(dataset, endpoint, ids=ids, title=f"{name} — {label}")
            if panel is not None:
                panels.append(panel)
    ctx = {
        "rows": shown[:MAX_ROWS_SHOWN],
        "n_shown": len(shown),
        "max_rows": MAX_ROWS_SHOWN,
        "counts": count_rows(shown),
        "all_counts": count_rows(everyone),
        "filters": filters,
        "protocol": protocol,
        "protocols": _protocols(),
        "groups": sorted({r.risk_group for r in everyone}),
        "kmt2a_choices": [m.value for m in KMT2AStatus],
        "statuses": STATUSES,
        "panels": panels,
        "overdue_days": FOLLOW_UP_OVERDUE_DAYS,
        "can_write": user.role is Role.site_editor,
    }
    return render(request, "dashboard.html", ctx, user=user, session=session)


@router.get("/coordinator")
def coordinator(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> Response:
    """Pooled, de-identified analyses of every site (coordinators)."""
    require_role(user, frozenset({Role.coordinator}), "see the pooled analyses")
    protocol = _protocol(protocol)
    key = settings.pseudonym_key.get_secret_value()
    view = coordinator_view(session, user, key, protocol, _today())
    ctx = {
        "view": view,
        "protocol": protocol,
        "protocols": _protocols(),
        "queries": QUALITY_QUERIES,
    }
    return render(request, "coordinator.html", ctx, user=user, session=session)


def _import_page(request: Request, user: Principal, session: Session, **extra: Any) -> Response:
    ctx: dict[str, Any] = {"dictionary": DATA_DICTIONARY, "report": None, **extra}
    failed = extra.get("missing_file") or (extra.get("report") is not None and not extra["ok"])
    status = 422 if failed else 200
    return render(request, "import.html", ctx, status=status, user=user, session=session)


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
    report = await run_in_threadpool(io.import_csv, session, user, content)
    return await run_in_threadpool(
        _import_page, request, user, session, report=report, ok=report.ok,
        filename=upload.filename,
    )  # fmt: skip
