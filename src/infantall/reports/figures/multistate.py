"""Figures of multi-state models: stacked state occupation and transition-probability curves.

Both draw a :class:`~infantall.outcomes.multistate.StateOccupation` (Aalen–Johansen) in the
house style of :mod:`infantall.reports.figures.style`; the CIs are the log intervals of the
infinitesimal-jackknife standard errors (R ``survfit``'s).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from infantall.outcomes.multistate import StateOccupation
from infantall.reports.figures.style import PALETTE, colour, new_figure, styled

__all__ = ["plot_occupation", "plot_transition_probabilities"]

#: Absorbing states (deaths, ...) are drawn in greys, darkest first; the others in the palette.
_GREYS = ("#3d3d3d", "#6b6b6b", "#9a9a9a", "#c4c4c4")
#: Hatches that tell states apart once the colours repeat.
_HATCHES = ("", "//", "..", "xx")


def _fills(occ: StateOccupation) -> list[tuple[str, str]]:
    absorbing = set(occ._fit.data.matrix.absorbing)
    out, live, dead = [], 0, 0
    for name in occ.states:
        if name in absorbing:
            out.append((_GREYS[dead % len(_GREYS)], _HATCHES[(dead // len(_GREYS)) % 4]))
            dead += 1
        else:
            out.append((colour(live), _HATCHES[(live // len(PALETTE)) % 4]))
            live += 1
    return out


def _steps(occ: StateOccupation) -> tuple[np.ndarray, np.ndarray]:
    t = np.r_[occ.start, occ.time]
    p0 = np.zeros(len(occ.states))
    p0[occ.states.index(occ.from_state or occ._fit.data.initial)] = 1.0
    return t, np.vstack([p0[None, :], occ.probability])


@styled
def plot_occupation(
    occ: StateOccupation,
    *,
    title: str | None = None,
    xlabel: str | None = None,
    xmax: float | None = None,
) -> Figure:
    """Stacked state occupation (percent of patients in each state over time)."""
    t, p = _steps(occ)
    fig = new_figure("wide")
    ax = fig.subplots()
    base = np.zeros(t.size)
    for j, (name, (fill, hatch)) in enumerate(zip(occ.states, _fills(occ), strict=True)):
        top = base + 100 * p[:, j]
        ax.fill_between(
            t, base, top, step="post", color=fill, alpha=0.9, linewidth=0, hatch=hatch, label=name
        )
        base = top
    ax.set_xlim(occ.start, xmax if xmax is not None else float(t[-1]))
    ax.set_ylim(0, 100)
    ax.set_ylabel("Patients in state (%)")
    ax.set_xlabel(xlabel or f"Time ({occ.time_unit})")
    ax.set_title(title or "State occupation (Aalen–Johansen)")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


@styled
def plot_transition_probabilities(
    occ: StateOccupation,
    states: Sequence[str],
    *,
    points: int = 60,
    title: str | None = None,
    xlabel: str | None = None,
) -> Figure:
    """Probability of being in each of ``states`` over time with 95% CIs (bands).

    The CI is evaluated at ``points`` times spread over the follow-up (each needs one
    influence pass over the data).
    """
    t, p = _steps(occ)
    grid = np.linspace(occ.start, float(t[-1]), points)
    tab = occ.at(grid)
    fig = new_figure("panel")
    ax = fig.subplots()
    for i, name in enumerate(states):
        j = occ.states.index(name)
        ax.step(t, 100 * p[:, j], where="post", color=colour(i), label=name)
        rows = tab[tab["state"] == name]
        ax.fill_between(
            grid,
            100 * rows["lower"].fillna(0).to_numpy(),
            100 * rows["upper"].fillna(0).to_numpy(),
            step="post",
            color=colour(i),
            alpha=0.2,
            linewidth=0,
        )
    ax.set_ylim(0, 100)
    ax.set_xlim(occ.start, float(t[-1]))
    ax.set_ylabel("Probability (%)")
    ax.set_xlabel(xlabel or f"Time ({occ.time_unit})")
    origin = occ.from_state or occ._fit.data.initial
    ax.set_title(title or f"From {origin} at {occ.start:g}")
    ax.legend(loc="best")
    return fig
