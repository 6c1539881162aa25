"""Report sections that describe a registry cohort: who the patients are, how each protocol
stratifies them, how often the protocols disagree, and where the cohort's EFS stands among
the published trials.

The analyses of outcomes themselves (KM, CIR, HSCT, MRD landmark) are in
:mod:`infantall.reports.outcomes_section`; this module only describes and compares.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from infantall.reports.html import ReportSection, figure_to_data_uri, html_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from infantall.domain import PatientHistory
    from infantall.evidence import Evidence
    from infantall.outcomes.endpoints import AnalysisDataset

__all__ = [
    "HIGH_RISK_GROUPS",
    "ConcordanceResult",
    "cohort_against_trials_figure",
    "cohort_sections",
    "cohort_table_one",
    "protocol_concordance",
    "stratify_histories",
]

#: The groups counted as "high risk" when two protocols are compared. A protocol without
#: one of these groups (e.g. the KMT2A-status-only protocols) is compared on KMT2A-r instead.
HIGH_RISK_GROUPS = frozenset({"HR", "KMT2A-r"})

#: The protocols whose groups are compared for concordance (those that assign a risk group).
CONCORDANCE_PROTOCOLS: tuple[str, ...] = (
    "interfant-99",
    "interfant-06",
    "jplsg-mll-10",
    "cog-aall0631",
)


def stratify_histories(histories: Sequence[PatientHistory]) -> pd.DataFrame:
    """The group of every patient under every protocol (rows: patients; columns: protocols).

    Uses :func:`infantall.protocols.stratify_all`, so each cell is what the engine decides,
    ``indeterminate`` included.
    """
    import warnings

    from infantall.protocols import stratify_all

    rows: dict[str, dict[str, str]] = {}
    with warnings.catch_warnings():
        # implausible-value warnings were raised when the histories were built
        warnings.simplefilter("ignore")
        for h in histories:
            decisions = stratify_all(h)
            rows[h.patient.patient_id] = {
                p: d.group for p, d in decisions.items() if p != "prognostic-factors"
            }
    return pd.DataFrame.from_dict(rows, orient="index")


def _median_iqr(values: pd.Series, digits: int = 0) -> str:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return "NA"
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return f"{med:.{digits}f} [{q1:.{digits}f}–{q3:.{digits}f}]"


def _share(mask: pd.Series, known: pd.Series) -> str:
    n_known = int(known.sum())
    if n_known == 0:
        return "NA"
    n = int((mask & known).sum())
    return f"{n} ({100.0 * n / n_known:.0f}%)"


def _features(histories: Sequence[PatientHistory]) -> pd.DataFrame:
    rows = []
    for h in histories:
        p = h.patient
        rows.append(
            {
                "patient_id": p.patient_id,
                "age_days": p.age_days,
                "wbc": p.wbc,
                "kmt2a": p.kmt2a.value,
                "fusion": p.fusion_partner.value,
                "cd10": p.cd10.value,
                "cns": p.cns.value,
                "ppr": p.prednisone_response.value,
                "sex": p.sex.value,
            }
        )
    return pd.DataFrame(rows).set_index("patient_id")


def cohort_table_one(histories: Sequence[PatientHistory], groups: pd.Series) -> pd.DataFrame:
    """A "Table 1": diagnosis features by risk group (columns) and overall.

    Counts are n (% of patients with a known value); continuous features are median [IQR].
    ``groups`` maps patient id to the risk group used for the columns.
    """
    feats = _features(histories)
    feats["group"] = groups.reindex(feats.index).fillna("indeterminate")
    columns: dict[str, pd.DataFrame] = {"all": feats}
    for g in sorted(feats["group"].unique()):
        columns[str(g)] = feats[feats["group"] == g]
    table: dict[str, dict[str, str]] = {}
    for name, f in columns.items():
        age = pd.to_numeric(f["age_days"], errors="coerce")
        wbc = pd.to_numeric(f["wbc"], errors="coerce")
        kmt2a_known = f["kmt2a"] != "unknown"
        rearranged = f["kmt2a"] == "rearranged"
        table[name] = {
            "patients": str(len(f)),
            "age at diagnosis, days": _median_iqr(age),
            "age < 90 days": _share(age < 90, age.notna()),
            "age < 6 months (< 183 days)": _share(age < 183, age.notna()),
            "male": _share(f["sex"] == "male", f["sex"] != "unknown"),
            "KMT2A rearranged": _share(rearranged, kmt2a_known),
            "  AFF1 (t(4;11)) among KMT2A-r": _share(
                f["fusion"] == "AFF1", rearranged & (f["fusion"] != "unknown")
            ),
            "WBC, 10^9/L": _median_iqr(wbc, 1),
            "WBC ≥ 300": _share(wbc >= 300, wbc.notna()),
            "CD10 negative": _share(f["cd10"] == "negative", f["cd10"] != "unknown"),
            "CNS3": _share(f["cns"] == "CNS3", f["cns"] != "unknown"),
            "prednisone poor response": _share(f["ppr"] == "poor", f["ppr"] != "unknown"),
        }
    return pd.DataFrame(table)


@dataclass(frozen=True, slots=True)
class ConcordanceResult:
    """Agreement of two protocols on who is high risk.

    ``agreement`` is the share of patients (determinate under both) classified alike;
    ``kappa`` is Cohen's kappa of that 2 × 2 table (statsmodels ``cohens_kappa``).
    """

    protocol_a: str
    protocol_b: str
    n: int
    agreement: float
    kappa: float
    high_a_only: int
    high_b_only: int

    def as_dict(self) -> dict[str, Any]:
        """The result as a flat record."""
        return {
            "protocol A": self.protocol_a,
            "protocol B": self.protocol_b,
            "patients (determinate under both)": self.n,
            "agreement, %": round(100.0 * self.agreement, 1),
            "Cohen's kappa": round(self.kappa, 3),
            "high risk under A only": self.high_a_only,
            "high risk under B only": self.high_b_only,
        }


def protocol_concordance(
    groups: pd.DataFrame, protocols: Sequence[str] = CONCORDANCE_PROTOCOLS
) -> list[ConcordanceResult]:
    """Pairwise agreement of ``protocols`` on the high-risk classification.

    Patients indeterminate (or not eligible) under either protocol of a pair are left out
    of that pair.
    """
    from statsmodels.stats.inter_rater import cohens_kappa

    out = []
    present = [p for p in protocols if p in groups.columns]
    for a, b in itertools.combinations(present, 2):
        both = groups[[a, b]]
        ok = ~both.isin(["indeterminate", "not_eligible"]).any(axis=1)
        ha = both.loc[ok, a].isin(HIGH_RISK_GROUPS).to_numpy()
        hb = both.loc[ok, b].isin(HIGH_RISK_GROUPS).to_numpy()
        n = int(ok.sum())
        if n == 0:
            continue
        table = np.array(
            [[np.sum(ha & hb), np.sum(ha & ~hb)], [np.sum(~ha & hb), np.sum(~ha & ~hb)]],
            dtype=float,
        )
        agreement = float((table[0, 0] + table[1, 1]) / n)
        # kappa is undefined when both protocols put everyone in one class
        expected_all_one = table.sum(axis=0).min() == 0 and table.sum(axis=1).min() == 0
        kappa = 1.0 if expected_all_one else float(cohens_kappa(table, return_results=False))
        out.append(ConcordanceResult(a, b, n, agreement, kappa, int(table[0, 1]), int(table[1, 0])))
    return out


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
    from infantall.reports.figures.evidence import evidence_figure

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
    ax.annotate(
        f"{label}: {horizon_years:g}-year EFS {efs_pct:.1f}%",
        (mid, efs_pct),
        xytext=(8, 14),
        textcoords="offset points",
        fontsize=9,
        fontweight="bold",
        zorder=8,
    )
    return fig


def _accrual_years(histories: Sequence[PatientHistory]) -> tuple[float, float]:
    dates = [h.patient.diagnosis_date for h in histories if h.patient.diagnosis_date]
    if not dates:
        raise ValueError("no patient has a diagnosis date: the accrual period is unknown")
    years = [d.year + (d.timetuple().tm_yday - 1) / 365.25 for d in dates]
    return float(min(years)), float(max(years))


def _table_one_section(histories: Sequence[PatientHistory], groups: pd.DataFrame) -> ReportSection:
    table = cohort_table_one(histories, groups["interfant-06"])
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
        counts.append(
            {
                "protocol": protocol,
                "groups (n)": ", ".join(f"{g}: {int(n)}" for g, n in vc.items()),
            }
        )
    concord = [c.as_dict() for c in protocol_concordance(groups)]
    cross = pd.crosstab(groups["interfant-06"], groups["jplsg-mll-10"])
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


def _mrd_section(dataset: AnalysisDataset, landmark_days: float) -> ReportSection | None:
    from infantall.outcomes.hsct import mrd_landmark

    efs = dataset.endpoint("EFS")
    if "MRD_EOI" not in efs.columns or efs["MRD_EOI"].notna().sum() < 10:
        return None
    res = mrd_landmark(efs, "time", "status", "MRD_EOI", landmark_days)
    # times are re-originated at the landmark: 3 years after it
    at = res.curves.at([3 * 365.25]).set_index("group")
    n = res.curves.summary.set_index("group")
    rows = [
        {
            "MRD at end of induction": str(g),
            "patients from landmark": int(n.loc[g, "n"]),
            "events": int(n.loc[g, "events"]),
            "EFS 3 years after landmark, %": f"{100 * at.loc[g, 'survival']:.1f}",
            "SE": f"{100 * at.loc[g, 'std_err']:.1f}",
        }
        for g in n.index
    ]
    p = "NA" if res.test is None else f"{res.test.p_value:.3g}"
    body = (
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
    from infantall.outcomes.km import kaplan_meier_by_group
    from infantall.outcomes.logrank import logrank_test

    efs = dataset.endpoint("EFS")
    if "HSCT_CR1" not in efs.columns or efs["HSCT_CR1"].sum() == 0:
        return None
    median_day = float(np.nanmedian(efs["HSCTDY"]))
    strata = [("all patients", efs)]
    if "RISKGRP" in efs.columns:
        # within a risk group, confounding by group is gone and the immortal time remains
        for g, part in efs.groupby("RISKGRP", sort=True):
            if part["HSCT_CR1"].sum() >= 5 and (part["HSCT_CR1"] == 0).sum() >= 5:
                strata.append((f"risk group {g}", part))
    rows = []
    for name, part in strata:
        arm = np.where(part["HSCT_CR1"].to_numpy() == 1, "HSCT in CR1 (ever)", "no HSCT (never)")
        curves = kaplan_meier_by_group(part["time_years"], part["status"], arm)
        at = curves.at([horizon_years]).set_index("group")
        p = logrank_test(part["time_years"], part["status"], arm).p_value
        rows += [
            {
                "patients": name,
                "group (from diagnosis)": str(g),
                "n": int((arm == g).sum()),
                f"{horizon_years:g}-year EFS, %": f"{100 * at.loc[g, 'survival']:.1f}",
                "SE": f"{100 * at.loc[g, 'std_err']:.1f}",
                "naive log-rank p": f"{p:.3g}",
            }
            for g in at.index
        ]
    truth = (
        " In this SYNTHETIC cohort transplant has, by construction, no effect on outcome: "
        "any difference in the naive table is bias."
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
    from infantall.evidence import load_evidence
    from infantall.outcomes.km import kaplan_meier
    from infantall.reports.outcomes_section import outcome_sections

    groups = stratify_histories(histories)
    sections = [_table_one_section(histories, groups), _groups_section(groups)]
    sections += outcome_sections(dataset, group="RISKGRP", horizon_years=horizon_years)
    naive = _naive_hsct_section(dataset, horizon_years, synthetic)
    if naive is not None:
        sections.append(naive)
    mrd = _mrd_section(dataset, mrd_landmark_days)
    if mrd is not None:
        sections.append(mrd)
    efs = dataset.endpoint("EFS")
    at = kaplan_meier(efs["time_years"], efs["status"]).at([horizon_years]).iloc[0]
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
        f"{100 * float(at['survival']):.1f}% (SE {100 * float(at['std_err']):.1f}; 95% CI "
        f"{100 * float(at['lower']):.1f}–{100 * float(at['upper']):.1f}, log-log), drawn as a "
        "black star among the published trials (the evidence base).</p>"
        f'<img alt="Cohort EFS among the published trials" src="{figure_to_data_uri(fig)}">'
    )
    sections.append(ReportSection("cohort-vs-trials", "This cohort among published trials", body))
    return sections
