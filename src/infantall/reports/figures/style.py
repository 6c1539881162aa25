"""The one figure style of infantall: palette, sizes, fonts and resolution.

Every figure of the CLI, the web pages and the report is made by :func:`new_figure`, draws its
series in :data:`PALETTE` order (:func:`colour`) and is saved or embedded at the resolutions
named here, so that a KM curve looks the same in ``infantall analyze km --figure``, on the
coordinator page and in the HTML report.

>>> from infantall.reports.figures.style import PALETTE, colour, new_figure
>>> fig = new_figure("wide")
>>> colour(0) == PALETTE[0]
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, ParamSpec, TypeVar

import matplotlib as mpl
from cycler import cycler
from matplotlib.figure import Figure

__all__ = [
    "DPI_PRINT",
    "DPI_SCREEN",
    "FONT_SIZE",
    "GREY",
    "PALETTE",
    "SIZES",
    "colour",
    "new_figure",
    "style_context",
    "styled",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Colour-blind-safe palette (Okabe & Ito 2008), in the order series are drawn.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
)
#: Secondary text and reference lines.
GREY = "#6b6b6b"
#: Base font size in points; titles are 1 pt larger, annotations 1 pt smaller.
FONT_SIZE = 9.0
#: Resolution of figures embedded for a screen (pages, report PNG fallbacks).
DPI_SCREEN = 110
#: Resolution of raster figures saved for print (``--figure x.png``, report downloads).
DPI_PRINT = 300

#: Figure sizes in inches (width, height) by use: a single panel, a wide panel that fills the
#: report's text column, and a tall one for forest plots and risk tables.
SIZES: dict[str, tuple[float, float]] = {
    "panel": (6.4, 4.0),
    "wide": (9.0, 4.2),
    "square": (6.0, 5.0),
    "strip": (8.0, 3.4),
}

_RC: Any = {  # matplotlib types rc keys as literals; these are checked by rc_context
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE + 1,
    "axes.labelsize": FONT_SIZE,
    "legend.fontsize": FONT_SIZE - 1,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE - 1,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "svg.fonttype": "none",  # text stays text in SVG: selectable and searchable
    "pdf.fonttype": 42,  # TrueType in PDF, editable by journals' tools
}


def colour(i: int) -> str:
    """The palette's ``i``-th colour, cycling."""
    return PALETTE[i % len(PALETTE)]


@contextmanager
def style_context() -> Iterator[None]:
    """Matplotlib rc settings of the house style for the duration of a drawing."""
    with mpl.rc_context(_RC):
        yield


def new_figure(
    size: Literal["panel", "wide", "square", "strip"] | tuple[float, float] = "panel",
    *,
    layout: Literal["constrained", "tight", "none"] | None = "constrained",
) -> Figure:
    """A new :class:`~matplotlib.figure.Figure` (no pyplot state) of a house size.

    Draw inside :func:`style_context` so that fonts and the colour cycle follow the style.
    """
    figsize = SIZES[size] if isinstance(size, str) else size
    return Figure(figsize=figsize, dpi=DPI_SCREEN, layout=None if layout == "none" else layout)


def styled(draw: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorator: run a figure function inside :func:`style_context`."""

    @functools.wraps(draw)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with style_context():
            return draw(*args, **kwargs)

    return wrapper
