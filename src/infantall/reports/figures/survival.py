"""Publication figures: Kaplan–Meier with risk table, cumulative incidence (stacked causes,
or one cause by group), forest plot of hazard ratios, Simon–Makuch curves.

Figures are built on :class:`matplotlib.figure.Figure` objects (no pyplot global state) in
the house style (:mod:`infantall.reports.figures.style`) and saved as PNG, SVG or PDF with
:func:`save_figure`. Layout follows the conventions of survminer's
``ggsurvplot`` (risk table aligned under the time axis) that journals expect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from infantall.errors import InvalidInputError
from infantall.outcomes.competing import CumulativeIncidenceResult
from infantall.outcomes.cox import CoxResult
from infantall.outcomes.finegray import FineGrayResult
from infantall.outcomes.km import KaplanMeierResult, SurvivalCurves
from infantall.reports.figures.forest import ForestRow, forest
from infantall.reports.figures.style import (
    DPI_PRINT,
    FONT_SIZE,
    SIZES,
    colour,
    new_figure,
    style_context,
)

__all__ = [
    "plot_cif",
    "plot_cif_stacked",
    "plot_forest",
    "plot_km",
    "plot_simon_makuch",
    "save_figure",
]

#: Suffixes :func:`save_figure` writes (PNG at :data:`~.style.DPI_PRINT`).
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def _steps(km: KaplanMeierResult, scale: float) -> tuple[np.ndarray, ...]:
    t = np.concatenate([[0.0], km.time]) / scale
    s = np.concatenate([[1.0], km.survival])
    lo = np.concatenate([[1.0], km.lower])
    hi = np.concatenate([[1.0], km.upper])
    return t, s, lo, hi


def _ticks(curves: Sequence[KaplanMeierResult], scale: float, n: int = 6) -> np.ndarray:
    tmax = max(float(c.time.max()) for c in curves) / scale
    step = _nice_step(tmax / (n - 1))
    return np.arange(0.0, tmax + 1e-9, step)


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    mag = 10 ** np.floor(np.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw * 0.75 <= m * mag:
            return float(m * mag)
    return float(10 * mag)


def plot_km(
    curves: SurvivalCurves | KaplanMeierResult,
    *,
    ci: bool = True,
    risk_table: bool = True,
    time_unit: str = "years",
    time_scale: float = 365.25,
    ylabel: str = "Event-free survival",
    title: str | None = None,
    show_censored: bool = True,
    percent: bool = True,
    annotation: str | None = None,
    xlabel: str | None = None,
) -> Figure:
    """Kaplan–Meier curves with pointwise CI bands and a number-at-risk table.

    A group without follow-up (every time 0) draws no curve; the legend says so.

    ``time_scale`` divides the stored times (days) for the axis: 365.25 for years,
    30.44 for months, 1 for days. ``annotation`` (e.g. a log-rank p-value) is printed in
    the lower left. ``ylabel`` gets `` (%)`` appended; ``xlabel`` defaults to
    ``Time since diagnosis (<time_unit>)``.
    """
    xlabel = xlabel or f"Time since diagnosis ({time_unit})"
    cs = (curves,) if isinstance(curves, KaplanMeierResult) else curves.curves
    ticks = _ticks(cs, time_scale)
    width, height = SIZES["panel"]
    with style_context():
        fig = new_figure((width, height + 0.8 if risk_table else height))
        if risk_table:
            gs = fig.add_gridspec(2, 1, height_ratios=[4, 0.35 + 0.22 * len(cs)])
            ax = fig.add_subplot(gs[0])
            tab = fig.add_subplot(gs[1], sharex=ax)
        else:
            ax = fig.add_subplot(1, 1, 1)
        mult = 100.0 if percent else 1.0
        for i, km in enumerate(cs):
            color = colour(i)
            if not km.time.size or float(km.time.max()) <= 0:
                # zero follow-up: nothing to draw (a line at t = 0 would read as a result)
                ax.plot([], [], color=color, lw=0, label=f"{km.label} (n={km.n}, no follow-up)")
                continue
            t, s, lo, hi = _steps(km, time_scale)
            ax.step(
                t,
                s * mult,
                where="post",
                color=color,
                lw=1.6,
                label=f"{km.label} (n={km.n}, events={km.n_events})",
            )
            if ci:
                ax.fill_between(
                    t,
                    np.nan_to_num(lo, nan=0.0) * mult,
                    np.nan_to_num(hi, nan=1.0) * mult,
                    step="post",
                    color=color,
                    alpha=0.15,
                    lw=0,
                )
            if show_censored:
                cens = km.n_censor > 0
                ax.plot(
                    km.time[cens] / time_scale,
                    km.survival[cens] * mult,
                    "|",
                    color=color,
                    ms=5,
                    mew=1,
                )
        ax.set_ylim(0, 1.02 * mult)
        ax.set_xlim(0, ticks[-1] * 1.02 if ticks[-1] > 0 else 1)
        ax.set_xticks(ticks)
        ax.set_ylabel(f"{ylabel} ({'%' if percent else 'probability'})")
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.legend(loc="upper right", frameon=False)
        if title:
            ax.set_title(title, loc="left")
        if annotation:
            ax.text(0.02, 0.04, annotation, transform=ax.transAxes, fontsize=FONT_SIZE - 1)
        if risk_table:
            counts = {km.label: km.n_at_risk(ticks * time_scale) for km in cs}
            _risk_table(tab, counts, ticks)
            tab.set_xlabel(xlabel)
        else:
            ax.set_xlabel(xlabel)
    return fig


def _risk_table(ax: Any, counts: Mapping[str, Any], ticks: np.ndarray) -> None:
    """Numbers at risk (``counts``: label -> count at each tick) under the time axis."""
    labels = list(counts)
    ax.set_ylim(-0.5, len(labels) - 0.5)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(list(reversed(labels)), fontsize=FONT_SIZE - 1)
    for lbl, i in zip(ax.get_yticklabels(), range(len(labels)), strict=True):
        lbl.set_color(colour(len(labels) - 1 - i))
    for i, label in enumerate(labels):
        row = len(labels) - 1 - i
        for x, v in zip(ticks, counts[label], strict=True):
            ax.text(x, row, f"{int(v)}", ha="center", va="center", fontsize=FONT_SIZE - 1)
    ax.set_title("Number at risk", loc="left", fontsize=FONT_SIZE - 1)
    ax.tick_params(axis="y", length=0, pad=16)
    for side in ("left", "top", "right"):
        ax.spines[side].set_visible(False)


def plot_cif_stacked(
    result: CumulativeIncidenceResult,
    *,
    group: str = "all",
    cause_labels: Mapping[int, str] | None = None,
    time_unit: str = "years",
    time_scale: float = 365.25,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str = "Cumulative incidence",
) -> Figure:
    """Stacked cumulative incidence (e.g. relapse, then death in CR on top of it).

    The top of the stack is 1 - KM (all causes), so the white area above is the probability
    of being alive in remission. ``ylabel`` gets `` (%)`` appended.
    """
    curves = [c for c in result.curves if c.group == group]
    if not curves:
        raise InvalidInputError("group", f"{group!r} is not a group of the result", "bad_option")
    labels = {1: "Relapse", 2: "Death in CR"} | dict(cause_labels or {})
    with style_context():
        fig = new_figure("panel")
        ax = fig.add_subplot(1, 1, 1)
        t = np.concatenate([[0.0], curves[0].time]) / time_scale
        base = np.zeros_like(t)
        for i, c in enumerate(curves):
            f = np.concatenate([[0.0], c.estimate]) * 100
            color = colour(i)
            ax.fill_between(
                t,
                base,
                base + f,
                step="post",
                color=color,
                alpha=0.55,
                lw=0,
                label=labels.get(c.cause, f"Cause {c.cause}"),
            )
            ax.step(t, base + f, where="post", color=color, lw=1.2)
            base = base + f
        ax.set_ylim(0, max(5.0, float(base.max()) * 1.15))
        ax.set_xlim(0, float(t.max()) if t.max() > 0 else 1)
        ax.set_xlabel(xlabel or f"Time since diagnosis ({time_unit})")
        ax.set_ylabel(f"{ylabel} (%)")
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.legend(loc="upper left", frameon=False)
        if title:
            ax.set_title(title, loc="left")
    return fig


def plot_cif(
    result: CumulativeIncidenceResult,
    *,
    cause: int = 1,
    sizes: Mapping[str, int] | None = None,
    ylabel: str = "Cumulative incidence of relapse",
    time_unit: str = "years",
    time_scale: float = 365.25,
    title: str | None = None,
    xlabel: str | None = None,
    times_by_group: Mapping[str, Any] | None = None,
    annotation: str | None = None,
) -> Figure:
    """Cumulative incidence of one ``cause`` by group, in %, one step curve per group.

    ``sizes`` (group -> patients) adds ``(n=...)`` to the legend labels. ``times_by_group``
    (group -> follow-up times, in the stored unit) adds a number-at-risk table under the
    time axis (patients with time >= t); ``annotation`` (e.g. Gray's p) is printed in the
    upper right. ``ylabel`` gets `` (%)`` appended.
    """
    curves = [c for c in result.curves if c.cause == cause]
    if not curves:
        raise InvalidInputError("cause", f"{cause!r} is not a cause of the result", "bad_option")
    xlabel = xlabel or f"Time since diagnosis ({time_unit})"
    width, height = SIZES["panel"]
    with style_context():
        if times_by_group is not None:
            fig = new_figure((width, height + 0.8))
            gs = fig.add_gridspec(2, 1, height_ratios=[4, 0.35 + 0.22 * len(curves)])
            ax = fig.add_subplot(gs[0])
            tab = fig.add_subplot(gs[1], sharex=ax)
        else:
            fig = new_figure("panel")
            ax = fig.add_subplot(1, 1, 1)
        tmax = 0.0
        for i, c in enumerate(curves):
            t = np.concatenate([[0.0], c.time]) / time_scale
            f = np.concatenate([[0.0], c.estimate]) * 100
            label = c.group if sizes is None else f"{c.group} (n={sizes.get(c.group, 0)})"
            ax.step(t, f, where="post", color=colour(i), lw=1.6, label=label)
            tmax = max(tmax, float(t.max()))
        if times_by_group is not None:
            tmax = max(tmax, *(float(np.max(v)) / time_scale for v in times_by_group.values()))
        ticks = np.arange(0.0, tmax + 1e-9, _nice_step(tmax / 5))
        ax.set_ylim(0, 100)
        ax.set_xlim(0, ticks[-1] * 1.02 if ticks[-1] > 0 else 1)
        ax.set_xticks(ticks)
        ax.set_ylabel(f"{ylabel} (%)")
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.legend(loc="upper left", frameon=False)
        if title:
            ax.set_title(title, loc="left")
        if annotation:
            ax.text(0.98, 0.96, annotation, transform=ax.transAxes, ha="right", va="top",
                    fontsize=FONT_SIZE - 1)  # fmt: skip
        if times_by_group is not None:
            counts = {
                c.group: _at_risk(times_by_group.get(c.group, ()), ticks * time_scale)
                for c in curves
            }
            _risk_table(tab, counts, ticks)
            tab.set_xlabel(xlabel)
        else:
            ax.set_xlabel(xlabel)
    return fig


def _at_risk(times: Any, at: np.ndarray) -> np.ndarray:
    """Number of ``times`` >= each of ``at`` (patients still at risk)."""
    t = np.sort(np.asarray(times, dtype=np.float64))
    return np.asarray(t.shape[0] - np.searchsorted(t, at, side="left"), dtype=np.int64)


def plot_forest(
    model: CoxResult | FineGrayResult | pd.DataFrame,
    *,
    title: str | None = None,
    xlabel: str | None = None,
) -> Figure:
    """Forest plot of hazard ratios with CIs (log scale) and the numbers written beside.

    Accepts a fitted model or a DataFrame with columns covariate, hr, hr_lower, hr_upper
    (and optionally p).
    """
    if isinstance(model, FineGrayResult):
        df = model.summary.rename(
            columns={"shr": "hr", "shr_lower": "hr_lower", "shr_upper": "hr_upper"}
        )
        xlabel = xlabel or "Subdistribution hazard ratio (95% CI)"
    elif isinstance(model, CoxResult):
        df = model.summary
    else:
        missing = {"covariate", "hr", "hr_lower", "hr_upper"} - set(model.columns)
        if missing:
            raise InvalidInputError("model", f"missing columns {sorted(missing)}", "unknown_column")
        df = model
    rows = []
    for _, r in df.iterrows():
        text = f"{r.hr:.2f} ({r.hr_lower:.2f}-{r.hr_upper:.2f})"
        if "p" in df.columns:
            text += f"  p={r.p:.3g}"
        rows.append(
            ForestRow(str(r.covariate), float(r.hr), float(r.hr_lower), float(r.hr_upper),
                      annotation=text)
        )  # fmt: skip
    return forest(
        rows,
        log_scale=True,
        reference=1.0,
        xlabel=xlabel or "Hazard ratio (95% CI)",
        title=title,
    )


@dataclass(frozen=True, slots=True)
class _DelayedEntryKM(KaplanMeierResult):
    """A Kaplan–Meier curve that knows its rows' entry and exit times, so its risk table
    counts only patients currently in the state (entry <= t <= exit)."""

    entry: np.ndarray = field(default_factory=lambda: np.zeros(0))
    exit: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def n_at_risk(self, times: Any) -> np.ndarray:
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        inside = (self.entry[None, :] <= t[:, None]) & (self.exit[None, :] >= t[:, None])
        return np.asarray(inside.sum(axis=1), dtype=np.float64)


def _sm_curve(c: KaplanMeierResult, label: str, rows: pd.DataFrame | None) -> KaplanMeierResult:
    fields = {name: getattr(c, name) for name in KaplanMeierResult.__dataclass_fields__}
    fields["label"] = label
    if rows is None:
        return KaplanMeierResult(**fields)
    entry = rows["start"].to_numpy(np.float64)
    return _DelayedEntryKM(**fields, entry=entry, exit=rows["stop"].to_numpy(np.float64))


def _start_at_entry(fig: Figure, curves: Sequence[KaplanMeierResult], scale: float) -> None:
    """Draw each delayed-entry curve from its first entry, not from time 0."""
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() != "None"]
    for line, c in zip(lines, curves, strict=False):
        if not isinstance(c, _DelayedEntryKM) or c.entry.size == 0 or c.entry.min() <= 0:
            continue
        x, y = (np.asarray(v, dtype=np.float64) for v in line.get_data())
        first = float(c.entry.min()) / scale
        keep = x >= first
        line.set_data(np.r_[first, x[keep]], np.r_[y[0], y[keep]])


def plot_simon_makuch(
    curves: SurvivalCurves,
    *,
    counting: pd.DataFrame | None = None,
    exposure: str = "hsct",
    labels: Mapping[str, str] | None = None,
    time_unit: str = "years",
    time_scale: float = 365.25,
    title: str | None = None,
    annotation: str | None = None,
) -> Figure:
    """Simon–Makuch curves (exposure state updated at HSCT) with an at-risk table.

    With the ``counting`` rows (``start, stop`` and ``exposure``) the table counts patients
    currently in each state, so the HSCT row starts at 0 at t = 0 and grows as patients are
    transplanted, and the HSCT curve starts at the first transplant.
    """
    names = {"0": "No HSCT (yet)", "1": "After HSCT"} | dict(labels or {})
    parts = []
    for c in curves.curves:
        rows = None
        if counting is not None:
            rows = counting[counting[exposure].astype(str) == c.label]
        parts.append(_sm_curve(c, names.get(c.label, c.label), rows))
    fig = plot_km(
        SurvivalCurves(tuple(parts), curves.group_name),
        time_unit=time_unit,
        time_scale=time_scale,
        title=title or "Simon-Makuch curves (HSCT as a time-dependent state)",
        annotation=annotation,
        ylabel="Event-free survival",
    )
    _start_at_entry(fig, parts, time_scale)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save as PNG (at :data:`~infantall.reports.figures.style.DPI_PRINT`), SVG or PDF,
    chosen by the suffix (vector formats for print)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise InvalidInputError(str(p), "figures are written as .png, .svg or .pdf", "bad_option")
    if not p.parent.is_dir():
        raise InvalidInputError(str(p), f"the folder {p.parent} does not exist", "unwritable_path")
    try:
        fig.savefig(p, dpi=DPI_PRINT if suffix == ".png" else None, bbox_inches="tight")
    except OSError as exc:
        reason = f"cannot write the figure ({exc.strerror or exc})"
        raise InvalidInputError(str(p), reason, "unwritable_path") from exc
    return p
