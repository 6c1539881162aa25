"""The data-monitoring committee's HTML reports: closed (arm level) and open (pooled).

Formatting only: the content comes from :func:`infantall.services.trials.dmc.dmc_report`.
"""

from __future__ import annotations

import html

from infantall.reports.html import ReportSection, html_table, render_report
from infantall.services.trials.dmc import SAFETY_KINDS, DmcReport

__all__ = ["dmc_report_html", "dmc_sections"]


def _counts(title: str, counts: dict[str, int], key: str) -> str:
    rows = [{key: k, "patients": v} for k, v in counts.items()]
    return html_table(rows, [key, "patients"], caption=title, numeric=["patients"])


def _fmt(value: object) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _interims(report: DmcReport) -> str:
    arms = list(report.trial.arms)
    rows = []
    for i in report.interims:
        for k, arm in enumerate(arms):
            rows.append(
                {
                    "look": i["look"] + 1,
                    "arm": arm,
                    "P(better than control)": _fmt(i["p_better"][k]),
                    "P(best)": _fmt(i["p_best"][k]),
                    "next allocation": _fmt(i["allocation"][k]),
                    "decision": i["decision"],
                }
            )
    cols = ["look", "arm", "P(better than control)", "P(best)", "next allocation", "decision"]
    if not rows:
        return "<p>No interim analysis has been run yet.</p>"
    return html_table(rows, cols, numeric=cols[2:5])


def _timing(report: DmcReport) -> str:
    t = report.timing
    if t is None:
        return "<p>Not estimable yet (fewer than two enrolments or no time elapsed).</p>"
    rows = [
        {
            f"analysis at {t.counts}": n,
            "median (years from now)": f"{m:.2f}",
            "90% interval": f"{lo:.2f} to {hi:.2f}",
        }
        for n, m, lo, hi in zip(t.targets, t.median, t.lower, t.upper, strict=True)
    ]
    if not rows:
        return "<p>Every scheduled analysis has been reached.</p>"
    model = "Poisson accrual, Gamma posterior on the rate"
    if t.counts == "events":
        model += "; exponential events, Gamma posterior on the hazard"
    return html_table(rows, list(rows[0]), caption=model)


def _resimulated(report: DmcReport) -> str:
    r = report.resimulated
    if r is None:
        return "<p>Not available before the first interim analysis.</p>"
    rows = [
        {"arm": arm, "assumed p": f"{p:.3f}", "P(selected)": f"{s:.3f}"}
        for arm, p, s in zip(report.trial.arms, r["assumed_p"], r["prob_select"], strict=True)
    ]
    text = (
        f"<p>{r['n_trials']} trials re-simulated with each arm's success probability at its "
        f"posterior mean after look {r['after_look'] + 1}: P(superiority) "
        f"{r['prob_superiority']:.3f}, P(futility) {r['prob_futility']:.3f}, expected "
        f"sample size {r['expected_n']:.0f}.</p>"
    )
    return text + html_table(rows, list(rows[0]), numeric=["assumed p", "P(selected)"])


def dmc_sections(report: DmcReport) -> list[ReportSection]:
    """The sections of one report."""
    info = report.trial
    head = (
        f"<p>{html.escape(info.name)} — method {html.escape(info.method)}, design version "
        f"{info.spec_version} (SHA-256 {html.escape(info.spec_digest)}), "
        f"{report.enrolled} patients enrolled.</p>"
    )
    sections = [
        ReportSection(
            "accrual",
            "Accrual",
            head
            + _counts("By site", report.by_site, "site")
            + _counts("By stratum", report.by_stratum, "stratum"),
        ),
        ReportSection(
            "safety",
            "Safety events" + (" by arm" if report.closed else " (pooled)"),
            html_table(report.safety, ["group", *SAFETY_KINDS], numeric=list(SAFETY_KINDS)),
        ),
        ReportSection("timing", "Predicted timing of the next analyses", _timing(report)),
    ]
    if report.closed:
        cols = ["enrolments", *info.arms]
        sections.insert(
            1,
            ReportSection(
                "allocation",
                "Allocation history by arm",
                html_table(report.allocation_history, cols, numeric=list(info.arms)),
            ),
        )
        sections.insert(2, ReportSection("interims", "Interim analyses", _interims(report)))
        sections.insert(
            3,
            ReportSection(
                "resimulated",
                "Operating characteristics under the current data",
                _resimulated(report),
            ),
        )
    return sections


def dmc_report_html(report: DmcReport) -> str:
    """A self-contained HTML page."""
    kind = "CLOSED report — DMC only, unblinded" if report.closed else "OPEN report — pooled"
    return render_report(f"DMC report: {report.trial.code}", dmc_sections(report), subtitle=kind)
