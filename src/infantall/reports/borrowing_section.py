"""Report section "Borrowing from history" (the design part's MAP prior, for the full report).

Computed when the report is built, from the evidence base: the historical KMT2A-r trials'
EFS at the horizon (each number cited), the MAP prior and its Beta-mixture approximation
(forest plot and densities), its ESS, the robust prior, and the operating characteristics of a
single-arm design of ``n`` infants against it, including prior-data conflict. The numbers come
from :func:`~infantall.design.borrowing.borrowing_prior` and
:func:`~infantall.design.borrowing.single_arm_bayes_design`; this module only formats them.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from scipy import stats

from infantall.design.borrowing import (
    BorrowingPrior,
    SingleArmBayesDesign,
    borrowing_prior,
    single_arm_bayes_design,
    studies_from_evidence,
)
from infantall.evidence import load_evidence
from infantall.reports.figures.forest import ForestRow, PooledRow, forest
from infantall.reports.figures.style import colour, new_figure, style_context
from infantall.reports.html import ReportSection, figure_html, html_table

__all__ = ["borrowing_section"]


def _forest(res: BorrowingPrior, horizon: float) -> str:
    rows = []
    for name, y, n in zip(res.map.data.study, res.map.data.events, res.map.data.n, strict=True):
        lo, hi = stats.beta.ppf([0.025, 0.975], y + 0.5, n - y + 0.5)  # Jeffreys interval
        rows.append(ForestRow(name, 100 * y / n, 100 * lo, 100 * hi, weight=n, extra=f"{n:.0f}"))
    q = res.map.to_dict()["quantiles"]
    mix = res.fit.mixture
    pooled = PooledRow(
        "MAP prior (exact)",
        100 * q["0.5"],
        100 * q["0.025"],
        100 * q["0.975"],
        f"{100 * q['0.5']:.1f} ({100 * q['0.025']:.1f}-{100 * q['0.975']:.1f})",
        interval=(100 * mix.quantile(0.025), 100 * mix.quantile(0.975)),
        interval_label="Beta-mixture approximation",
    )
    fig = forest(
        rows,
        pooled=pooled,
        xlabel=f"EFS at {horizon:g} years (%)",
        xlim=(0, 100),
        headers=("Trial", "EFS % (95% CI)", "n (effective)"),
    )
    return figure_html(
        fig,
        alt="Forest plot of historical trials with the MAP prior",
        name="borrowing-forest",
        caption="Historical trials (Jeffreys 95% intervals) and the MAP prior (median, 95% "
        "interval) with its Beta-mixture approximation.",
    )


def _densities(res: BorrowingPrior) -> str:
    p = np.linspace(0.002, 0.998, 500)
    with style_context():
        fig = new_figure("strip")
        ax = fig.add_subplot()
        ax.plot(p, res.map.pdf(p), color=colour(0), label="MAP prior (exact)")
        ax.plot(p, res.fit.mixture.pdf(p), color=colour(1), ls="--", label="Beta mixture")
        if res.robust is not None:
            ax.plot(p, res.robust.pdf(p), color=colour(2), ls=":", label="robust prior")
        ax.set_xlabel("historical control rate")
        ax.set_ylabel("density")
        ax.legend(frameon=False)
        return figure_html(
            fig,
            alt="MAP, mixture and robust prior densities",
            name="borrowing-densities",
            caption="The MAP prior, its Beta-mixture approximation and the robust prior.",
        )


def _sources_table(res: BorrowingPrior) -> str:
    rows = [
        {
            "trial": s["trial"],
            "reported": f"{s['reported_pct']:g}% at {s['reported_horizon_years']:g} y"
            if s["used"]
            else "",
            "conversion": s.get("conversion", ""),
            "n": f"{s['n_effective']:.0f} ({s['n_effective_rule']})" if s["used"] else "",
            "source": s.get("source", "") if s["used"] else f"not used: {s['reason']}",
            "quote": s.get("quote", ""),
        }
        for s in res.sources or ()
    ]
    return html_table(
        rows,
        ["trial", "reported", "conversion", "n", "source", "quote"],
        caption="Historical trials used (evidence base, with sources)",
    )


def _oc_table(des: SingleArmBayesDesign) -> str:
    rows = [
        {
            "scenario": s["scenario"],
            "truth": f"{s['p_control']:.2f} → {s['p_new']:.2f}",
            "hypothesis": s["hypothesis"],
            "p": f"{s['p_success']:.3f} ± {s['mc_se']:.3f}",
            "exact": f"{s['p_success_exact']:.3f}",
        }
        for s in des.scenarios
    ]
    return html_table(
        rows,
        ["scenario", "truth", "hypothesis", "p", "exact"],
        headers={
            "truth": "control → new",
            "p": "P(success) ± MC SE",
            "exact": "P(success), exact",
        },
        caption=(
            f"{des.n} infants; success if P(new − control > {des.delta:g}) ≥ "
            f"{des.threshold:g} (needs ≥ {des.critical_successes} event-free); "
            f"{des.trials_per_scenario:,} simulated trials per scenario (seed {des.seed})"
        ),
    )


def borrowing_section(
    frame: pd.DataFrame | None = None,
    *,
    population: str = "kmt2a-r",
    endpoint: str = "efs",
    horizon_years: float = 2.0,
    robust_weight: float = 0.8,
    n: int = 160,
    delta: float = 0.0,
    threshold: float = 0.9,
    trials: int = 10_000,
    seed: int = 2026,
) -> ReportSection:
    """The section ``design-borrowing`` ("Borrowing from history").

    ``frame`` defaults to ``load_evidence().frame``.
    """
    if frame is None:
        frame = load_evidence().frame
    studies, sources = studies_from_evidence(frame, population, endpoint, horizon_years)
    res = borrowing_prior(studies, robust_weight=robust_weight, sources=sources)
    des = single_arm_bayes_design(
        res.prior, n, delta=delta, threshold=threshold, trials=trials, seed=seed,
        horizon_years=horizon_years,
    )  # fmt: skip
    d = res.to_dict()
    ess_rows = [
        {"prior": "Beta mixture (MAP)", **{k: f"{v:.1f}" for k, v in d["ess"].items() if v}},
        {"prior": f"robust (w = {robust_weight:g})",
         **{k: f"{v:.1f}" for k, v in d["robust_ess"].items() if v}},
    ]  # fmt: skip
    ess = html_table(
        ess_rows,
        ["prior", "moment", "elir"],
        headers={"moment": "ESS (moment)", "elir": "ESS (ELIR)"},
        caption=f"Effective sample size; mixture within {d['mixture_total_variation']:.4f} "
        "total variation of the exact MAP prior",
    )
    note = (
        f"MAP prior for {endpoint.upper()} at {horizon_years:g} years, {population}: "
        f"binomial-normal model, mu ~ {d['model']['mu_prior']}, tau ~ {d['model']['tau_prior']}"
        " (logit scale), computed by quadrature. Later horizons are used as a lower bound when "
        "the horizon is not reported (see 'conversion'). Research only."
    )
    body = (
        f'<p class="note">{html.escape(note)}</p>'
        f"{_forest(res, horizon_years)}{_densities(res)}"
        f"{ess}{_oc_table(des)}{_sources_table(res)}"
    )
    return ReportSection("design-borrowing", "Borrowing from history", body)
