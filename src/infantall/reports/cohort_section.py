"""Report sections that describe a registry cohort: who the patients are, how each protocol
stratifies them, how often the protocols disagree, and where the cohort's EFS stands among
the published trials.

The analyses of outcomes themselves (KM, CIR, HSCT, MRD landmark) are in
:mod:`infantall.reports.outcomes_section`; this module only describes and compares.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from infantall.domain import PatientHistory
from infantall.evidence import Evidence, load_evidence
from infantall.outcomes.endpoints import AnalysisDataset
from infantall.outcomes.followup import FollowUpSummary, dataset_follow_up
from infantall.outcomes.hsct import mrd_landmark
from infantall.outcomes.logrank import logrank_test
from infantall.outcomes.questions import clinical_order, horizons_of, survival_at_horizons
from infantall.outcomes.table_one import table_one
from infantall.protocols.concordance import protocol_concordance, stratify_histories
from infantall.reports.figures.evidence import evidence_figure
from infantall.reports.figures.style import FONT_SIZE
from infantall.reports.html import ReportSection, figure_html, html_table, not_estimable
from infantall.reports.outcomes_section import outcome_sections, population_note

__all__ = ["cohort_against_trials_figure", "cohort_sections"]


def cohort_against_trials_figure(
    evidence: Evidence,
    *,
    efs_pct: float,
    ci_pct: tuple[float, float],
    horizon_years: float,
    accrual: tuple[float, float],
    label: str,
) -> Figure:
    """The evidence figure (EFS and OS of every published trial against accrual years) with
    this cohort's EFS drawn among them: a black star at its accrual midpoint, its CI as an
    error bar and its accrual period as a segment."""
    fig = evidence_figure(
        evidence, title=f"{label} among the published infant ALL trials (EFS, top panel)"
    )
    ax = fig.axes[0]
    mid = (accrual[0] + accrual[1]) / 2.0
    ax.plot([accrual[0], accrual[1]], [efs_pct, efs_pct], color="black", lw=2.5, zorder=6)
    ax.errorbar(
        [mid],
        [efs_pct],
        yerr=[[efs_pct - ci_pct[0]], [ci_pct[1] - efs_pct]],
        fmt="*",
        color="black",
        markersize=16,
        capsize=4,
        zorder=7,
    )
    # named in a legend inside the panel's empty upper left corner, not by a text label
    # that would run into the trials' labels and the figure legends
    star = Line2D(
        [], [], marker="*", color="black", lw=2.5, markersize=12,
        label=f"{label}: {horizon_years:g}-year EFS {efs_pct:.1f}%\n(accrual period, 95% CI)",
    )  # fmt: skip
    ax.legend(handles=[star], loc="upper left", frameon=True, fontsize=FONT_SIZE - 1)
    return fig


def _pct(value: Any) -> str:
    """A probability as a percentage with one decimal, or ``n/e`` when not estimable."""
    return not_estimable(None if value is None else 100 * float(value))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in df.to_dict("records")]


def _accrual_years(histories: Sequence[PatientHistory]) -> tuple[float, float]:
    dates = [h.patient.diagnosis_date for h in histories if h.patient.diagnosis_date]
    if not dates:
        raise ValueError("no patient has a diagnosis date: the accrual period is unknown")
    years = [d.year + (d.timetuple().tm_yday - 1) / 365.25 for d in dates]
    return float(min(years)), float(max(years))


def _table_one_section(histories: Sequence[PatientHistory], groups: pd.DataFrame) -> ReportSection:
    table = table_one(histories, groups["interfant-06"], protocol="interfant-06").summary
    records = [{"feature": k, **row} for k, row in table.iterrows()]
    body = (
        f"<p>{len(histories)} patients. Columns: risk groups under Interfant-06 (LR = KMT2A "
        "germline; HR = KMT2A-r, age &lt; 6 months and WBC ≥ 300 or poor prednisone response; "
        "MR = other KMT2A-r). Counts are n (% of patients with a known value); continuous "
        "features are median [interquartile range].</p>"
        + html_table(records, ["feature", *table.columns])
    )
    return ReportSection("cohort-table1", "Cohort at diagnosis (Table 1 by risk group)", body)


def _groups_section(groups: pd.DataFrame) -> ReportSection:
    counts = []
    for protocol in groups.columns:
        vc = groups[protocol].value_counts()
        vc = vc.reindex(clinical_order(vc.index, protocol))
        counts.append(
            {
                "protocol": protocol,
                "groups (n)": ", ".join(f"{g}: {int(n)}" for g, n in vc.items()),
            }
        )
    concord = [c.as_dict() for c in protocol_concordance(groups)]
    cross = pd.crosstab(groups["interfant-06"], groups["jplsg-mll-10"])
    cross = cross.reindex(
        index=clinical_order(cross.index, "interfant-06"),
        columns=clinical_order(cross.columns, "jplsg-mll-10"),
    )
    cross_records = [
        {"Interfant-06 \\ MLL-10": str(idx), **{str(c): int(v) for c, v in row.items()}}
        for idx, row in cross.iterrows()
    ]
    body = (
        "<p>Every patient stratified by the protocols engine under every protocol (rules and "
        "sources: <code>infantall protocols show ID</code>). Groups are research "
        "classifications that reproduce published protocols, not treatment "
        "recommendations.</p>"
        + html_table(counts, ["protocol", "groups (n)"])
        + "<h3>How often the protocols disagree on who is high risk</h3>"
        "<p>High risk = HR; patients indeterminate under either protocol of a pair are left "
        "out of that pair. Cohen's kappa from statsmodels.</p>"
        + html_table(concord, list(concord[0]) if concord else ["protocol A"])
        + "<h3>Interfant-06 against JPLSG MLL-10</h3>"
        + html_table(cross_records, ["Interfant-06 \\ MLL-10", *map(str, cross.columns)])
    )
    return ReportSection("cohort-protocols", "Risk groups under every protocol", body)


def _follow_up_section(summary: FollowUpSummary) -> ReportSection:
    fu = summary.follow_up

    def years(days: float) -> str:
        return not_estimable(days / 365.25, "{:.2f}")

    rows = [
        {"quantity": "median follow-up, years (reverse Kaplan–Meier)", "value": years(fu.median)},
        {"quantity": "interquartile range, years", "value": f"{years(fu.q1)}–{years(fu.q3)}"},
        {"quantity": "patients alive at last contact", "value": f"{fu.n_censored} of {fu.n}"},
        {
            "quantity": "data cut-off",
            "value": "unknown"
            if summary.cutoff is None
            else f"{summary.cutoff.isoformat()} ({summary.cutoff_source})",
        },
    ]
    pops = _records(summary.summary)
    body = (
        f"<p>{html.escape(summary.describe())} The reverse Kaplan–Meier method treats death as "
        "censoring and last contact as the event, so early deaths do not shorten the "
        "follow-up (Schemper &amp; Smith 1996; R <code>survfit(Surv(time, 1 - status) ~ 1)"
        "</code>).</p>"
        + html_table(rows, ["quantity", "value"])
        + "<h3>Patients in each analysis</h3>"
        + html_table(
            pops, ["analysis", "included", "excluded", "reasons"], numeric=["included", "excluded"]
        )
    )
    return ReportSection(
        "cohort-follow-up", "Follow-up, data cut-off and analysis populations", body
    )


def _mrd_section(dataset: AnalysisDataset, landmark_days: float) -> ReportSection | None:
    efs = dataset.endpoint("EFS")
    if "MRD_EOI" not in efs.columns or efs["MRD_EOI"].notna().sum() < 10:
        return None
    res = mrd_landmark(efs, "time", "status", "MRD_EOI", landmark_days)
    pop = next(
        (p for p in dataset_follow_up(dataset, mrd_landmark_days=landmark_days).populations
         if p.analysis.startswith("MRD")),
        None,
    )  # fmt: skip
    # times are re-originated at the landmark: 3 years after it
    at = horizons_of(res.curves, [3 * 365.25]).table
    rows = [
        {
            "MRD at end of induction": str(r["group"]),
            "patients from landmark": int(r["n"]),
            "events": int(r["events"]),
            "EFS 3 years after landmark, %": _pct(r["survival"]),
            "SE": _pct(r["std_err"]),
        }
        for r in _records(at)
    ]
    p = "n/e" if res.test is None else f"{res.test.p_value:.3g}"
    body = population_note(pop) + (
        f"<p>Landmark at day {landmark_days:g} (end of induction): patients with an event or "
        f"censored before it are left out ({res.n_excluded} patients); EFS is counted from the "
        f"landmark, by MRD class. Log-rank p = {p}.</p>"
        + html_table(rows, list(rows[0]) if rows else ["MRD at end of induction"])
    )
    return ReportSection("outcomes-mrd", "MRD landmark analysis", body)


def _naive_hsct_section(
    dataset: AnalysisDataset, horizon_years: float, synthetic: bool
) -> ReportSection | None:
    """The comparison that must not be made, computed to show how far it misleads."""
    efs = dataset.endpoint("EFS")
    if "HSCT_CR1" not in efs.columns or efs["HSCT_CR1"].sum() == 0:
        return None
    median_day = float(np.nanmedian(efs["HSCTDY"]))
    strata = [("all patients", efs)]
    if "RISKGRP" in efs.columns:
        # within a risk group, confounding by group is gone and the immortal time remains
        order = clinical_order(efs["RISKGRP"].astype(str).unique(), dataset.options.protocol)
        for g in order:
            part = efs[efs["RISKGRP"].astype(str) == g]
            if part["HSCT_CR1"].sum() >= 5 and (part["HSCT_CR1"] == 0).sum() >= 5:
                strata.append((f"risk group {g}", part))
    rows = []
    for name, part in strata:
        arm = np.where(part["HSCT_CR1"].to_numpy() == 1, "HSCT in CR1 (ever)", "no HSCT (never)")
        at = survival_at_horizons(part["time_years"], part["status"], arm, [horizon_years])
        p = logrank_test(part["time_years"], part["status"], arm).p_value
        rows += [
            {
                "patients": name,
                "group (from diagnosis)": str(r["group"]),
                "n": int(r["n"]),
                f"{horizon_years:g}-year EFS, %": _pct(r["survival"]),
                "SE": _pct(r["std_err"]),
                "naive log-rank p": f"{p:.3g}",
            }
            for r in _records(at.table)
        ]
    truth = (
        " In a SYNTHETIC cohort the true effect of transplant is set when the cohort is "
        "generated (none by default): any difference beyond it in the naive table is bias."
        if synthetic
        else ""
    )
    body = (
        '<div class="warning"><p><strong>Do not compare transplanted with non-transplanted '
        "patients from diagnosis.</strong> A patient can only be transplanted if they stay "
        f"alive and in remission until the transplant (here a median of {median_day:.0f} days "
        "after diagnosis), so every early relapse or death counts against the "
        "non-transplanted group. This immortal-time bias makes transplant look better than "
        "it is. Transplant is also given by risk group, so any comparison is confounded by "
        "it. Use the time-dependent analyses above (Cox with HSCT as a time-varying "
        f"covariate, Mantel–Byar, landmark, Simon–Makuch).{truth}</p></div>"
        "<p>The naive comparison, shown only to make the bias visible; within a risk "
        "group the confounding by group is gone and the immortal time remains:</p>"
        + html_table(rows, list(rows[0]))
    )
    return ReportSection("outcomes-hsct-naive", "Why naive HSCT comparisons mislead", body)


def cohort_sections(
    histories: Sequence[PatientHistory],
    dataset: AnalysisDataset,
    *,
    label: str,
    synthetic: bool = False,
    evidence: Evidence | None = None,
    horizon_years: float = 5.0,
    mrd_landmark_days: float = 42.0,
) -> list[ReportSection]:
    """The cohort part of the full report: Table 1, protocols and their concordance, the
    outcome analyses of :func:`infantall.reports.outcomes_section.outcome_sections`, the MRD
    landmark
    and the cohort among the published trials."""
    groups = stratify_histories(histories)
    sections = [
        _table_one_section(histories, groups),
        _follow_up_section(dataset_follow_up(dataset, mrd_landmark_days=mrd_landmark_days)),
        _groups_section(groups),
    ]
    sections += outcome_sections(
        dataset, group="RISKGRP", horizon_years=horizon_years, histories=histories
    )
    naive = _naive_hsct_section(dataset, horizon_years, synthetic)
    if naive is not None:
        sections.append(naive)
    mrd = _mrd_section(dataset, mrd_landmark_days)
    if mrd is not None:
        sections.append(mrd)
    efs = dataset.endpoint("EFS")
    at = survival_at_horizons(efs["time_years"], efs["status"], None, [horizon_years]).table.iloc[0]
    if not bool(at["estimable"]):
        body = (
            f"<p>{html.escape(label)}: {horizon_years:g}-year EFS is not estimable (nobody is "
            "followed to the horizon), so the cohort is not drawn among the trials.</p>"
        )
        sections.append(
            ReportSection("cohort-vs-trials", "This cohort among published trials", body)
        )
        return sections
    fig = cohort_against_trials_figure(
        evidence or load_evidence(),
        efs_pct=100 * float(at["survival"]),
        ci_pct=(100 * float(at["lower"]), 100 * float(at["upper"])),
        horizon_years=horizon_years,
        accrual=_accrual_years(histories),
        label=label,
    )
    body = (
        f"<p>{html.escape(label)}: {horizon_years:g}-year EFS "
        f"{_pct(at['survival'])}% (SE {_pct(at['std_err'])}; 95% CI "
        f"{_pct(at['lower'])}–{_pct(at['upper'])}, log-log), drawn as a "
        "black star among the published trials (the evidence base).</p>"
        + figure_html(fig, alt="Cohort EFS among the published trials", name="cohort-vs-trials")
    )
    sections.append(ReportSection("cohort-vs-trials", "This cohort among published trials", body))
    return sections
