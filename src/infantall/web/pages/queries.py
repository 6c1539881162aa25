"""What the pages show, assembled from the registry's services and the analysis packages.

Nothing here decides anything new: patients and histories come from
:mod:`infantall.registry.histories` (the caller's scope), risk groups from
:func:`infantall.protocols.stratify`, endpoints from
:func:`infantall.services.datasets.analysis_dataset` (which calls
:func:`infantall.outcomes.endpoints.derive_endpoints`), curves from :mod:`infantall.outcomes`.
This module only selects, counts and lays out their results for a page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from infantall.domain import PatientHistory
from infantall.domain.quality import (
    FOLLOW_UP_OVERDUE_DAYS,
    QualityFinding,
    check_quality,
    follow_up_overdue,
)
from infantall.errors import InfantallWarning, InvalidInputError
from infantall.outcomes.endpoints import AnalysisDataset
from infantall.outcomes.followup import FollowUpSummary, dataset_follow_up
from infantall.outcomes.hsct_questions import dataset_hsct_analysis, histories_hsct_analysis
from infantall.outcomes.questions import (
    clinical_order,
    cumulative_incidence_at_horizons,
    survival_at_horizons,
)
from infantall.registry.access import Principal
from infantall.registry.deidentify import DEFAULT_MAX_SHIFT_DAYS
from infantall.registry.errors import ValidationFailedError
from infantall.registry.histories import scoped_rows, to_histories
from infantall.reports.figures.survival import plot_km, plot_simon_makuch
from infantall.services import datasets as analysis
from infantall.web.pages.figures import accrual_figure, cached_figure, cir_figure

__all__ = [
    "STATUSES",
    "CoordinatorView",
    "DashboardFilters",
    "PatientRow",
    "SurvivalPanel",
    "apply_filters",
    "coordinator_view",
    "count_rows",
    "site_patients",
    "status_of",
    "survival_panel",
]

#: Vital/disease status shown on the dashboard (latest state of the history).
STATUSES = ("alive", "relapsed", "dead")
#: Horizons (years) of the survival estimates printed under the curves.
HORIZONS_YEARS = (2.0, 4.0)


@dataclass(frozen=True, slots=True)
class PatientRow:
    """One patient on the dashboard."""

    registry_id: str
    local_code: str
    site_code: str
    diagnosis_date: dt.date | None
    age_days: int | None
    kmt2a: str
    wbc: float | None
    risk_group: str
    status: str
    last_follow_up: dt.date | None
    overdue: bool
    n_events: int


@dataclass(frozen=True, slots=True)
class DashboardFilters:
    """Filters of the dashboard (empty string: no filter)."""

    q: str = ""
    risk_group: str = ""
    kmt2a: str = ""
    status: str = ""
    overdue: bool = False


def status_of(h: PatientHistory) -> str:
    """``dead`` when a death is recorded, else ``relapsed`` after a relapse, else ``alive``."""
    if h.death is not None:
        return "dead"
    return "relapsed" if h.relapses else "alive"


def _group(h: PatientHistory, protocol: str) -> str:
    from infantall.protocols import stratify

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implausible values were reported when written
        return stratify(h, protocol).group


def site_patients(
    session: Session, principal: Principal, protocol: str, today: dt.date
) -> list[PatientRow]:
    """Every (non-voided) patient in the caller's scope with status and risk group."""
    patients, events = scoped_rows(session, principal)
    histories = to_histories(patients, events)
    rows = []
    for (p, code), h in zip(patients, histories, strict=True):
        rows.append(
            PatientRow(
                registry_id=p.registry_id,
                local_code=p.local_code,
                site_code=code,
                diagnosis_date=p.diagnosis_date,
                age_days=p.age_days,
                kmt2a=h.patient.kmt2a.value,  # not entered reads as unknown here
                wbc=p.wbc,
                risk_group=_group(h, protocol),
                status=status_of(h),
                last_follow_up=h.last_follow_up,
                overdue=follow_up_overdue(h, today, FOLLOW_UP_OVERDUE_DAYS),
                n_events=len(h.events),
            )
        )
    return rows


def apply_filters(rows: Iterable[PatientRow], f: DashboardFilters) -> list[PatientRow]:
    """The rows that pass every filter (search matches the local code or registry id)."""
    q = f.q.strip().lower()
    out = []
    for r in rows:
        if q and q not in r.local_code.lower() and q not in r.registry_id.lower():
            continue
        if f.risk_group and r.risk_group != f.risk_group:
            continue
        if f.kmt2a and r.kmt2a != f.kmt2a:
            continue
        if f.status and r.status != f.status:
            continue
        if f.overdue and not r.overdue:
            continue
        out.append(r)
    return out


def count_rows(rows: Sequence[PatientRow], protocol: str | None = None) -> dict[str, Any]:
    """Counts for the dashboard header: total, by status, by risk group (in the clinical order
    of ``protocol``'s groups, :func:`~infantall.outcomes.questions.clinical_order`), by KMT2A,
    overdue."""
    by_group = Counter(r.risk_group for r in rows)
    return {
        "total": len(rows),
        "status": Counter(r.status for r in rows),
        "risk_group": {g: by_group[g] for g in clinical_order(by_group, protocol)},
        "kmt2a": Counter(r.kmt2a for r in rows),
        "overdue": sum(r.overdue for r in rows),
    }


@dataclass(frozen=True, slots=True)
class SurvivalPanel:
    """One endpoint's figure (data URI) and its estimates at the horizons."""

    endpoint: str
    title: str
    image: str
    estimates: list[dict[str, Any]]


_YLABEL = {"EFS": "Event-free survival", "OS": "Overall survival"}


def survival_panel(
    dataset: AnalysisDataset,
    endpoint: str,
    *,
    group: str | None = None,
    ids: set[str] | None = None,
    title: str,
) -> SurvivalPanel | None:
    """Kaplan–Meier curves of ``endpoint`` (by ``group`` if given) with the number at risk,
    or ``None`` when no patient is left.

    Risk groups (``RISKGRP``) are in the clinical order of the dataset's protocol; an
    estimate at a horizon nobody in the group reaches is ``None`` (the page prints n/e)."""
    df = dataset.endpoint(endpoint)
    if ids is not None:
        df = df[df.USUBJID.isin(ids)]
    if df.empty:
        return None
    labels = None if group is None else df[group].fillna("unknown").astype(str)
    try:
        res = survival_at_horizons(
            df.time,
            df.status,
            labels,
            [h * 365.25 for h in HORIZONS_YEARS],
            group_name=group,
            protocol=dataset.options.protocol if group == "RISKGRP" else None,
        )
    except InvalidInputError:
        return None  # e.g. no follow-up time at all: nothing to draw
    key = ("km", endpoint, title, group, _digest(df.time, df.status, labels))
    image = cached_figure(
        key, lambda: plot_km(res.curves, ylabel=_YLABEL.get(endpoint, endpoint), title=title)
    )
    estimates = [
        {
            "group": str(r["group"]),
            "years": float(r["time"]) / 365.25,
            "n_risk": int(r["n_risk"]),
            "pct": _pct(r["survival"]),
            "lower": _pct(r["lower"]),
            "upper": _pct(r["upper"]),
        }
        for r in res.table.to_dict("records")
    ]
    return SurvivalPanel(endpoint, title, image, estimates)


def _pct(value: Any) -> float | None:
    """A probability as a percentage; ``None`` when not estimable (NaN)."""
    v = float(value)
    return None if math.isnan(v) else 100 * v


def _digest(*columns: Any) -> str:
    """A fingerprint of the data behind a figure (its cache key)."""
    h = hashlib.sha256()
    for col in columns:
        h.update(b"|" if col is None else pd.Series(col).astype(str).str.cat(sep=",").encode())
    return h.hexdigest()


def site_dataset(
    session: Session,
    principal: Principal,
    pseudonym_key: str,
    protocol: str,
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS,
) -> AnalysisDataset | None:
    """The caller's analysis dataset (same service as ``GET /api/v1/analysis/dataset``), or
    ``None`` when the scope has no patient yet."""
    try:
        dataset, _warnings = analysis.analysis_dataset(
            session, principal, pseudonym_key, protocol=protocol, max_shift_days=max_shift_days
        )
    except ValidationFailedError as exc:
        if exc.code == "empty_data":
            return None
        raise
    return dataset


@dataclass(frozen=True, slots=True)
class CoordinatorView:
    """Everything the coordinator page shows."""

    n_patients: int
    sites: list[dict[str, Any]]
    accrual_image: str
    panels: list[SurvivalPanel]
    cir_image: str | None
    hsct: dict[str, Any]
    quality: list[QualityFinding]
    quality_counts: Mapping[str, int]
    notes: list[str] = field(default_factory=list)
    follow_up: FollowUpSummary | None = None
    cir: dict[str, Any] = field(default_factory=dict)


def _accrual(dataset: AnalysisDataset) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    efs = dataset.adtte[dataset.adtte.PARAMCD == "EFS"]
    year = pd.to_datetime(efs.STARTDT).dt.year
    table = pd.crosstab(year.to_numpy(), efs.SITEID.to_numpy()).sort_index()
    sites = [
        {"site": str(site), "n": int(table[site].sum()), "first": int(table.index[table[site] > 0]
         .min()), "last": int(table.index[table[site] > 0].max())}
        for site in table.columns
    ]  # fmt: skip
    return table, sites


def _cir(dataset: AnalysisDataset, title: str) -> dict[str, Any]:
    """CIR by risk group (clinical order) at the horizons with Gray's test
    (:func:`infantall.outcomes.questions.cumulative_incidence_at_horizons`): ``image``,
    ``estimates`` (percentages, ``None`` when not estimable) and ``gray`` (or ``{}``)."""
    df = dataset.endpoint("CIR")
    if df.empty or not (df.status > 0).any():
        return {}
    groups = df.RISKGRP.fillna("unknown").astype(str)
    try:
        res = cumulative_incidence_at_horizons(
            df.time,
            df.status,
            groups if groups.nunique() > 1 else None,
            [h * 365.25 for h in HORIZONS_YEARS],
            protocol=dataset.options.protocol,
        )
    except InvalidInputError:
        return {}
    sizes = dict(Counter(groups))
    key = ("cir", title, _digest(df.time, df.status, groups))
    relapse = res.table[res.table["cause"] == 1]
    gray = res.gray(1)
    test = {} if gray is None else {"chisq": gray.statistic, "df": gray.df, "p": gray.p_value}
    return {
        "image": cached_figure(key, lambda: cir_figure(res.result, title=title, sizes=sizes)),
        "estimates": [
            {
                "group": str(r["group"]),
                "years": float(r["time"]) / 365.25,
                "n": int(r["n"]),
                "n_risk": int(r["n_risk"]),
                "pct": _pct(r["estimate"]),
                "lower": _pct(r["lower"]),
                "upper": _pct(r["upper"]),
            }
            for r in relapse.to_dict("records")
        ],
        "gray": test,
    }


def _hsct(dataset: AnalysisDataset, histories: Any = None) -> dict[str, Any]:
    """HSCT in CR1 as a time-dependent exposure for EFS: the adjusted hazard ratio
    (recommended; with ``histories`` stratified by risk group and the protocol's HSCT-rule
    MRD, else by risk group only), the unadjusted one (confounded by indication), the
    Mantel–Byar test, the landmarks, the exclusions and Simon–Makuch curves
    (:func:`infantall.outcomes.questions.histories_hsct_analysis`)."""
    cov = dataset.covariates
    out: dict[str, Any] = {"n_hsct": int(cov.HSCT_CR1.sum()), "n": len(cov)}
    try:
        if histories is None:
            res = dataset_hsct_analysis(dataset, "EFS")
        else:
            protocol = dataset.options.protocol or "interfant-06"
            res = histories_hsct_analysis(histories, protocol, cutoff=dataset.options.cutoff)
    except InvalidInputError as exc:
        reason = "no patient was transplanted in CR1" if exc.code == "too_few_groups" else None
        out["message"] = f"not estimable: {reason or exc.reason}"
        return out
    d = res.to_dict()
    cp = res.counting
    mb = d["mantel_byar"]
    out.update(
        n=d["n_analysed"],
        observed=mb["observed"],
        expected=mb["expected"],
        chisq=mb["statistic"],
        p=mb["p_value"],
        mb_stratified=mb["strata"] is not None,
        unadjusted=d["unadjusted"],
        adjusted=d["adjusted"],
        landmarks=d["landmarks"],
        excluded={k: v for k, v in d["excluded"].items() if v},
        assumption=d["assumption"],
        mrd_adjusted=histories is not None,
        image=cached_figure(
            ("simon-makuch-at-risk", _digest(cp.start, cp.stop, cp.event, cp.hsct)),
            lambda: plot_simon_makuch(res.simon_makuch, counting=cp),
        ),
    )
    return out


def coordinator_view(
    session: Session,
    principal: Principal,
    pseudonym_key: str,
    protocol: str,
    today: dt.date,
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS,
) -> CoordinatorView | None:
    """Pooled, de-identified analyses of every site (``None`` when nobody is registered).

    The histories are loaded once (:func:`infantall.services.datasets.registry_cohort`) and
    serve the analysis dataset and the data-quality rules alike."""
    try:
        cohort = analysis.registry_cohort(
            session, principal, pseudonym_key, protocol=protocol, max_shift_days=max_shift_days
        )
    except ValidationFailedError as exc:
        if exc.code == "empty_data":
            return None
        raise
    with warnings.catch_warnings(record=True) as caught:
        # Warnings of the analyses (a one-patient group, an all-censored group) are shown on
        # the page as notes, not raised.
        warnings.simplefilter("always", InfantallWarning)
        view = _coordinator_analyses(cohort.dataset, protocol, cohort.histories)
    quality = check_quality(list(cohort.histories), today)
    notes = [*cohort.warnings, *dict.fromkeys(str(w.message) for w in caught)]
    return dataclasses.replace(
        view,
        quality=list(quality.findings),
        quality_counts=quality.counts,
        notes=list(dict.fromkeys(notes)),
    )


def _coordinator_analyses(
    dataset: AnalysisDataset, protocol: str, histories: Sequence[PatientHistory]
) -> CoordinatorView:
    table, sites = _accrual(dataset)
    panels = [
        p
        for p in (
            survival_panel(dataset, "EFS", group="RISKGRP", title=f"EFS by {protocol} risk group"),
            survival_panel(dataset, "OS", group="RISKGRP", title=f"OS by {protocol} risk group"),
            survival_panel(dataset, "EFS", group="STUDYID", title="EFS by treatment protocol"),
        )
        if p is not None
    ]
    cir = _cir(dataset, f"Cumulative incidence of relapse by {protocol} risk group")
    return CoordinatorView(
        n_patients=len(dataset.covariates),
        sites=sites,
        accrual_image=cached_figure(("accrual", table.to_json()), lambda: accrual_figure(table)),
        panels=panels,
        cir_image=cir.get("image"),
        hsct=_hsct(dataset, histories),
        quality=[],
        quality_counts={},
        follow_up=dataset_follow_up(dataset),
        cir=cir,
    )
