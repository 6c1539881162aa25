"""Report sections of the outcome analyses for :func:`infantall.reports.render_report`.

:func:`outcome_sections` turns an :class:`~infantall.outcomes.endpoints.AnalysisDataset`
into sections: EFS and OS by a grouping column (Kaplan–Meier figure with risk table,
survival at the horizon with SE, log-rank), cumulative incidence of relapse with death in
CR competing (stacked figure, Gray's test), and HSCT in CR1 as a time-dependent exposure
(time-dependent Cox, Mantel–Byar, landmark, Simon–Makuch figure).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from infantall.errors import InvalidInputError
from infantall.outcomes.competing import cumulative_incidence
from infantall.outcomes.endpoints import AnalysisDataset
from infantall.outcomes.logrank import logrank_test
from infantall.outcomes.questions import dataset_hsct_analysis, survival_at_horizons
from infantall.reports.figures.survival import plot_cif_stacked, plot_km, plot_simon_makuch
from infantall.reports.html import ReportSection, figure_to_data_uri, html_table

__all__ = ["outcome_sections"]


def _fmt(x: Any, digits: int = 1) -> str:
    v = float(x)
    return "NA" if np.isnan(v) else f"{v:.{digits}f}"


def _records(df: Any) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in df.to_dict("records")]


def _km_section(ds: AnalysisDataset, code: str, group: str, horizon: float) -> ReportSection:
    df = ds.endpoint(code)
    res = survival_at_horizons(
        df.time, df.status, df[group].astype(str), [horizon * 365.25], group_name=group
    )
    curves = res.curves
    rows = [
        {
            "group": r["group"],
            "n": r["n"],
            "events": r["events"],
            "estimate": f"{_fmt(100 * r['survival'])}% (SE {_fmt(100 * r['std_err'])})",
            "ci": f"{_fmt(100 * r['lower'])}-{_fmt(100 * r['upper'])}%",
        }
        for r in _records(res.table)
    ]
    text = ""
    annotation = None
    if len(curves.curves) > 1 and df.status.sum() > 0:
        lr = logrank_test(df.time, df.status, df[group].astype(str))
        text = f"<p>Log-rank chi-square {lr.chisq:.2f} on {lr.df} df, p = {lr.p_value:.3g}.</p>"
        annotation = f"log-rank p = {lr.p_value:.3g}"
    label = "Event-free survival" if code == "EFS" else "Overall survival"
    fig = plot_km(curves, ylabel=label, annotation=annotation)
    table = html_table(
        rows,
        ["group", "n", "events", "estimate", "ci"],
        headers={"estimate": f"{horizon:g}-year {code}", "ci": "95% CI (log-log)"},
    )
    by = _group_label(ds, group)
    body = f'<img alt="{label} by {html.escape(by)}" src="{figure_to_data_uri(fig)}">'
    return ReportSection(f"outcomes-{code.lower()}", f"{label} by {by}", body + table + text)


def _group_label(ds: AnalysisDataset, group: str) -> str:
    """A reader's name for a grouping column (``RISKGRP`` is the risk group of a protocol)."""
    if group == "RISKGRP" and ds.options.protocol is not None:
        return f"risk group ({ds.options.protocol})"
    return group


def _cir_section(ds: AnalysisDataset, horizon: float) -> ReportSection:
    df = ds.endpoint("CIR")
    res = cumulative_incidence(df.time, df.status)
    at = res.at([horizon * 365.25])
    names = {1: "Relapse", 2: "Death in CR / SMN"}
    rows = [
        {
            "event": names.get(int(r["cause"]), str(r["cause"])),
            "estimate": f"{_fmt(100 * r['estimate'])}% (SE {_fmt(100 * r['std_err'])})",
        }
        for r in _records(at)
    ]
    fig = plot_cif_stacked(res, cause_labels={2: "Death in CR / SMN"})
    body = f'<img alt="cumulative incidence" src="{figure_to_data_uri(fig)}">'
    body += html_table(rows, ["event", "estimate"], headers={"estimate": f"{horizon:g}-year"})
    return ReportSection("outcomes-cir", "Cumulative incidence of relapse (patients in CR)", body)


def _hsct_section(ds: AnalysisDataset) -> ReportSection | None:
    try:
        res = dataset_hsct_analysis(ds, "EFS")
    except InvalidInputError as exc:
        if exc.code == "too_few_groups":
            return None  # nobody transplanted in CR1: nothing to compare
        raise
    td, mb, lm = res.estimates[0], res.mantel_byar, res.landmark
    rows = [
        {
            "analysis": "Cox, HSCT time-dependent",
            "result": (
                f"HR {td.hazard_ratio:.2f} ({td.ci_lower:.2f}-{td.ci_upper:.2f}), "
                f"p = {td.p_value:.3g}"
            ),
        },
        {"analysis": "Mantel-Byar", "result": f"chi-square {mb.chisq:.2f}, p = {mb.p_value:.3g}"},
        {
            "analysis": f"Landmark at day {res.landmark_time:g} (median time to HSCT)",
            "result": "not estimable"
            if lm is None or lm.test is None
            else f"log-rank p = {lm.test.p_value:.3g}, n = {lm.n_at_risk}",
        },
    ]
    fig = plot_simon_makuch(res.simon_makuch, annotation=f"Mantel-Byar p = {mb.p_value:.3g}")
    body = (
        "<p>HSCT in first remission is analysed as a time-dependent exposure: a patient "
        "counts as not transplanted until the transplant, which removes immortal-time bias "
        "(Mantel &amp; Byar 1974; Simon &amp; Makuch 1984).</p>"
        + html_table(rows, ["analysis", "result"])
        + f'<img alt="Simon-Makuch curves" src="{figure_to_data_uri(fig)}">'
    )
    return ReportSection("outcomes-hsct", "HSCT in CR1 as a time-dependent exposure", body)


def outcome_sections(
    dataset: AnalysisDataset, *, group: str = "KMT2A", horizon_years: float = 5.0
) -> list[ReportSection]:
    """Report sections (:class:`~infantall.reports.html.ReportSection`) of the standard
    analyses."""
    sections = [
        _km_section(dataset, "EFS", group, horizon_years),
        _km_section(dataset, "OS", group, horizon_years),
    ]
    if (dataset.adtte.PARAMCD == "CIR").any():
        sections.append(_cir_section(dataset, horizon_years))
    hs = _hsct_section(dataset)
    if hs is not None:
        sections.append(hs)
    return sections
