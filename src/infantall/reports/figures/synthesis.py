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
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

from infantall.reports.figures.forest import ForestRow, PooledRow, forest
from infantall.reports.figures.style import (
    FONT_SIZE,
    GREY,
    colour,
    new_figure,
    styled,
)
from infantall.synthesis.metareg import MetaRegression
from infantall.synthesis.pool import PooledProportion
from infantall.synthesis.smallstudy import egger_test
from infantall.synthesis.transforms import back_transform

__all__ = ["bubble_plot", "efs_over_time_plot", "forest_plot", "funnel_plot"]

_LABEL_ALL = 15
"""Up to this many trials, the EFS-over-time figure labels every trial ..."""
_LABEL_MIN_N = 40
"""... beyond it, only trials with at least this many infants (the rest stay unlabelled)."""


def forest_plot(result: PooledProportion, *, title: str | None = None, xlabel: str = "%") -> Figure:
    """Forest plot: study estimates with CIs (square area ∝ weight), pooled diamond, PI.

    The right-hand columns give each estimate with its CI and its weight in the model
    (drawn by the one forest plot, :func:`infantall.reports.figures.forest.forest`).
    """
    table = result.study_table
    rows = [
        ForestRow(
            f"{row['study']} ({row['n']:.0f})",
            float(row["percent"]),
            float(row["ci_low_pct"]),
            float(row["ci_high_pct"]),
            weight=float(row["weight_pct"]),
            annotation=f"{row['percent']:.1f} [{row['ci_low_pct']:.1f}, {row['ci_high_pct']:.1f}]",
            extra=f"{row['weight_pct']:.1f}%",
        )
        for _, row in table.iterrows()
    ]
    fixed = result.method.value == "fe"
    pooled = PooledRow(
        f"{'FE model' if fixed else 'RE model'} (k={result.k}, N={result.n_total:.0f})",
        result.estimate_pct,
        result.ci_low_pct,
        result.ci_high_pct,
        annotation=(
            f"{result.estimate_pct:.1f} [{result.ci_low_pct:.1f}, {result.ci_high_pct:.1f}]"
        ),
        interval=None if fixed else (result.pi_low_pct, result.pi_high_pct),
        interval_annotation=f"[{result.pi_low_pct:.1f}, {result.pi_high_pct:.1f}]",
    )
    lo = min(float(table["ci_low_pct"].min()), result.pi_low_pct)
    hi = max(float(table["ci_high_pct"].max()), result.pi_high_pct)
    fit = result.fit
    het = (
        f"τ² = {fit.tau2:.3g}, I² = {fit.i2:.0f}%, Q = {fit.qe:.2f} (df {fit.qe_df}, "
        f"p = {fit.qe_p:.3g}); {result.method.label}, {result.transform.value} scale"
    )
    return forest(
        rows,
        pooled=pooled,
        reference=result.estimate_pct,
        xlabel=xlabel,
        xlim=(max(0.0, lo - 5.0), min(100.0, hi + 5.0)),
        headers=("Study (N)", "Estimate [95% CI]", "Weight"),
        title=title,
        footnote=het,
    )


@styled
def funnel_plot(result: PooledProportion, *, title: str | None = None) -> Figure:
    """Funnel plot on the pooling scale: estimate vs standard error, with the 95% pseudo-CI
    triangle around the pooled estimate (metafor ``funnel``)."""
    eff = result.effects
    se = np.sqrt(eff.vi)
    centre = float(result.fit.beta[0])
    fig = new_figure("square")
    ax = fig.add_subplot()
    top = float(se.max()) * 1.1
    grid = np.linspace(0.0, top, 50)
    ax.fill_betweenx(grid, centre - 1.96 * grid, centre + 1.96 * grid, color="#eeeeee")
    ax.plot(centre - 1.96 * grid, grid, color=GREY, lw=0.8, ls="--")
    ax.plot(centre + 1.96 * grid, grid, color=GREY, lw=0.8, ls="--")
    ax.axvline(centre, color="black", lw=1)
    ax.scatter(eff.yi, se, color=colour(0), zorder=3)
    for x, y, label in zip(eff.yi, se, eff.study, strict=True):
        ax.annotate(
            label, (x, y), xytext=(4, 2), textcoords="offset points", fontsize=FONT_SIZE - 2
        )
    ax.set_ylim(top, 0.0)
    if result.k >= 3:
        egger = egger_test(result)
        ax.text(
            0.02,
            0.02,
            f"Egger regression test: z = {egger.statistic:.2f}, p = {egger.p:.3g} (k = {egger.k})",
            transform=ax.transAxes,
            fontsize=FONT_SIZE - 1,
            color=GREY,
        )
    ax.set_xlabel(f"{eff.transform.value}-transformed proportion")
    ax.set_ylabel("Standard error")
    ax.set_title(title or "Funnel plot")
    return fig


@styled
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
    fig = new_figure((7.0, 5.0))
    ax = fig.add_subplot()
    grid = np.linspace(x.min() - 0.5, x.max() + 0.5, 100)
    pred = reg.predict_percent(np.column_stack([np.ones_like(grid), grid]))
    ax.fill_between(
        grid,
        pred["ci_low_pct"],
        pred["ci_high_pct"],
        color=colour(0),
        alpha=0.15,
        label="95% CI of the fit",
    )
    ax.plot(grid, pred["pred_pct"], color=colour(0), lw=1.5, label="meta-regression fit")
    ax.scatter(x, pct, s=600.0 * w / w.max(), facecolor="none", edgecolor="black", zorder=3)
    labels = [
        ax.annotate(
            label, (xi, yi), xytext=(6, 4), textcoords="offset points", fontsize=FONT_SIZE - 2
        )
        for xi, yi, label in zip(x, pct, study, strict=True)
    ]
    coef = reg.coefficients.iloc[1]
    ax.set_title(title or f"Meta-regression on {moderator}")
    ax.text(
        0.01,
        0.02,
        f"slope {coef['estimate']:.3g}/unit ({reg.effects.transform.value} scale), "
        f"p = {coef['p']:.3g}; R² = {reg.r2_pct:.0f}%",
        transform=ax.transAxes,
        fontsize=FONT_SIZE - 1,
        color=GREY,
    )
    ax.set_xlabel(moderator)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.legend(loc="upper left", fontsize=FONT_SIZE - 1, frameon=False)
    _declutter(fig, labels)
    return fig


def _percent_from_effects(reg: MetaRegression) -> np.ndarray:
    eff = reg.effects
    return back_transform(eff.yi, eff.transform, eff.effective_n) * 100.0


@styled
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
    fig = new_figure((9.0, 5.5))
    ax = fig.add_subplot()
    labels: list[Annotation] = []
    kinds = sorted(studies[colour_by].astype(str).unique())
    for i, kind in enumerate(kinds):
        sub = studies[studies[colour_by].astype(str) == kind]
        colour_i = colour(i)
        mid = (sub["accrual_start"] + sub["accrual_end"]) / 2.0
        ax.hlines(
            sub["percent"],
            sub["accrual_start"],
            sub["accrual_end"],
            color=colour_i,
            lw=2,
            alpha=0.6,
        )
        ax.scatter(
            mid,
            sub["percent"],
            s=sub["n"].astype(float),
            color=colour_i,
            alpha=0.7,
            edgecolor="black",
            label=kind,
            zorder=3,
        )
        for x, y, label, n in zip(mid, sub["percent"], sub["study"], sub["n"], strict=True):
            if len(studies) <= _LABEL_ALL or float(n) >= _LABEL_MIN_N:
                labels.append(
                    ax.annotate(
                        label,
                        (x, y),
                        xytext=(4, 5),
                        textcoords="offset points",
                        fontsize=FONT_SIZE - 2.5,
                    )
                )
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
    ax.legend(loc="upper left", fontsize=FONT_SIZE - 1, frameon=False)
    _declutter(fig, labels)
    return fig


def _declutter(fig: Figure, labels: Sequence[Annotation], pad_px: float = 1.5) -> None:
    """Move study labels so that no label's box overlaps another text of the figure.

    The layout is computed once and then frozen (so moving labels does not move the axes);
    each label, left to right, keeps its place if free, else tries one line up, one down, two
    up, ... beside its marker, then the same on the marker's left side. Boxes are the
    rendered text extents (matplotlib has no label-repelling layout).
    """
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    ours = {id(t) for t in labels}
    placed = [
        t.get_window_extent(renderer)
        for t in fig.findobj(Text)
        if id(t) not in ours and t.get_visible() and t.get_text().strip() and _drawn(t)
    ]
    for label in sorted(labels, key=lambda t: (t.xy[0], t.xy[1])):
        ox, oy = label.xyann
        line_pt = label.get_window_extent(renderer).height * 72.0 / fig.dpi + 1.0
        box = _free_place(label, renderer, placed, (ox, oy, line_pt), pad_px)
        placed.append(box)


def _drawn(t: Text) -> bool:
    """Whether a text is drawn: tick labels only for ticks inside the view."""
    axes = t.axes
    if axes is None or t in axes.texts or t.get_text() == "":
        return True
    for axis, lim in ((axes.xaxis, axes.get_xlim()), (axes.yaxis, axes.get_ylim())):
        if t in axis.get_ticklabels():
            lo, hi = sorted(lim)
            pos = t.get_position()[0 if axis is axes.xaxis else 1]
            return bool(lo <= pos <= hi)
    return True


def _free_place(
    label: Annotation,
    renderer: RendererBase,
    placed: list[Bbox],
    offsets: tuple[float, float, float],
    pad_px: float,
) -> Bbox:
    ox, oy, line_pt = offsets
    box = label.get_window_extent(renderer)
    for side in (1.0, -1.0):
        label.set_horizontalalignment("left" if side > 0 else "right")
        for step in range(31):
            shift = (step + 1) // 2 * line_pt * (1 if step % 2 else -1)
            label.xyann = (side * ox, oy + shift)
            box = label.get_window_extent(renderer)
            grown = box.expanded(1.0, 1.0).padded(pad_px)
            if not any(grown.overlaps(b) for b in placed):
                return box
    label.xyann = (ox, oy)
    label.set_horizontalalignment("left")
    return label.get_window_extent(renderer)
