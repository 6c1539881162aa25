"""Figures of the synthesis: forest, funnel, meta-regression bubble and EFS-over-time plots.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
figure state), ready for ``fig.savefig(path)`` or
``infantall.reports.figure_to_data_uri(fig)``. Their layout follows metafor's ``forest``,
``funnel`` and ``regplot``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from infantall.synthesis.metareg import MetaRegression
from infantall.synthesis.pool import PooledProportion

__all__ = ["bubble_plot", "efs_over_time_plot", "forest_plot", "funnel_plot"]

_BLUE = "#1f4e79"
_GREY = "#6b6b6b"
_LABEL_ALL = 15
"""Up to this many trials, the EFS-over-time figure labels every trial ..."""
_LABEL_MIN_N = 40
"""... beyond it, only trials with at least this many infants (the rest stay unlabelled)."""
_COLOURS = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6")


def forest_plot(result: PooledProportion, *, title: str | None = None, xlabel: str = "%") -> Figure:
    """Forest plot: study estimates with CIs (square area ∝ weight), pooled diamond, PI.

    The right-hand columns give each estimate with its CI and its weight in the model.
    """
    table = result.study_table
    k = len(table)
    height = 1.7 + 0.3 * (k + 3)
    fig = Figure(figsize=(9.0, height))
    bottom, top = 0.85 / height, 0.55 / height  # fixed margins in inches, whatever k is
    ax = fig.add_axes((0.28, bottom, 0.44, 1.0 - bottom - top))
    ys = np.arange(k, 0, -1) + 1.5
    wmax = float(table["weight_pct"].max())
    for y, (_, row) in zip(ys, table.iterrows(), strict=True):
        ax.plot([row["ci_low_pct"], row["ci_high_pct"]], [y, y], color="black", lw=1)
        size = 4.0 + 10.0 * np.sqrt(row["weight_pct"] / wmax)
        ax.plot(row["percent"], y, marker="s", ms=size, color=_BLUE, ls="none")
    y0 = 0.8
    diamond = Polygon(
        [
            (result.ci_low_pct, y0),
            (result.estimate_pct, y0 + 0.35),
            (result.ci_high_pct, y0),
            (result.estimate_pct, y0 - 0.35),
        ],
        closed=True,
        color="black",
    )
    ax.add_patch(diamond)
    if result.method.value != "fe":
        ax.plot([result.pi_low_pct, result.pi_high_pct], [y0 - 0.6, y0 - 0.6], color=_GREY, lw=2.5)
    ax.axvline(result.estimate_pct, color=_GREY, ls=":", lw=1)
    ax.set_ylim(-0.2, k + 2.3)
    lo = min(float(table["ci_low_pct"].min()), result.pi_low_pct)
    hi = max(float(table["ci_high_pct"].max()), result.pi_high_pct)
    ax.set_xlim(max(0.0, lo - 5.0), min(100.0, hi + 5.0))
    ax.set_yticks([])
    ax.set_xlabel(xlabel)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    trans = ax.get_yaxis_transform()
    ax.text(-0.02, k + 1.9, "Study (N)", transform=trans, ha="right", weight="bold")
    ax.text(1.02, k + 1.9, "Estimate [95% CI]", transform=trans, ha="left", weight="bold")
    ax.text(1.42, k + 1.9, "Weight", transform=trans, ha="left", weight="bold")
    for y, (_, row) in zip(ys, table.iterrows(), strict=True):
        ax.text(
            -0.02, y, f"{row['study']} ({row['n']:.0f})", transform=trans, ha="right", va="center"
        )
        ax.text(
            1.02,
            y,
            f"{row['percent']:.1f} [{row['ci_low_pct']:.1f}, {row['ci_high_pct']:.1f}]",
            transform=trans,
            ha="left",
            va="center",
        )
        ax.text(1.42, y, f"{row['weight_pct']:.1f}%", transform=trans, ha="left", va="center")
    pooled_label = "FE model" if result.method.value == "fe" else "RE model"
    ax.text(
        -0.02,
        y0,
        f"{pooled_label} (k={result.k}, N={result.n_total:.0f})",
        transform=trans,
        ha="right",
        va="center",
        weight="bold",
    )
    ax.text(
        1.02,
        y0,
        f"{result.estimate_pct:.1f} [{result.ci_low_pct:.1f}, {result.ci_high_pct:.1f}]",
        transform=trans,
        ha="left",
        va="center",
        weight="bold",
    )
    if result.method.value != "fe":
        ax.text(
            -0.02,
            y0 - 0.6,
            "Prediction interval",
            transform=trans,
            ha="right",
            va="center",
            color=_GREY,
        )
        ax.text(
            1.02,
            y0 - 0.6,
            f"[{result.pi_low_pct:.1f}, {result.pi_high_pct:.1f}]",
            transform=trans,
            ha="left",
            va="center",
            color=_GREY,
        )
    fit = result.fit
    het = (
        f"τ² = {fit.tau2:.3g}, I² = {fit.i2:.0f}%, Q = {fit.qe:.2f} (df {fit.qe_df}, "
        f"p = {fit.qe_p:.3g}); {result.method.label}, {result.transform.value} scale"
    )
    fig.text(0.02, 0.1 / height, het, fontsize=8, color=_GREY)
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontsize=11, weight="bold")
    return fig


def funnel_plot(result: PooledProportion, *, title: str | None = None) -> Figure:
    """Funnel plot on the pooling scale: estimate vs standard error, with the 95% pseudo-CI
    triangle around the pooled estimate (metafor ``funnel``)."""
    eff = result.effects
    se = np.sqrt(eff.vi)
    centre = float(result.fit.beta[0])
    fig = Figure(figsize=(6.0, 5.0))
    ax = fig.add_subplot()
    top = float(se.max()) * 1.1
    grid = np.linspace(0.0, top, 50)
    ax.fill_betweenx(grid, centre - 1.96 * grid, centre + 1.96 * grid, color="#eeeeee")
    ax.plot(centre - 1.96 * grid, grid, color=_GREY, lw=0.8, ls="--")
    ax.plot(centre + 1.96 * grid, grid, color=_GREY, lw=0.8, ls="--")
    ax.axvline(centre, color="black", lw=1)
    ax.scatter(eff.yi, se, color=_BLUE, zorder=3)
    for x, y, label in zip(eff.yi, se, eff.study, strict=True):
        ax.annotate(label, (x, y), xytext=(4, 2), textcoords="offset points", fontsize=7)
    ax.set_ylim(top, 0.0)
    if result.k >= 3:
        from infantall.synthesis.smallstudy import egger_test

        egger = egger_test(result)
        ax.text(
            0.02,
            0.02,
            f"Egger regression test: z = {egger.statistic:.2f}, p = {egger.p:.3g} (k = {egger.k})",
            transform=ax.transAxes,
            fontsize=8,
            color=_GREY,
        )
    ax.set_xlabel(f"{eff.transform.value}-transformed proportion")
    ax.set_ylabel("Standard error")
    ax.set_title(title or "Funnel plot")
    return fig


def bubble_plot(
    reg: MetaRegression,
    moderator: str,
    study: Sequence[str],
    *,
    title: str | None = None,
    ylabel: str = "%",
) -> Figure:
    """Bubble plot of a one-moderator meta-regression (metafor ``regplot``): percentages
    against the moderator, bubble area ∝ model weight, fitted line with CI band."""
    x = reg.moderators[moderator].to_numpy(dtype=float)
    pct = _percent_from_effects(reg)
    w = reg.fit.weights
    fig = Figure(figsize=(7.0, 5.0))
    ax = fig.add_subplot()
    grid = np.linspace(x.min() - 0.5, x.max() + 0.5, 100)
    pred = reg.predict_percent(np.column_stack([np.ones_like(grid), grid]))
    ax.fill_between(
        grid,
        pred["ci_low_pct"],
        pred["ci_high_pct"],
        color=_BLUE,
        alpha=0.15,
        label="95% CI of the fit",
    )
    ax.plot(grid, pred["pred_pct"], color=_BLUE, lw=1.5, label="meta-regression fit")
    ax.scatter(x, pct, s=600.0 * w / w.max(), facecolor="none", edgecolor="black", zorder=3)
    for xi, yi, label in zip(x, pct, study, strict=True):
        ax.annotate(label, (xi, yi), xytext=(6, 4), textcoords="offset points", fontsize=7)
    coef = reg.coefficients.iloc[1]
    ax.set_title(title or f"Meta-regression on {moderator}")
    ax.text(
        0.01,
        0.02,
        f"slope {coef['estimate']:.3g}/unit ({reg.effects.transform.value} scale), "
        f"p = {coef['p']:.3g}; R² = {reg.r2_pct:.0f}%",
        transform=ax.transAxes,
        fontsize=8,
        color=_GREY,
    )
    ax.set_xlabel(moderator)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return fig


def _percent_from_effects(reg: MetaRegression) -> np.ndarray:
    from infantall.synthesis.transforms import back_transform

    eff = reg.effects
    return back_transform(eff.yi, eff.transform, eff.effective_n) * 100.0


def efs_over_time_plot(
    studies: pd.DataFrame,
    reg: MetaRegression | None = None,
    *,
    colour_by: str = "protocol_type",
    title: str = "EFS of infant ALL trials over calendar time",
    ylabel: str = "EFS (%)",
) -> Figure:
    """Each trial's estimate drawn across its accrual period, marker area ∝ N, colour by
    ``colour_by``; with ``reg`` (a meta-regression on accrual mid-year), the pooled trend.

    ``studies`` needs the columns study, accrual_start, accrual_end, n, percent and
    ``colour_by``.
    """
    fig = Figure(figsize=(9.0, 5.5))
    ax = fig.add_subplot()
    kinds = sorted(studies[colour_by].astype(str).unique())
    for i, kind in enumerate(kinds):
        sub = studies[studies[colour_by].astype(str) == kind]
        colour = _COLOURS[i % len(_COLOURS)]
        mid = (sub["accrual_start"] + sub["accrual_end"]) / 2.0
        ax.hlines(
            sub["percent"],
            sub["accrual_start"],
            sub["accrual_end"],
            color=colour,
            lw=2,
            alpha=0.6,
        )
        ax.scatter(
            mid,
            sub["percent"],
            s=sub["n"].astype(float),
            color=colour,
            alpha=0.7,
            edgecolor="black",
            label=kind,
            zorder=3,
        )
        for x, y, label, n in zip(mid, sub["percent"], sub["study"], sub["n"], strict=True):
            if len(studies) <= _LABEL_ALL or float(n) >= _LABEL_MIN_N:
                ax.annotate(label, (x, y), xytext=(4, 5), textcoords="offset points", fontsize=6.5)
    if reg is not None:
        years = reg.moderators.iloc[:, 0].to_numpy(dtype=float)
        grid = np.linspace(years.min(), years.max(), 100)
        pred = reg.predict_percent(np.column_stack([np.ones_like(grid), grid]))
        ax.fill_between(grid, pred["ci_low_pct"], pred["ci_high_pct"], color="black", alpha=0.1)
        coef = reg.coefficients.iloc[1]
        ax.plot(
            grid,
            pred["pred_pct"],
            color="black",
            lw=1.5,
            label=f"pooled trend (slope p = {coef['p']:.2g})",
        )
    ax.set_xlabel("Accrual period (marker at mid-year; area ∝ N)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return fig
