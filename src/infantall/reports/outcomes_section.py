"""Report sections of the outcome analyses for :func:`infantall.reports.render_report`.

:func:`outcome_sections` turns an :class:`~infantall.outcomes.endpoints.AnalysisDataset`
into sections: EFS and OS by a grouping column (Kaplan–Meier figure with risk table,
survival at the horizon with SE, log-rank), cumulative incidence of relapse with death in
CR competing (stacked figure; by risk group with Gray's test), and HSCT in CR1 as a
time-dependent exposure (time-dependent Cox, Mantel–Byar, landmark, Simon–Makuch figure).
Risk groups appear in their protocol's clinical order; a value that cannot be estimated is
printed ``n/e``; every section says how many patients it included and excluded, and why.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from infantall.domain import PatientHistory
from infantall.errors import InvalidInputError
from infantall.outcomes.competing import cumulative_incidence
from infantall.outcomes.endpoints import AnalysisDataset
from infantall.outcomes.followup import Population, analysis_populations
from infantall.outcomes.hsct_adjusted import ASSUMPTION
from infantall.outcomes.hsct_questions import dataset_hsct_analysis, histories_hsct_analysis
from infantall.outcomes.logrank import logrank_test
from infantall.outcomes.questions import (
    cumulative_incidence_at_horizons,
    ordered_groups,
    survival_at_horizons,
)
from infantall.reports.figures.survival import (
    plot_cif,
    plot_cif_stacked,
    plot_km,
    plot_simon_makuch,
)
from infantall.reports.html import (
    ReportSection,
    figure_html,
    html_table,
    not_estimable,
)

__all__ = ["outcome_sections", "population_note"]


def _fmt(x: Any, digits: int = 1) -> str:
    return not_estimable(x, f"{{:.{digits}f}}")


def _records(df: Any) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in df.to_dict("records")]


def population_note(pop: Population | None) -> str:
    """``<p class="note">Patients: 412 included; 14 excluded: ...</p>`` (empty without one)."""
    if pop is None:
        return ""
    return f'<p class="note">Patients: {html.escape(pop.describe())}.</p>'


def _pct_se(est: Any, se: Any) -> str:
    if not_estimable(est) == "n/e":
        return "n/e"
    return f"{_fmt(100 * float(est))}% (SE {_fmt(100 * float(se))})"


def _pct_ci(lo: Any, hi: Any) -> str:
    if not_estimable(lo) == "n/e" or not_estimable(hi) == "n/e":
        return "n/e"
    return f"{_fmt(100 * float(lo))}–{_fmt(100 * float(hi))}%"


def _protocol(ds: AnalysisDataset, group: str) -> str | None:
    return ds.options.protocol if group == "RISKGRP" else None


def _km_section(
    ds: AnalysisDataset, code: str, group: str, horizon: float, pop: Population | None
) -> ReportSection:
    df = ds.endpoint(code)
    protocol = _protocol(ds, group)
    labels = df[group].fillna("unknown").astype(str)
    res = survival_at_horizons(
        df.time, df.status, labels, [horizon * 365.25], group_name=group, protocol=protocol
    )
    curves = res.curves
    rows = [
        {
            "group": r["group"],
            "n": r["n"],
            "events": r["events"],
            "at risk": r["n_risk"],
            "estimate": _pct_se(r["survival"], r["std_err"]),
            "ci": _pct_ci(r["lower"], r["upper"]),
        }
        for r in _records(res.table)
    ]
    text = ""
    annotation = None
    if len(curves.curves) > 1 and df.status.sum() > 0:
        lr = logrank_test(df.time, df.status, ordered_groups(labels, protocol))
        text = f"<p>Log-rank chi-square {lr.chisq:.2f} on {lr.df} df, p = {lr.p_value:.3g}.</p>"
        annotation = f"log-rank p = {lr.p_value:.3g}"
    label = "Event-free survival" if code == "EFS" else "Overall survival"
    fig = plot_km(curves, ylabel=label, annotation=annotation)
    table = html_table(
        rows,
        ["group", "n", "events", "at risk", "estimate", "ci"],
        headers={
            "at risk": f"at risk at {horizon:g} years",
            "estimate": f"{horizon:g}-year {code}",
            "ci": "95% CI (log-log)",
        },
        numeric=["n", "events", "at risk"],
    )
    by = _group_label(ds, group)
    body = figure_html(fig, alt=f"{label} by {by}", name=f"{code.lower()}-by-{group.lower()}")
    note = (
        '<p class="note">n/e: not estimable (nobody in the group is followed to the horizon).</p>'
        if not res.table["estimable"].all()
        else ""
    )
    return ReportSection(
        f"outcomes-{code.lower()}",
        f"{label} by {by}",
        population_note(pop) + body + table + note + text,
    )


def _group_label(ds: AnalysisDataset, group: str) -> str:
    """A reader's name for a grouping column (``RISKGRP`` is the risk group of a protocol)."""
    if group == "RISKGRP" and ds.options.protocol is not None:
        return f"risk group ({ds.options.protocol})"
    return group


def _cir_overall(df: pd.DataFrame, horizon: float) -> str:
    res = cumulative_incidence(df.time, df.status)
    at = res.at([horizon * 365.25])
    names = {1: "Relapse", 2: "Death in CR / SMN"}
    rows = [
        {
            "event": names.get(int(r["cause"]), str(r["cause"])),
            "estimate": _pct_se(r["estimate"], r["std_err"]),
        }
        for r in _records(at)
    ]
    fig = plot_cif_stacked(res, cause_labels={2: "Death in CR / SMN"})
    return figure_html(
        fig, alt="Stacked cumulative incidence of relapse and death in CR", name="cir-stacked"
    ) + html_table(rows, ["event", "estimate"], headers={"estimate": f"{horizon:g}-year"})


def _cir_by_group(ds: AnalysisDataset, df: pd.DataFrame, group: str, horizon: float) -> str:
    labels = df[group].fillna("unknown").astype(str)
    if labels.nunique() < 2 or not (df.status == 1).any():
        return ""
    res = cumulative_incidence_at_horizons(
        df.time, df.status, labels, [horizon * 365.25], protocol=_protocol(ds, group)
    )
    relapse = res.table[res.table["cause"] == 1]
    rows = [
        {
            "group": r["group"],
            "n": r["n"],
            "relapses": r["events"],
            "at risk": r["n_risk"],
            "estimate": _pct_se(r["estimate"], r["std_err"]),
            "ci": _pct_ci(r["lower"], r["upper"]),
        }
        for r in _records(relapse)
    ]
    gray = res.gray(1)
    test = (
        f"<p>Gray's test of equal cumulative incidence of relapse across groups: chi-square "
        f"{gray.statistic:.2f} on {gray.df} df, p = {gray.p_value:.3g} (cmprsk::cuminc).</p>"
    )
    sizes = {str(r["group"]): int(r["n"]) for r in rows}
    by = _group_label(ds, group)
    fig = plot_cif(res.result, cause=1, sizes=sizes, ylabel="Cumulative incidence of relapse")
    return (
        f"<h3>Relapse by {html.escape(by)}</h3>"
        + figure_html(fig, alt=f"Cumulative incidence of relapse by {by}", name="cir-by-group")
        + html_table(
            rows,
            ["group", "n", "relapses", "at risk", "estimate", "ci"],
            headers={
                "at risk": f"at risk at {horizon:g} years",
                "estimate": f"{horizon:g}-year CIR",
                "ci": "95% CI",
            },
            numeric=["n", "relapses", "at risk"],
        )
        + test
    )


def _cir_section(
    ds: AnalysisDataset, horizon: float, group: str, pop: Population | None
) -> ReportSection:
    df = ds.endpoint("CIR")
    body = population_note(pop) + _cir_overall(df, horizon)
    if group in df.columns:
        body += _cir_by_group(ds, df, group, horizon)
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
        + figure_html(
            fig,
            alt="Simon-Makuch EFS curves, transplanted in CR1 and not",
            name="hsct-simon-makuch",
        )
    )
    return ReportSection("outcomes-hsct", "HSCT in CR1 as a time-dependent exposure", body)


def outcome_sections(
    dataset: AnalysisDataset,
    *,
    group: str = "KMT2A",
    horizon_years: float = 5.0,
    histories: Sequence[PatientHistory] | None = None,
) -> list[ReportSection]:
    """Report sections (:class:`~infantall.reports.html.ReportSection`) of the standard
    analyses, each with the patients it included and excluded
    (:func:`~infantall.outcomes.followup.analysis_populations`). With the patients'
    ``histories`` the HSCT estimate is adjusted for the protocol's risk group and the MRD status
    its HSCT rule reads; without them, for the risk group only."""
    pops = {p.analysis.split(" ")[0]: p for p in analysis_populations(dataset)}
    sections = [
        _km_section(dataset, "EFS", group, horizon_years, pops.get("EFS")),
        _km_section(dataset, "OS", group, horizon_years, pops.get("OS")),
    ]
    if (dataset.adtte.PARAMCD == "CIR").any():
        sections.append(_cir_section(dataset, horizon_years, group, pops.get("CIR")))
    hs = _hsct_section(dataset, histories)
    if hs is not None:
        sections.append(hs)
    return sections
