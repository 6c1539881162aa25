"""The evidence figure: survival of each trial against its accrual years.

Redraws the idea of seed 004's Figure 1 ("the roller coaster journey of infant ALL") from
the curated data instead of a picture: for every trial row of the seeds' tables, the EFS (top
panel) and OS (bottom panel) estimate is drawn as a horizontal segment over the accrual period
with a marker at its middle; marker area grows with N, colour is the study group, and the
marker shape separates childhood protocols, infant-specific protocols (all infants) and
infant-specific results for KMT2A-rearranged infants (seed 000 Table 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

from infantall.evidence import Evidence
from infantall.reports.figures.style import FONT_SIZE, GREY, new_figure, style_context

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CATEGORY_MARKERS", "evidence_figure", "figure_points", "place_labels"]

CATEGORY_MARKERS: dict[str, tuple[str, str]] = {
    "childhood": ("^", "childhood ALL protocol, all infants\n(seed 004 Table 1)"),
    "infant-specific": ("o", "infant-specific protocol, all infants\n(seed 004 Table 2)"),
    "infant-specific, KMT2A-r": ("D", "infant-specific protocol, KMT2A-r\n(seed 000 Table 1)"),
}
"""Marker and legend text of each plotted category."""

_PANELS: dict[str, tuple[str, ...]] = {"efs": ("efs", "dfs"), "os": ("os",)}
_SIZE_PER_PATIENT = 0.9  # marker area (pt^2) per patient: N 483 -> ~435 pt^2
_MIN_SIZE = 14.0
X_LIMITS = (1976.0, 2025.0)
_TITLE = "Infant ALL trials: survival by accrual era (seed 004 Tables 1–2, seed 000 Table 1)"


def figure_points(evidence: Evidence, panel: str) -> pd.DataFrame:
    """The points of one panel (``"efs"`` or ``"os"``): table rows with accrual years.

    The EFS panel also shows DFS where a table prints DFS instead (seed 004 Table 1 footnote d,
    the asterisk of seed 000 Table 1); the ``endpoint`` column says which.
    """
    import pandas as pd

    if panel not in _PANELS:
        raise ValueError(f"panel must be 'efs' or 'os', not {panel!r}")
    df = evidence.frame
    keep = (
        df["source_location"].str.startswith("Table")
        & df["endpoint"].isin(_PANELS[panel])
        & df["population"].isin(["all", "kmt2a_r"])
        & df["accrual_start"].notna()
        & df["estimate_pct"].notna()
    )
    pts = df.loc[keep].copy()
    end = pts["accrual_end"].fillna(pts["accrual_start"])
    pts["x_start"] = pts["accrual_start"].astype("float64")
    # A year span "1982–1987" covers the whole of both years.
    pts["x_end"] = end.astype("float64") + 1.0
    pts["x_mid"] = (pts["x_start"] + pts["x_end"]) / 2.0
    pts["category"] = [
        "infant-specific, KMT2A-r" if pop == "kmt2a_r" else ptype
        for pop, ptype in zip(pts["population"], pts["protocol_type"], strict=True)
    ]
    pts["size"] = (pts["n"].astype("float64").fillna(20.0) * _SIZE_PER_PATIENT).clip(
        lower=_MIN_SIZE
    )
    cols = [
        "record_id",
        "study",
        "group",
        "category",
        "endpoint",
        "horizon_years",
        "estimate_pct",
        "n",
        "x_start",
        "x_end",
        "x_mid",
        "size",
    ]
    return pd.DataFrame(pts[cols]).reset_index(drop=True)


_CHAR_YEARS = 0.27  # width of one 6.5-pt label character on the year axis (13.5-in figure)
_LINE_PCT = 3.0  # height of one label line on the percent axis


_PT_YEARS = 0.073  # one point (1/72 in) on the year axis of the 13.5-in figure


def place_labels(
    xs: Sequence[float],
    ys: Sequence[float],
    lengths: Sequence[int],
    sizes: Sequence[float],
    *,
    x_max: float,
) -> list[tuple[float, float, str]]:
    """Greedy label placement: each label starts just beside its marker (right of it, or left
    when it would run past ``x_max``) and moves up or down one line at a time until its box
    overlaps no label already placed. Returns ``(x, y, horizontal alignment)`` per label.

    Written by hand because matplotlib has no label-repelling layout; boxes are estimated in
    data units (``_CHAR_YEARS`` per character, ``_LINE_PCT`` per line, marker radius from its
    area in pt²).
    """
    placed: list[tuple[float, float, float, float]] = []
    out: list[tuple[float, float, str]] = [(0.0, 0.0, "left")] * len(xs)
    order = sorted(range(len(xs)), key=lambda i: (xs[i], ys[i]))
    for i in order:
        gap = 0.35 + _PT_YEARS * sizes[i] ** 0.5 / 2
        width = lengths[i] * _CHAR_YEARS
        if xs[i] + gap + width <= x_max:
            left, ha, anchor = xs[i] + gap, "left", xs[i] + gap
        else:
            left, ha, anchor = xs[i] - gap - width, "right", xs[i] - gap
        box = (left, left + width, ys[i] - _LINE_PCT / 2, ys[i] + _LINE_PCT / 2)
        y = ys[i]
        for step in range(40):
            shift = (step + 1) // 2 * _LINE_PCT * (1 if step % 2 else -1)
            y = min(max(ys[i] + shift, 1.0), 101.0)
            box = (left, left + width, y - _LINE_PCT / 2, y + _LINE_PCT / 2)
            if not any(
                box[0] < b[1] and b[0] < box[1] and box[2] < b[3] and b[2] < box[3] for b in placed
            ):
                break
        placed.append(box)
        out[i] = (anchor, y, ha)
    return out


_Colour = tuple[float, float, float, float]


def _palette(infant_groups: Sequence[str], other_groups: Sequence[str]) -> dict[str, _Colour]:
    """Strong, distinct colours for the groups with infant-specific protocols; the tab20 and
    tab20b palettes for the groups seen only with childhood protocols."""
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

    strong = ["#1f4e9c", "#d62728", "#2ca02c", "#ff7f0e", "#6a3d9a", "#8c564b", "#e377c2"]
    strong += ["#17becf", "#7f7f7f"]
    soft = [colormaps["tab20"](i) for i in range(1, 20, 2)] + [
        colormaps["tab20b"](i) for i in range(0, 20, 2)
    ]
    out = {g: to_rgba(strong[i % len(strong)]) for i, g in enumerate(infant_groups)}
    out.update({g: soft[i % len(soft)] for i, g in enumerate(other_groups)})
    return out


def _legends(fig: Figure, colours: dict[str, _Colour], infant_groups: Sequence[str]) -> None:
    from matplotlib.lines import Line2D

    def swatch(group: str) -> Line2D:
        return Line2D(
            [], [], marker="s", ls="", ms=7, mfc=colours[group], mec="#222222", mew=0.5,
            label=group,
        )  # fmt: skip

    kinds = [
        Line2D([], [], marker=m, ls="", ms=7, mfc="#bbbbbb", mec="#222222", label=text)
        for m, text in CATEGORY_MARKERS.values()
    ]
    sizes = [
        Line2D(
            [], [], marker="o", ls="", mfc="none", mec="#444444",
            ms=max(_MIN_SIZE, n * _SIZE_PER_PATIENT) ** 0.5, label=f"N = {n}",
        )
        for n in (10, 100, 400)
    ]  # fmt: skip
    common = {"frameon": False, "fontsize": 7.5, "title_fontsize": 8.5, "alignment": "left"}
    fig.legend(
        handles=kinds, loc="upper left", bbox_to_anchor=(0.765, 0.95),
        title="Protocol (marker shape)", **common,
    )  # fmt: skip
    fig.legend(
        handles=sizes, loc="upper left", bbox_to_anchor=(0.765, 0.825), ncol=3,
        title="Marker area ∝ N", columnspacing=1.5, **common,
    )  # fmt: skip
    others = [g for g in colours if g not in infant_groups]
    fig.legend(
        handles=[swatch(g) for g in infant_groups], loc="upper left",
        bbox_to_anchor=(0.765, 0.75), ncol=2, title="Groups with infant-specific protocols",
        columnspacing=0.8, handletextpad=0.3, **common,
    )  # fmt: skip
    fig.legend(
        handles=[swatch(g) for g in others], loc="upper left", bbox_to_anchor=(0.765, 0.60),
        ncol=3, title="Groups with childhood protocols only", columnspacing=0.8,
        handletextpad=0.3, **common,
    )  # fmt: skip


def _label(row: pd.Series) -> str:
    text = str(row["study"])
    extra = []
    if row["endpoint"] == "dfs":
        extra.append("DFS")
    if row["horizon_years"] != 5:
        extra.append(f"{row['horizon_years']:g}-y")
    return f"{text} ({', '.join(extra)})" if extra else text


def _draw_panel(
    ax: Axes,
    pts: pd.DataFrame,
    colours: dict[str, _Colour],
    ylabel: str,
) -> None:
    for _, row in pts.iterrows():
        ax.plot(
            [row["x_start"], row["x_end"]],
            [row["estimate_pct"]] * 2,
            color=colours[row["group"]],
            lw=1.6,
            alpha=0.55,
            solid_capstyle="butt",
            zorder=2,
        )
    for category, (marker, _) in CATEGORY_MARKERS.items():
        sub = pts[pts["category"] == category]
        if sub.empty:
            continue
        ax.scatter(
            sub["x_mid"],
            sub["estimate_pct"],
            s=sub["size"],
            c=[colours[g] for g in sub["group"]],
            marker=marker,
            edgecolors="#222222",
            linewidths=0.6,
            alpha=0.9,
            zorder=3,
        )
    labelled = pts[pts["category"] != "childhood"]
    texts = [_label(row) for _, row in labelled.iterrows()]
    spots = place_labels(
        list(labelled["x_mid"]),
        list(labelled["estimate_pct"]),
        [len(t) for t in texts],
        list(labelled["size"]),
        x_max=X_LIMITS[1],
    )
    for (x, y), (lx, ly, ha), text in zip(
        zip(labelled["x_mid"], labelled["estimate_pct"], strict=True), spots, texts, strict=True
    ):
        moved = abs(ly - y) > 2.5
        ax.annotate(
            text,
            (x, y),
            xytext=(lx, ly),
            textcoords="data",
            fontsize=6.5,
            color="#333333",
            va="center",
            ha=ha,
            zorder=4,
            arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.5} if moved else None,
        )
    ax.set_ylabel(ylabel)
    ax.set_ylim(-3, 103)
    ax.set_yticks(range(0, 101, 20))
    ax.grid(axis="y", color="#e3e3e3", lw=0.7)
    ax.grid(axis="x", color="#f0f0f0", lw=0.5)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def evidence_figure(evidence: Evidence, *, title: str | None = None) -> Figure:
    """EFS (top) and OS (bottom) of every trial in the seeds' tables against accrual years.

    Returns a matplotlib :class:`~matplotlib.figure.Figure` drawn without pyplot (no global
    state); render it with :func:`infantall.reports.figure_to_data_uri` or ``savefig``.
    """
    with style_context():
        return _evidence_figure(evidence, title)


def _evidence_figure(evidence: Evidence, title: str | None) -> Figure:
    panels = {p: figure_points(evidence, p) for p in _PANELS}
    both = pd.concat([panels["efs"], panels["os"]])
    infant = sorted(set(both.loc[both["category"] != "childhood", "group"]), key=str.casefold)
    others = sorted(set(both["group"]) - set(infant), key=str.casefold)
    colours = _palette(infant, others)
    fig = new_figure((13.5, 9.5), layout="none")
    fig.subplots_adjust(left=0.06, right=0.75, top=0.93, bottom=0.07, hspace=0.12)
    ax_efs, ax_os = fig.subplots(2, 1, sharex=True)
    _draw_panel(ax_efs, panels["efs"], colours, "Event-free survival (%)")
    ax_efs.tick_params(labelbottom=True)
    _draw_panel(ax_os, panels["os"], colours, "Overall survival (%)")
    ax_os.set_xlabel("Accrual period (segment) and its midpoint (marker)")
    ax_os.set_xlim(*X_LIMITS)
    _legends(fig, colours, infant)
    fig.suptitle(
        title or _TITLE,
        x=0.06,
        ha="left",
        fontsize=FONT_SIZE + 3,
        fontweight="bold",
    )
    fig.text(
        0.06,
        0.012,
        "5-year estimates unless labelled (n-y); DFS where the table prints disease-free "
        "survival. Labels name infant-specific protocols; triangles are childhood protocols.",
        fontsize=FONT_SIZE - 1.5,
        color=GREY,
    )
    return fig
