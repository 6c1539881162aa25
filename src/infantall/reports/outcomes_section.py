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
from infantall.outcomes.hsct_adjusted import ASSUMPTION
from infantall.outcomes.logrank import logrank_test
from infantall.outcomes.questions import (
    dataset_hsct_analysis,
    histories_hsct_analysis,
    survival_at_horizons,
)
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


def _hr_text(e: Any) -> str:
    if e is None or e.hazard_ratio is None:
        return "not estimable"
    return f"HR {e.hazard_ratio:.2f} ({e.ci_lower:.2f}-{e.ci_upper:.2f}), p = {e.p_value:.3g}"


def _hsct_rows(res: Any) -> list[dict[str, str]]:
    """Adjusted (recommended) first, then the contrasts, the tests and the landmarks."""
    d = res.to_dict()
    adj = res.adjusted_estimate
    strat = "stratified" if d["mantel_byar"]["strata"] else "unstratified"
    rows = [
        {"analysis": f"Adjusted time-dependent Cox (recommended; {', '.join(res.adjusted_for)})",
         "result": _hr_text(adj)},
        {"analysis": "Unadjusted time-dependent Cox (confounded by indication: for contrast)",
         "result": _hr_text(res.unadjusted_estimate)},
        {"analysis": f"Mantel-Byar test ({strat})",
         "result": f"chi-square {d['mantel_byar']['statistic']:.2f}, "
                   f"p = {d['mantel_byar']['p_value']:.3g}"},
    ]  # fmt: skip
    for lm in res.landmarks:
        surv = ", ".join(
            f"{'HSCT' if k == 'hsct' else 'no HSCT'} {'n/e' if v is None else f'{100 * v:.1f}%'}"
            for k, v in lm.survival.items()
        )
        how = "stratified" if "stratified" in lm.note else "unadjusted"
        rows.append(
            {
                "analysis": f"Landmark at day {lm.landmark:g} ({how}; n = {lm.n}, "
                f"{lm.n_hsct} transplanted by then)",
                "result": f"{_hr_text(lm)}; EFS {lm.horizon / 365.25:g} years later: {surv}",
            }
        )
    return rows


def _hsct_section(ds: AnalysisDataset, histories: Any = None) -> ReportSection | None:
    """HSCT in CR1: the adjusted estimate (with ``histories``: stratified by risk group and
    the protocol's HSCT-rule MRD; without: by risk group only), the unadjusted one labelled
    as confounded, Mantel–Byar, landmarks, exclusions and the assumption."""
    try:
        if histories is None:
            res = dataset_hsct_analysis(ds, "EFS")
        else:
            protocol = ds.options.protocol or "interfant-06"
            res = histories_hsct_analysis(histories, protocol, cutoff=ds.options.cutoff)
    except InvalidInputError as exc:
        if exc.code == "too_few_groups":
            return None  # nobody transplanted in CR1: nothing to compare
        raise
    mb = res.mantel_byar_stratified or res.mantel_byar
    fig = plot_simon_makuch(
        res.simon_makuch, counting=res.counting, annotation=f"Mantel-Byar p = {mb.p_value:.3g}"
    )
    excluded = "; ".join(f"{html.escape(k)}: {v}" for k, v in res.excluded.items() if v)
    mrd_note = (
        ""
        if histories is not None
        else " The MRD result of the protocol's HSCT rule is not in this dataset, so the "
        "adjusted estimate is stratified by risk group only."
    )
    body = (
        "<p>HSCT in first remission is analysed as a time-dependent exposure: a patient "
        "counts as not transplanted until the transplant, which removes immortal-time bias "
        "(Mantel &amp; Byar 1974; Simon &amp; Makuch 1984). Transplant is given by risk "
        "group and MRD, so the unadjusted model is confounded by indication; the adjusted "
        f"model is the one to read.{mrd_note}</p>"
        f"<p><strong>Assumption.</strong> {html.escape(ASSUMPTION)}</p>"
        + html_table(_hsct_rows(res), ["analysis", "result"])
        + f"<p>Patients analysed: {res.to_dict()['n_analysed']}; transplanted in CR1: "
        f"{res.n_exposed}. "
        f"Not analysed: {excluded or 'none'}.</p>"
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
