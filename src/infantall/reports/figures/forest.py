"""The one forest plot of infantall: rows of an estimate with its CI, an optional pooled
diamond and prediction interval, and the numbers written beside (metafor ``forest`` layout).

Used for hazard ratios of a Cox or Fine–Gray model
(:func:`infantall.reports.figures.survival.plot_forest`) and for pooled proportions of a
meta-analysis (:func:`infantall.reports.figures.synthesis.forest_plot`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.ticker import FuncFormatter, NullFormatter

from infantall.reports.figures.style import (
    FONT_SIZE,
    GREY,
    SIZES,
    colour,
    new_figure,
    style_context,
)

__all__ = ["ForestRow", "PooledRow", "forest"]

#: Log-scale ticks offered for ratios (those inside the data's range are drawn).
_RATIO_TICKS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20)
#: Horizontal positions (axes fraction) of the label column and the two number columns.
_LABEL_X, _TEXT_X, _EXTRA_X = -0.02, 1.02, 1.42


@dataclass(frozen=True, slots=True)
class ForestRow:
    """One row: ``estimate`` with CI [``lower``, ``upper``]; ``weight`` scales the square;
    ``annotation`` (default ``est (lower-upper)``) and ``extra`` are written on the right."""

    label: str
    estimate: float
    lower: float
    upper: float
    weight: float | None = None
    annotation: str | None = None
    extra: str = ""

    def text(self) -> str:
        """The right-hand numbers."""
        if self.annotation is not None:
            return self.annotation
        return f"{self.estimate:.2f} ({self.lower:.2f}-{self.upper:.2f})"


@dataclass(frozen=True, slots=True)
class PooledRow:
    """The pooled estimate (a diamond) and, optionally, its prediction interval."""

    label: str
    estimate: float
    lower: float
    upper: float
    annotation: str
    interval: tuple[float, float] | None = None
    interval_label: str = "Prediction interval"
    interval_annotation: str = ""


def forest(
    rows: Sequence[ForestRow],
    *,
    pooled: PooledRow | None = None,
    log_scale: bool = False,
    reference: float | None = None,
    xlabel: str = "",
    xlim: tuple[float, float] | None = None,
    headers: tuple[str, str, str] | None = None,
    title: str | None = None,
    footnote: str | None = None,
) -> Figure:
    """Forest plot of ``rows`` (top to bottom) with ``pooled`` at the bottom.

    ``reference`` draws a vertical line (1 for ratios, the pooled estimate for pools);
    ``headers`` names the label column and the two number columns.
    """
    k = len(rows)
    base = 1.5 if pooled is not None else 0.0
    height = 1.2 + 0.3 * (k + 3 if pooled is not None else k + 1.5)
    with style_context():
        fig = new_figure((SIZES["wide"][0], height), layout="none")
        bottom, top = 0.85 / height, 0.55 / height  # fixed margins in inches, whatever k is
        ax = fig.add_axes((0.28, bottom, 0.44, 1.0 - bottom - top))
        ys = np.arange(k, 0, -1) + base
        _draw_rows(ax, rows, ys)
        if pooled is not None:
            _draw_pooled(ax, pooled)
        if reference is not None:
            ax.axvline(reference, color=GREY, ls=":", lw=1)
        ax.set_ylim(-0.2 if pooled is not None else 0.3, k + base + 0.8)
        _x_axis(ax, rows, pooled, log_scale, xlim)
        ax.set_xlabel(xlabel)
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        if headers is not None:
            _headers(ax, headers, k + base + 0.4)
        if footnote:
            fig.text(0.02, 0.1 / height, footnote, fontsize=FONT_SIZE - 1, color=GREY)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=FONT_SIZE + 2, weight="bold")
    return fig


def _draw_rows(ax: Any, rows: Sequence[ForestRow], ys: Any) -> None:
    weights = [r.weight for r in rows if r.weight is not None]
    wmax = max(weights) if weights else None
    trans = ax.get_yaxis_transform()
    for y, r in zip(ys, rows, strict=True):
        ax.plot([r.lower, r.upper], [y, y], color="black", lw=1)
        size = 5.0 if r.weight is None or not wmax else 4.0 + 10.0 * np.sqrt(r.weight / wmax)
        ax.plot(r.estimate, y, marker="s", ms=size, color=colour(0), ls="none")
        ax.text(_LABEL_X, y, r.label, transform=trans, ha="right", va="center")
        ax.text(_TEXT_X, y, r.text(), transform=trans, ha="left", va="center")
        if r.extra:
            ax.text(_EXTRA_X, y, r.extra, transform=trans, ha="left", va="center")


def _draw_pooled(ax: Any, p: PooledRow) -> None:
    y0 = 0.8
    corners = [(p.lower, y0), (p.estimate, y0 + 0.35), (p.upper, y0), (p.estimate, y0 - 0.35)]
    ax.add_patch(Polygon(corners, closed=True, color="black"))
    trans = ax.get_yaxis_transform()
    ax.text(_LABEL_X, y0, p.label, transform=trans, ha="right", va="center", weight="bold")
    ax.text(_TEXT_X, y0, p.annotation, transform=trans, ha="left", va="center", weight="bold")
    if p.interval is None:
        return
    y1 = y0 - 0.6
    ax.plot(list(p.interval), [y1, y1], color=GREY, lw=2.5)
    ax.text(_LABEL_X, y1, p.interval_label, transform=trans, ha="right", va="center", color=GREY)
    ax.text(_TEXT_X, y1, p.interval_annotation, transform=trans, ha="left", va="center", color=GREY)


def _x_axis(
    ax: Any,
    rows: Sequence[ForestRow],
    pooled: PooledRow | None,
    log_scale: bool,
    xlim: tuple[float, float] | None,
) -> None:
    if xlim is not None:
        ax.set_xlim(*xlim)
    if not log_scale:
        return
    ax.set_xscale("log")
    lows = [r.lower for r in rows] + ([pooled.lower] if pooled is not None else [])
    highs = [r.upper for r in rows] + ([pooled.upper] if pooled is not None else [])
    lo, hi = float(np.nanmin(lows)), float(np.nanmax(highs))
    ax.set_xticks([v for v in _RATIO_TICKS if lo / 1.5 <= v <= hi * 1.5])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _headers(ax: Any, headers: tuple[str, str, str], y: float) -> None:
    trans = ax.get_yaxis_transform()
    for x, text, ha in zip(
        (_LABEL_X, _TEXT_X, _EXTRA_X), headers, ("right", "left", "left"), strict=True
    ):
        if text:
            ax.text(x, y, text, transform=trans, ha=ha, weight="bold")
