"""The synthesis sections of the HTML report (:mod:`infantall.reports`).

Sections: pooled EFS and OS by era, protocol type and study group; forest, bubble and
EFS-over-time figures; the HSCT-in-CR1 table of seed 004 pooled; the seed's claims checked
against the data. Every number is computed from the evidence base when the report is built.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from infantall.reports import ReportSection, html_table
from infantall.reports.figures.synthesis import bubble_plot, efs_over_time_plot, forest_plot
from infantall.reports.html import figure_html
from infantall.synthesis.claims import ClaimCheck, check_seed_claims
from infantall.synthesis.evidence_inputs import evidence_frame, select_estimates
from infantall.synthesis.hsct import (
    HSCT_OUTCOMES,
    HsctSynthesis,
    hsct_counts_from_evidence,
    pool_hsct_outcomes,
)
from infantall.synthesis.pool import pool_proportions
from infantall.synthesis.questions import selection_regression, selection_subgroups
from infantall.synthesis.subgroups import SubgroupAnalysis

__all__ = ["synthesis_sections"]

_HORIZON = 5.0
"""The horizon of the pooled tables: 5 years, the one most trials report."""

_METHODS_NOTE = (
    "Random-effects meta-analysis of single-arm proportions on the logit scale, τ² by REML, "
    "Wald intervals; published Kaplan-Meier percentages enter as effective counts "
    "(events = p·N). Subgroups are pooled separately and compared by the Q test between "
    "subgroups. The statistics reproduce R metafor 3.8-1 to 1e-6 (tests/synthesis)."
)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _subgroup_table(sub: SubgroupAnalysis, label: str) -> str:
    rows = []
    for _, r in sub.table.iterrows():
        rows.append(
            {
                label: r[sub.by],
                "k": int(r["k"]),
                "N": f"{r['n_total']:.0f}",
                "pooled": _fmt(r["estimate_pct"]),
                "ci": f"{_fmt(r['ci_low_pct'])}–{_fmt(r['ci_high_pct'])}",
                "pi": (
                    "—"
                    if pd.isna(r["pi_low_pct"])
                    else f"{_fmt(r['pi_low_pct'])}–{_fmt(r['pi_high_pct'])}"
                ),
                "i2": _fmt(r["i2_pct"], 0),
            }
        )
    caption = (
        f"Test of subgroup differences: Q = {sub.q_between:.2f} on {sub.df_between} df, "
        f"p {_p(sub.p_between)}"
    )
    return html_table(
        rows,
        [label, "k", "N", "pooled", "ci", "pi", "i2"],
        headers={
            "pooled": "Pooled %",
            "ci": "95% CI",
            "pi": "95% prediction interval",
            "i2": "I² %",
        },
        caption=caption,
        numeric=["k", "N", "pooled", "ci", "pi", "i2"],
    )


def _pooled_section(frame: pd.DataFrame) -> ReportSection:
    parts = [f'<p class="note">{html.escape(_METHODS_NOTE)}</p>']
    for endpoint in ("efs", "os"):
        name = endpoint.upper()
        everyone = select_estimates(frame, endpoint=endpoint, horizon=_HORIZON)
        infant = select_estimates(
            frame, endpoint=endpoint, horizon=_HORIZON, protocol_type="infant-specific"
        )
        overall = pool_proportions(everyone.inputs())
        parts.append(
            f"<h3>{_HORIZON:g}-year {name}</h3><p>All {everyone.k} trials "
            f"({overall.n_total:.0f} infants): pooled {name} {overall.estimate_pct:.1f}% "
            f"(95% CI {overall.ci_low_pct:.1f}–{overall.ci_high_pct:.1f}%; prediction interval "
            f"{overall.pi_low_pct:.1f}–{overall.pi_high_pct:.1f}%; I² "
            f"{overall.fit.i2:.0f}%).</p>"
        )
        for sel, by, label, what in (
            (everyone, "era", "Era (accrual mid-year)", "all protocols"),
            (everyone, "protocol_type", "Protocol", "all protocols"),
            (infant, "group", "Study group", "infant-specific protocols"),
        ):
            sub = selection_subgroups(sel, by)
            parts.append(f"<h4>{name} by {html.escape(label.lower())} ({what})</h4>")
            parts.append(_subgroup_table(sub, label))
    return ReportSection(
        "synthesis-pooled", "Synthesis: pooled EFS and OS by era and group", "".join(parts)
    )


def _img(fig: Any, alt: str, caption: str, name: str) -> str:
    return figure_html(fig, alt=alt, name=name, caption=html.escape(caption))


def _figures_section(frame: pd.DataFrame) -> ReportSection:
    infant = select_estimates(
        frame, endpoint="efs", horizon=_HORIZON, protocol_type="infant-specific"
    )
    res = pool_proportions(infant.inputs())
    reg = selection_regression(infant, ["accrual_mid_year"])
    everyone = select_estimates(frame, endpoint="efs", horizon=_HORIZON)
    reg_all = selection_regression(everyone, ["accrual_mid_year"])
    parts = [
        _img(
            forest_plot(res, title="5-year EFS, infant-specific protocols"),
            "Forest plot of 5-year EFS",
            "Study estimates with Clopper-Pearson 95% CIs (square area ∝ weight), the pooled "
            "random-effects estimate (diamond) and the 95% prediction interval (grey bar).",
            "synthesis-forest-efs",
        ),
        _img(
            bubble_plot(
                reg.regression,
                "accrual_mid_year",
                reg.used["study"].tolist(),
                ylabel="5-year EFS (%)",
            ),
            "Bubble plot of EFS against accrual mid-year",
            "Meta-regression of 5-year EFS (logit scale) on accrual mid-year, infant-specific "
            "protocols; bubble area ∝ weight, band = 95% CI of the fitted line.",
            "synthesis-efs-by-year",
        ),
        _img(
            efs_over_time_plot(reg_all.used, reg_all.regression),
            "EFS of infant ALL trials over calendar time",
            "Each trial's 5-year EFS across its accrual period, coloured by protocol type, with "
            "the pooled trend (meta-regression on accrual mid-year, all protocols) and its 95% "
            "CI.",
            "synthesis-efs-over-time",
        ),
    ]
    return ReportSection(
        "synthesis-figures", "Synthesis: forest and meta-regression plots", "".join(parts)
    )


def _hsct_tables(syn: HsctSynthesis) -> str:
    by_rows = []
    for _, r in syn.by_study.iterrows():
        row: dict[str, object] = {
            "study": r["study"],
            "group": r["group"],
            "years": f"{r['accrual_start']:.0f}–{r['accrual_end']:.0f}",
            "n": f"{r['n_hsct']:.0f}",
        }
        for col in HSCT_OUTCOMES:
            row[col] = (
                f"{r[col]:.0f} ({r[f'{col}_pct']:.0f}%; "
                f"{r[f'{col}_ci_low_pct']:.0f}–{r[f'{col}_ci_high_pct']:.0f})"
            )
        by_rows.append(row)
    heads = {"n": "HSCT in CR1", **HSCT_OUTCOMES}
    by_table = html_table(
        by_rows,
        ["study", "group", "years", "n", *HSCT_OUTCOMES],
        headers=heads,
        caption="By study: count (% ; Clopper-Pearson 95% CI) — seed 004 Table 3",
        numeric=["n", *HSCT_OUTCOMES],
    )
    pooled_rows = [
        {
            "outcome": r["outcome"],
            "k": int(r["k"]),
            "crude": f"{r['events']:.0f}/{r['n']:.0f} ({r['crude_pct']:.1f}%)",
            "pooled": f"{r['estimate_pct']:.1f}",
            "ci": f"{r['ci_low_pct']:.1f}–{r['ci_high_pct']:.1f}",
            "pi": f"{r['pi_low_pct']:.1f}–{r['pi_high_pct']:.1f}",
            "i2": f"{r['i2_pct']:.0f}",
        }
        for _, r in syn.pooled.iterrows()
    ]
    pooled_table = html_table(
        pooled_rows,
        ["outcome", "k", "crude", "pooled", "ci", "pi", "i2"],
        headers={
            "crude": "Total (crude %)",
            "pooled": "Pooled % (REML, logit)",
            "ci": "95% CI",
            "pi": "95% prediction interval",
            "i2": "I² %",
        },
        caption="Pooled over studies",
        numeric=["k", "crude", "pooled", "ci", "pi", "i2"],
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in syn.notes)
    return f'{by_table}{pooled_table}<ul class="note">{notes}</ul>'


def _claims_html(checks: Sequence[ClaimCheck]) -> str:
    items = "".join(
        f"<li><strong>“{html.escape(c.claim)}”</strong> "
        f'<span class="note">({html.escape(c.source)})</span><br>{html.escape(c.sentence)}</li>'
        for c in checks
    )
    return (
        f'<ol>{items}</ol><p class="note">Each sentence is computed from the evidence base '
        "when the report is built; none is typed in.</p>"
    )


def synthesis_sections(frame: pd.DataFrame | None = None) -> list[ReportSection]:
    """The synthesis sections of the report, computed from ``load_evidence().frame``.

    Returns four :class:`ReportSection` objects with ids ``synthesis-pooled``,
    ``synthesis-figures``, ``synthesis-hsct`` and ``synthesis-claims``.
    """
    df = evidence_frame() if frame is None else frame
    hsct = pool_hsct_outcomes(hsct_counts_from_evidence(df))
    return [
        _pooled_section(df),
        _figures_section(df),
        ReportSection(
            "synthesis-hsct", "Synthesis: allogeneic HSCT in first CR", _hsct_tables(hsct)
        ),
        ReportSection(
            "synthesis-claims",
            "Synthesis: the seed's conclusions checked against the data",
            _claims_html(check_seed_claims(df)),
        ),
    ]
