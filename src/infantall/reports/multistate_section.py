"""Report section "The disease course": the infant-ALL course of a cohort as states.

:func:`disease_course_section` takes patient histories, calls
:func:`infantall.outcomes.multistate.course.disease_course` and formats it: the stacked
occupation figure, the occupation table at 1, 2 and 5 years, the expected years in each state
over the first five, and the HSCT question through states (landmark Aalen–Johansen).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import pandas as pd

from infantall.domain import PatientHistory
from infantall.outcomes.multistate.course import RELAPSE_FREE, DiseaseCourse, disease_course
from infantall.reports.figures.multistate import plot_occupation
from infantall.reports.html import ReportSection, figure_html, html_table

__all__ = ["disease_course_section"]


def _pct(p: Any, se: Any = None) -> str:
    if p is None or pd.isna(p):
        return "not estimable"
    return f"{100 * p:.1f}" + ("" if se is None or pd.isna(se) else f" ({100 * se:.1f})")


def _table(frame: pd.DataFrame) -> str:
    return html_table(frame.to_dict("records"), [str(c) for c in frame.columns])  # type: ignore[arg-type]


def _occupation_table(course: DiseaseCourse) -> pd.DataFrame:
    s = course.summary
    wide = {
        f"{t:g} y: % (SE)": [_pct(r.probability, r.std_err) for r in g.itertuples()]
        for t, g in s.groupby("time", sort=True)
    }
    return pd.DataFrame({"State": list(course.analysis.data.states), **wide})


def _hsct_table(course: DiseaseCourse) -> pd.DataFrame:
    h = course.hsct
    return pd.DataFrame(
        {
            "Landmark (years)": [f"{v:g}" for v in h["landmark"]],
            "State at landmark": h["from_state"],
            "n": h["n"],
            f"Alive, relapse-free {course.horizon:g} y later: % (SE)": [
                _pct(p, se) for p, se in zip(h["probability"], h["std_err"], strict=True)
            ],
            "95% CI": [
                "—" if p is None or pd.isna(p) else f"{100 * lo:.1f}–{100 * up:.1f}"
                for p, lo, up in zip(h["probability"], h["lower"], h["upper"], strict=True)
            ],
        }
    )


def disease_course_section(
    histories: Iterable[PatientHistory], *, section_id: str = "disease-course"
) -> ReportSection:
    """The "The disease course" section of the report, from patient histories."""
    course = disease_course(list(histories))
    data = course.analysis.data
    fig = plot_occupation(
        course.analysis.occupation, xlabel="Years from diagnosis", title="The disease course"
    )
    tis = course.analysis.time_in_state
    tis_table = (
        pd.DataFrame(
            {
                "State": tis["state"],
                "Years (SE)": [
                    f"{v:.2f} ({s:.2f})"
                    for v, s in zip(tis["time_in_state"], tis["std_err"], strict=True)
                ],
            }
        )
        if tis is not None
        else pd.DataFrame()
    )
    counts = data.summary.rename(columns={"from": "From", "to": "To", "n": "Transitions"})
    parts = [
        f"<p>{data.n_ids} patients followed through the states "
        f"{html.escape(', '.join(data.states))}"
        " (Aalen–Johansen; standard errors by the infinitesimal jackknife, as R survival "
        "reports them). Time is in years from diagnosis.</p>",
        figure_html(
            fig, alt="Stacked state occupation over years from diagnosis", name="disease-course"
        ),
        "<h3>Probability of being in each state</h3>",
        _table(_occupation_table(course)),
        "<h3>Expected years in each state over the first five years</h3>",
        _table(tis_table),
        "<h3>Transplant in first remission, through states</h3>",
        "<p>Patients in " + html.escape(" or ".join(RELAPSE_FREE)) + " at each landmark, "
        "followed from there (landmark Aalen–Johansen): no immortal time, but transplant is "
        "given by risk group, so this is a contrast, not the effect of HSCT.</p>",
        _table(_hsct_table(course)),
        "<h3>Transitions observed</h3>",
        _table(counts),
    ]
    return ReportSection(section_id, "The disease course", "\n".join(parts))
