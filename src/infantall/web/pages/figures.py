"""Figures of the pages, embedded as PNG data URIs (the CSP allows ``img-src data:``).

Survival curves come from :mod:`infantall.reports.figures.survival` (Kaplan–Meier with the
number at risk, Simon–Makuch, cumulative incidence of relapse by group); the two figures only
the pages need are drawn here: a patient's timeline of events and accrual per year by site.
All use the house style (:mod:`infantall.reports.figures.style`) and
:class:`matplotlib.figure.Figure` objects, never pyplot's global state.
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from infantall.domain.vocabulary import EVENT_TYPES
from infantall.reports.figures.style import (
    DPI_SCREEN,
    FONT_SIZE,
    GREY,
    PALETTE,
    SIZES,
    colour,
    new_figure,
    styled,
)
from infantall.reports.figures.survival import plot_cif

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from infantall.domain import PatientHistory
    from infantall.outcomes import CumulativeIncidenceResult

__all__ = [
    "TIMELINE_LANES",
    "accrual_figure",
    "cached_figure",
    "cir_figure",
    "event_label",
    "figure_data_uri",
    "timeline_figure",
]

#: Resolution of embedded PNGs: sharp on a laptop screen at half the width of the page.
DPI = DPI_SCREEN
#: Days per month on the timeline axis (365.25 / 12).
DAYS_PER_MONTH = 30.4375

#: Marker and colour of each event kind on the timeline; a kind not listed here (a new one of
#: the domain) gets a circle in the next palette colour.
_LANE_STYLE: dict[str, tuple[str, str]] = {
    "response": ("s", colour(0)),
    "refractory": ("s", colour(1)),
    "mrd": ("D", colour(5)),
    "second_remission": ("s", colour(2)),
    "hsct": ("^", colour(2)),
    "relapse": ("X", colour(1)),
    "salvage_therapy": (">", colour(4)),
    "second_malignancy": ("P", colour(3)),
    "late_effect": ("v", colour(4)),
    "last_contact": ("o", GREY),
    "death": ("X", colour(6)),
}
#: Lanes of the timeline (event kind -> label, marker, colour), top to bottom: every event type
#: of the domain, in its order, with the domain's label.
TIMELINE_LANES: dict[str, tuple[str, str, str]] = {
    kind: (t.label, *_LANE_STYLE.get(kind, ("o", colour(i))))
    for i, (kind, t) in enumerate(EVENT_TYPES.items())
}


def figure_data_uri(fig: Figure) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (figures use constrained layout,
    so no second "tight" drawing pass is needed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


#: Rendered figures kept in memory: drawing a PNG is the slowest part of a page, and the
#: same data gives the same picture, so a page shown again with unchanged data reuses it.
FIGURE_CACHE_SIZE = 128


_CACHE: OrderedDict[tuple[Hashable, ...], str] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def cached_figure(key: tuple[Hashable, ...], build: Callable[[], Figure]) -> str:
    """The data URI of ``build()``, drawn once per ``key`` (which must identify the data
    and every option of the figure completely; a memo of a pure function)."""
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    uri = figure_data_uri(build())
    with _CACHE_LOCK:
        _CACHE[key] = uri
        while len(_CACHE) > FIGURE_CACHE_SIZE:
            _CACHE.popitem(last=False)
    return uri


#: Short names of MRD time points for the timeline labels.
_MRD_SHORT = {
    "day_15": "d15",
    "end_of_induction": "EOI",
    "end_of_early_consolidation": "early cons.",
    "end_of_consolidation": "EOC",
    "start_of_octadad": "OCTADAD",
    "after_blinatumomab_1": "post-blina",
    "pre_hsct": "pre-HSCT",
}


def _fmt_mrd(value: float) -> str:
    return "negative" if value == 0 else f"{value:.1e}"


_LABELS: dict[str, Callable[[Any], str]] = {
    "response": lambda e: f"{e.status.value.upper().replace('_', ' ')} ({e.marrow.value})",
    "mrd": lambda e: f"{_fmt_mrd(e.value)} {_MRD_SHORT.get(e.time_point.value, '')}".strip(),
    "hsct": lambda e: f"{e.donor.value.replace('_', ' ')} {e.hla_match}",
    "relapse": lambda e: e.site.value.replace("_", " "),
    "death": lambda e: e.cause.value.replace("_", " "),
    "late_effect": lambda e: (
        e.effect.value.replace("_", " ") + (f" gr {e.grade}" if e.grade is not None else "")
    ),
    "second_malignancy": lambda e: str(e.diagnosis),
    "salvage_therapy": lambda e: f"line {e.line}: {e.agents}",
    "refractory": lambda e: e.phase.value.replace("_", " "),
    "second_remission": lambda e: f"CR2 ({e.marrow.value})",
}


def event_label(event: Any) -> str:
    """A short label of a domain event for the timeline and lists."""
    make = _LABELS.get(event.kind)
    return make(event) if make is not None else ""


@styled
def timeline_figure(history: PatientHistory) -> Figure:
    """A patient's events on lanes by kind against months since diagnosis."""
    events = list(history.events)
    kinds = [k for k in TIMELINE_LANES if any(e.kind == k for e in events)]
    origin = history.patient.diagnosis_date
    fig = new_figure((SIZES["strip"][0], 1.3 + 0.5 * max(len(kinds), 1)))
    ax = fig.add_subplot(1, 1, 1)
    ax.axvline(0, color="0.4", lw=1, ls="--")
    ax.text(0, len(kinds) - 0.45, " diagnosis", fontsize=FONT_SIZE - 1, color=GREY, va="bottom")
    xmax = 1.0 if events else 12.0  # an empty timeline shows the first year
    for lane, kind in enumerate(reversed(kinds)):
        _name, marker, colour = TIMELINE_LANES[kind]
        mine = [e for e in events if e.kind == kind]
        xs = [(e.date - origin).days / DAYS_PER_MONTH if origin else 0.0 for e in mine]
        xmax = max(xmax, *xs)
        ax.scatter(xs, [lane] * len(xs), marker=marker, s=55, color=colour, zorder=3)
        for i, (x, e) in enumerate(zip(xs, mine, strict=True)):
            text = event_label(e)
            if text:  # alternate above and below the lane so that close labels do not collide
                ax.annotate(
                    text, (x, lane), xytext=(0, 7 if i % 2 == 0 else -13),
                    textcoords="offset points", ha="center", fontsize=FONT_SIZE - 2, color="0.2",
                )  # fmt: skip
        ax.axhline(lane, color="0.92", lw=0.8, zorder=0)
    ax.set_yticks(range(len(kinds)), [TIMELINE_LANES[k][0] for k in reversed(kinds)])
    ax.set_ylim(-0.6, max(len(kinds), 1) - 0.2)
    ax.set_xlim(-0.03 * xmax - 0.5, xmax * 1.06 + 0.5)
    ax.set_xlabel("Months since diagnosis")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    if not kinds:
        ax.text(0.5, 0.5, "No events recorded yet", transform=ax.transAxes, ha="center")
    return fig


@styled
def accrual_figure(accrual: pd.DataFrame) -> Figure:
    """Patients per year of diagnosis, stacked by site (``accrual``: year × site counts)."""
    fig = new_figure("strip")
    ax = fig.add_subplot(1, 1, 1)
    years = accrual.index.to_numpy()
    bottom = np.zeros(len(years))
    cmap = _site_colours(len(accrual.columns))
    for i, site in enumerate(accrual.columns):
        counts = accrual[site].to_numpy(dtype=float)
        ax.bar(years, counts, bottom=bottom, color=cmap[i], label=str(site), width=0.8)
        bottom += counts
    ax.set_xlabel("Year of diagnosis")
    ax.set_ylabel("Patients registered")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(title="Site", fontsize=FONT_SIZE - 2, title_fontsize=FONT_SIZE - 1, frameon=False,
              ncols=2, loc="best")  # fmt: skip
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def _site_colours(n: int) -> Sequence[Any]:
    if n <= len(PALETTE):
        return PALETTE[:n]
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def cir_figure(
    result: CumulativeIncidenceResult, *, title: str, sizes: Mapping[str, int]
) -> Figure:
    """Cumulative incidence of relapse (cause 1) by group, in %, against years
    (:func:`infantall.reports.figures.survival.plot_cif`)."""
    return plot_cif(result, cause=1, sizes=sizes, title=title)
