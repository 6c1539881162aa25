"""Risk groups, analysis datasets, data-quality queries, CSV import and export, and the
audit trail.

The services behind these routes use pandas, the protocols engine and the outcomes
package; they are imported inside the routes so that the server starts fast.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from infantall.registry.access import require_role
from infantall.registry.dictionary import dictionary_records
from infantall.registry.models import AuditEntry, Role
from infantall.registry.schemas import AuditPublic, RiskGroupPublic
from infantall.registry.text import CODE_PATTERN, ID_PATTERN
from infantall.web.deps import CurrentUser, SessionDep, SettingsDep
from infantall.web.errors import problem

__all__ = ["router"]

router = APIRouter()
PatientId = Annotated[str, Path(pattern=ID_PATTERN)]
ExportFormat = Literal["csv", "parquet"]
_MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


class RiskRequest(BaseModel):
    """Protocols to stratify under (default: every protocol of ``infantall.protocols``)."""

    model_config = ConfigDict(extra="forbid")

    protocols: Annotated[
        list[Annotated[str, Field(pattern=CODE_PATTERN)]], Field(max_length=20)
    ] = []


class ImportResult(BaseModel):
    """A successful import."""

    imported_patients: int
    imported_events: int


class AnalysisResult(BaseModel):
    """An analysis dataset: counts per endpoint and the ADTTE rows."""

    summary: list[dict[str, Any]]
    records: list[dict[str, Any]]
    warnings: list[str]


@router.post(
    "/patients/{patient_id}/risk-groups",
    response_model=list[RiskGroupPublic],
    status_code=status.HTTP_201_CREATED,
    tags=["risk groups"],
)
def compute_risk_groups(
    patient_id: PatientId, body: RiskRequest, user: CurrentUser, session: SessionDep
) -> list[RiskGroupPublic]:
    """Compute and store the patient's risk groups (with the protocol's rule-set version).

    Research use only: the groups reproduce published protocols, never a treatment advice.
    """
    from infantall.services import risk_groups as risk

    return risk.compute_risk_groups(session, user, patient_id, body.protocols or None)


@router.get(
    "/patients/{patient_id}/risk-groups", response_model=list[RiskGroupPublic], tags=["risk groups"]
)
def list_risk_groups(
    patient_id: PatientId, user: CurrentUser, session: SessionDep
) -> list[RiskGroupPublic]:
    """The stored risk groups of a patient. Coordinators: 403 ``pooled_only``."""
    from infantall.services import risk_groups as risk

    return risk.list_risk_groups(session, user, patient_id)


@router.get("/analysis/dataset", response_model=AnalysisResult, tags=["analysis"])
def analysis_dataset(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    protocol: Annotated[str | None, Query(pattern=CODE_PATTERN)] = "interfant-06",
    cutoff: dt.date | None = None,
) -> AnalysisResult:
    """Endpoints (EFS, OS, DFS, CIR, ...) of your scope; pooled and pseudonymised for
    coordinators."""
    from infantall.services import datasets as analysis

    dataset, warnings = analysis.analysis_dataset(
        session,
        user,
        settings.pseudonym_key.get_secret_value(),
        protocol=protocol,
        cutoff=cutoff,
        max_shift_days=settings.date_shift_max_days,
    )
    records = json.loads(dataset.adtte.to_json(orient="records", date_format="iso"))
    summary = json.loads(dataset.summary.to_json(orient="records"))
    return AnalysisResult(summary=summary, records=records, warnings=warnings)


class QualityQuery(BaseModel):
    """One data-quality query: its stable code, what it finds, how many records."""

    query: str
    description: str
    records: int


class QualityFindingPublic(BaseModel):
    """One record a query found (the patient id is a pseudonym for coordinators)."""

    query: str
    site: str
    patient_id: str
    detail: str


class QualityResult(BaseModel):
    """The data-quality queries of your scope on one day."""

    as_of: dt.date
    overdue_days: int
    patients: int
    queries: list[QualityQuery]
    findings: list[QualityFindingPublic]


@router.get("/quality", response_model=QualityResult, tags=["analysis"])
def data_quality(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    as_of: dt.date | None = None,
    overdue_days: Annotated[int | None, Query(ge=1, le=36500)] = None,
) -> QualityResult:
    """Data-quality queries (missing KMT2A status, overdue follow-up, out-of-order events)
    over your scope; every site, pseudonymised, for coordinators. ``as_of`` defaults to
    today, ``overdue_days`` to the registry's yearly follow-up."""
    from infantall.services.quality import registry_quality

    days = {} if overdue_days is None else {"overdue_days": overdue_days}
    key = settings.pseudonym_key.get_secret_value()
    day = as_of or dt.date.today()
    shift = settings.date_shift_max_days
    report = registry_quality(session, user, key, day, max_shift_days=shift, **days)
    return QualityResult.model_validate(report.to_dict())


@router.get("/import/dictionary", tags=["import and export"])
def data_dictionary(user: CurrentUser) -> list[dict[str, str]]:
    """The data dictionary of the import/export CSV (REDCap column names)."""
    return dictionary_records()


@router.get(
    "/import/template",
    tags=["import and export"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "An empty import file"}},
)
def import_template(user: CurrentUser) -> Response:
    """An empty import CSV with every column of the data dictionary (the header row)."""
    from infantall.registry.export import template_csv

    return Response(
        template_csv(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="infantall-import-template.csv"'},
    )


class ImportJobStatus(BaseModel):
    """An import run as a job: state, progress and exactly what is committed."""

    job_id: str
    status_url: str
    state: Literal["queued", "validating", "committing", "succeeded", "rejected", "failed"]
    done: bool
    filename: str | None
    size_bytes: int
    rows_read: int
    rows_validated: int
    patients_committed: int
    events_committed: int
    committed_through_line: int | None
    problem_count: int
    problems: list[dict[str, Any]]
    message: str | None
    created_at: str
    updated_at: str
    finished_at: str | None


def _wants_job(request: Request, size: int, threshold: int) -> bool:
    prefer = request.headers.get("prefer", "").lower()
    return "respond-async" in prefer or size > threshold


@router.post(
    "/import",
    response_model=ImportResult,
    status_code=status.HTTP_201_CREATED,
    tags=["import and export"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    responses={
        202: {
            "model": ImportJobStatus,
            "description": "A large file (or `Prefer: respond-async`): imported by a job; "
            "follow `Location` (`/api/v1/imports/{job_id}`)",
        },
        409: {"description": "This site's previous import job has not ended"},
        422: {"description": "Nothing imported: the per-row, per-field report"},
    },
)
async def import_csv(
    request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """Import a REDCap-style CSV into your site. A small file is imported in the request,
    every row valid or nothing imported; a file over `import_job_threshold_bytes` (or any
    file sent with `Prefer: respond-async`) is validated as a whole and committed in
    batches by a job: 202 and the job's status URL."""
    from fastapi.responses import JSONResponse

    from infantall.registry import import_jobs, io

    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "text/csv":
        return problem(415, "send the file as text/csv", "unsupported_media_type")
    content = await request.body()
    if _wants_job(request, len(content), settings.import_job_threshold_bytes):
        name = request.headers.get("x-filename", "")[:255] or None
        runner = request.app.state.import_jobs
        job = await run_in_threadpool(
            import_jobs.create_job, session, user, settings, content, name, runner.worker
        )
        session.commit()
        runner.submit(job.id, user)
        body = import_jobs.job_record(job)
        return JSONResponse(body, status_code=202, headers={"Location": body["status_url"]})
    report = await run_in_threadpool(
        io.import_csv, session, user, content, max_rows=settings.max_import_rows
    )
    if not report.ok:
        errors = [
            {
                "row": e.row,
                "record_id": e.record_id,
                "field": e.field,
                "reason": e.reason,
                "code": e.code,
            }
            for e in report.errors
        ]
        return problem(
            422, f"{len(errors)} problem(s); nothing was imported", "import_rejected", errors
        )
    return ImportResult(
        imported_patients=report.imported_patients, imported_events=report.imported_events
    )


@router.get(
    "/imports/{job_id}",
    response_model=ImportJobStatus,
    tags=["import and export"],
    responses={404: {"description": "No such job at your site"}},
)
def import_job(
    user: CurrentUser,
    session: SessionDep,
    job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
) -> Any:
    """The state of an import job: rows read, validated and committed, and its problems.
    `patients_committed`/`committed_through_line` are exactly what is in the registry."""
    from infantall.registry import import_jobs

    return import_jobs.job_record(import_jobs.get_job(session, user, job_id))


@router.get("/export", tags=["import and export"], response_class=Response)
def export(user: CurrentUser, session: SessionDep, format: ExportFormat = "csv") -> Response:
    """Your scope in the import layout (plus registry id and site) as CSV or Parquet.
    Coordinators: 403 ``pooled_only`` (their export is ``/export/pooled``)."""
    from infantall.registry import io

    table = io.export_table(session, user, format)
    return Response(
        io.table_bytes(table, format),
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="registry-export.{format}"'},
    )


class DeidQuery(BaseModel):
    """De-identification options of the pooled export (query parameters)."""

    dates: Literal["shifted", "year", "relative"] = "shifted"
    age: Literal["class", "months"] = "class"
    wbc: Literal["class", "value"] = "class"
    k: Annotated[int, Field(ge=1, le=1000)] = 5


def _pooled(user: Any, session: Any, settings: Any, options: DeidQuery, fmt: str) -> Any:
    from infantall.registry import io

    deid = io.DeidOptions(
        dates=options.dates,
        age=options.age,
        wbc=options.wbc,
        k=options.k,
        max_shift_days=settings.date_shift_max_days,
    )
    return io.pooled_export(session, user, settings.pseudonym_key.get_secret_value(), deid, fmt)


@router.get("/export/pooled", tags=["import and export"], response_class=Response)
def export_pooled(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    options: Annotated[DeidQuery, Query()],
    format: ExportFormat = "csv",
) -> Response:
    """De-identified pooled data of every site (coordinators): pseudonyms, the patient's
    date shift (or the year only, or days since diagnosis), generalised age and WBC,
    classes under ``k`` suppressed, no free text. The manifest of the same options is at
    ``/export/pooled/manifest``."""
    from infantall.registry import io

    result = _pooled(user, session, settings, options, format)
    return Response(
        io.table_bytes(result.table, format),
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="registry-pooled.{format}"'},
    )


@router.get("/export/pooled/manifest", tags=["import and export"])
def export_pooled_manifest(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    options: Annotated[DeidQuery, Query()],
) -> dict[str, Any]:
    """The manifest of the pooled export with these options (coordinators): the options,
    the quasi-identifiers, the k-anonymity achieved and the size of every equivalence
    class, what was generalised, suppressed and removed, and why."""
    manifest: dict[str, Any] = _pooled(user, session, settings, options, "manifest").manifest
    return manifest


@router.get("/audit", response_model=list[AuditPublic], tags=["audit"])
def audit_trail(
    user: CurrentUser,
    session: SessionDep,
    entity: Annotated[str | None, Query(pattern=r"^[a-z_]{1,30}$")] = None,
    entity_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")] = None,
    action: Annotated[str | None, Query(pattern=r"^[a-z_]{1,30}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[AuditPublic]:
    """The audit trail's metadata, oldest first (admin); viewing it is itself audited.

    The administrator sees who, when, what kind and which id; the values and reasons of
    rows about patient data are ``null`` (:func:`infantall.registry.admin.audit_metadata`).
    """
    from infantall.registry import admin, audit

    require_role(user, frozenset({Role.admin}), "read the audit trail")
    query = select(AuditEntry).order_by(AuditEntry.id)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    rows = list(session.scalars(query.limit(limit).offset(offset)))
    out = [admin.audit_metadata(r) for r in rows]
    session.commit()
    audit.record(session, user, "audit_view", "audit", None, new={"rows": len(out)})
    session.commit()
    return out
