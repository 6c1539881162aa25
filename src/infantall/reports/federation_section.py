"""HTML sections of a federated run: each federated result beside the pooled one, and what
left every node (its audit trail)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from infantall.reports.html import ReportSection, html_table, render_report
from infantall.services.federation.comparison import Comparison

__all__ = ["federation_report", "federation_sections"]


def _num(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return "not estimable" if math.isnan(value) else f"{value:.{digits}g}"
    return str(value)


def _agreement(cmp: Comparison) -> ReportSection:
    rows = [
        {
            "analysis": r["analysis"],
            "quantity": r["quantity"],
            "federated": _num(r["federated"], 10),
            "pooled": _num(r["pooled"], 10),
            "diff": f"{r['max_abs_difference']:.1e}",
            "target": "exact" if r["target"] == 0 else f"{r['target']:.0e}",
            "agrees": "yes" if r["agrees"] else "NO",
        }
        for r in cmp.rows
    ]
    verdict = "every quantity met its target" if cmp.all_agree else "SOME QUANTITY DISAGREES"
    body = (
        f"<p>Nodes: {html.escape(', '.join(cmp.nodes))} (SYNTHETIC data). The pooled column "
        "is the analysis of the same patients stacked with the node as stratum; "
        f"{html.escape(verdict)}.</p>"
        + html_table(
            rows,
            ["analysis", "quantity", "federated", "pooled", "diff", "target", "agrees"],
            headers={"diff": "max |difference|"},
            numeric=["federated", "pooled", "diff"],
        )
    )
    return ReportSection("federation-agreement", "Federated versus pooled: agreement", body)


def _results(cmp: Comparison) -> ReportSection:
    cox = cmp.cox.summary.assign(source="federated")
    pooled = cmp.cox_pooled.assign(source="pooled")
    cox_rows = [
        {str(k): _num(v) for k, v in r.items()}
        for r in [*cox.to_dict("records"), *pooled.to_dict("records")]
    ]
    lr = cmp.logrank.test
    ts_rows = [
        {str(k): _num(v) for k, v in r.items()} for r in cmp.two_stage.summary.to_dict("records")
    ]
    km = cmp.km
    at = km.summary
    km_rows = [{str(k): _num(v) for k, v in r.items()} for r in at.to_dict("records")]
    body = (
        "<h3>Site-stratified Cox model of EFS (distributed Newton–Raphson)</h3>"
        + html_table(
            cox_rows,
            ["source", "covariate", "coef", "hr", "se", "p"],
            numeric=["coef", "hr", "se", "p"],
        )
        + f"<p>{cmp.cox.iterations} Newton steps, each one round of node requests.</p>"
        + "<h3>Stratified log-rank test of EFS by risk group (node as stratum)</h3>"
        + f"<p>chi-square {lr.chisq:.4f} on {lr.df} df, p = {lr.p_value:.3g}.</p>"
        + "<h3>Two-stage pooling of the node log hazard ratios of KMT2A-r (REML)</h3>"
        + html_table(ts_rows, list(cmp.two_stage.summary.columns), numeric=["log_hr", "se", "hr"])
        + f"<p>tau² = {cmp.two_stage.fit.tau2:.4g}, I² = {cmp.two_stage.fit.i2:.1f}%, "
        f"Q = {cmp.two_stage.fit.qe:.3f} on {cmp.two_stage.fit.qe_df} df.</p>"
        + f"<h3>Kaplan–Meier of EFS by risk group on a {km.grid.width:.1f}-day grid to "
        f"{km.grid.horizon:.0f} days</h3>"
        + f"<p>{len(km.refused_grids)} finer grid(s) were refused by some node (a count "
        "below nfilter).</p>"
        + html_table(
            km_rows,
            ["group", "time", "n_risk", "n_event", "survival", "lower", "upper"],
            numeric=["time", "n_risk", "n_event", "survival", "lower", "upper"],
        )
    )
    refused = cmp.table.refused
    if refused:
        body += (
            "<p>Table one variables refused: "
            + html.escape("; ".join(f"{k} by {', '.join(v)}" for k, v in refused.items()))
            + "</p>"
        )
    return ReportSection("federation-results", "Federated results", body)


def _audit(audit: Mapping[str, Sequence[Mapping[str, Any]]]) -> ReportSection:
    parts = []
    for node, rows in audit.items():
        released = [r for r in rows if r["action"] == "federation_release"]
        refused = [r for r in rows if r["action"] == "federation_refusal"]
        table_rows = [
            {
                "at": r["at"][:19],
                "action": r["action"].removeprefix("federation_"),
                "analysis": r["analysis"],
                "by": r["actor"],
                "content": html.escape(str(r["content"]))[:160],
            }
            for r in rows
        ]
        parts.append(
            f"<h3>{html.escape(node)}</h3><p>{len(rows)} audit rows: "
            f"{len(released)} releases, {len(refused)} refusals (the first 40 rows; each "
            "release row holds the complete payload in the node's audit log).</p>"
            + html_table(table_rows[:40], ["at", "action", "analysis", "by", "content"])
        )
    return ReportSection("federation-audit", "What left each node (audit trails)", "".join(parts))


def federation_sections(
    cmp: Comparison, audit: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[ReportSection]:
    """Agreement, results and the nodes' audit trails."""
    return [_agreement(cmp), _results(cmp), _audit(audit)]


def federation_report(
    cmp: Comparison, audit: Mapping[str, Sequence[Mapping[str, Any]]], seconds: float
) -> str:
    """The demo's self-contained HTML page."""
    return render_report(
        "Federated infantall: three SYNTHETIC study groups",
        federation_sections(cmp, audit),
        subtitle=f"Federated analyses over HTTP compared with the pooled analysis; "
        f"run in {seconds:.1f} s.",
    )
