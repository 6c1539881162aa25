"""Report sections of the design part (for the full HTML report).

Two sections, computed when the report is built: single-arm designs against Interfant-06
(KMT2A-r) from the evidence base, and the operating characteristics of the example adaptive
design with a figure of the selection probabilities.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from infantall.design.adaptive import OperatingCharacteristics, TrialSpec, load_spec, run_trials
from infantall.design.questions import historical_control_designs
from infantall.evidence import load_evidence
from infantall.reports.figures.style import colour, new_figure, style_context
from infantall.reports.html import ReportSection, figure_html, html_table

__all__ = ["design_sections"]

_TARGETS = (0.50, 0.55, 0.60, 0.65)


def _historical_section(frame: pd.DataFrame) -> ReportSection:
    res = historical_control_designs(
        frame, "interfant-06", _TARGETS, population="kmt2a-r", endpoint="efs", horizon_years=2.0
    )
    hist = res.historical
    assert hist is not None  # from the evidence base: always named
    rows = [
        {
            "target": f"{d.target:.0%}",
            "binomial": f"{d.binomial.n} (reject if ≥ {d.binomial.r})",
            "logrank": f"{math.ceil(d.logrank.patients)} ({d.logrank.expected_events:.0f} events)",
            "years": f"{d.binomial.n / res.accrual_per_year + res.horizon_years:.1f}",
        }
        for d in res.designs
    ]
    note = (
        f"Historical control: {hist.study}, {hist.population}, {hist.endpoint.upper()} "
        f"{hist.reported_pct:g}% at {hist.reported_horizon_years:g} years ({hist.source}); "
        f"used as a lower bound for 2-year EFS ({hist.conversion}). Accrual at "
        f"{res.accrual_per_year:.1f} infants a year (N over accrual years). One-sided alpha "
        f"{res.alpha:g}, power {res.power:g}."
    )
    table = html_table(
        rows,
        ["target", "binomial", "logrank", "years"],
        headers={
            "target": "Target 2-year EFS",
            "binomial": "Exact binomial: patients",
            "logrank": "One-sample log-rank: patients",
            "years": "Binomial design: years to result",
        },
        caption="Single-arm trials against Interfant-06 (KMT2A-r)",
    )
    return ReportSection(
        "design-historical",
        "Design: single-arm trials against a historical control",
        f'<p class="note">{html.escape(note)}</p>{table}',
    )


def _selection_figure(alt: OperatingCharacteristics, null: OperatingCharacteristics) -> str:
    """Bar chart of P(arm declared superior), scenario beside null, as a report figure."""
    with style_context():
        fig = new_figure("strip")
        ax = fig.add_subplot()
        x = range(len(alt.arms))
        ax.bar([i - 0.2 for i in x], alt.prob_select, width=0.4, color=colour(0), label="scenario")
        ax.bar([i + 0.2 for i in x], null.prob_select, width=0.4, color=colour(1),
               label="null (all as control)")  # fmt: skip
        ax.set_xticks(list(x), alt.arms)
        ax.set_ylabel("P(arm declared superior)")
        ax.legend(frameon=False)
        caption = (
            "Probability that each arm is declared superior to control, in the specified "
            "scenario and under the null. Simulated; illustrative design."
        )
        return figure_html(
            fig, alt="Selection probabilities per arm", name="design-selection", caption=caption
        )


def _adaptive_section(spec: TrialSpec, n_trials: int, seed: int) -> ReportSection:
    alt = run_trials(spec, n_trials, seed).operating_characteristics()
    null = run_trials(spec.with_null(), n_trials, seed + 1).operating_characteristics()
    rows = [
        {"metric": name, "scenario": f"{a:.3f}", "null": f"{b:.3f}"}
        for name, a, b in (
            ("P(superiority)", alt.prob_superiority, null.prob_superiority),
            ("P(futility stop)", alt.prob_futility, null.prob_futility),
            ("Expected patients", alt.expected_n, null.expected_n),
            ("Expected duration (years)", alt.expected_duration, null.expected_duration),
        )
    ]
    table = html_table(
        rows,
        ["metric", "scenario", "null"],
        caption=f"{spec.name}: {n_trials:,} simulated trials per scenario (seed {seed})",
        numeric=["scenario", "null"],
    )
    body = table + _selection_figure(alt, null)
    return ReportSection("design-adaptive", "Design: adaptive pick-a-winner simulation", body)


def design_sections(
    frame: pd.DataFrame | None = None,
    spec_path: str | Path | None = None,
    *,
    n_trials: int = 2000,
    seed: int = 2026,
) -> list[ReportSection]:
    """The design sections (ids ``design-historical`` and ``design-adaptive``).

    ``frame`` defaults to ``load_evidence().frame``; ``spec_path`` to the packaged-beside
    example ``examples/design/pick-a-winner-binary.yaml`` when it exists, else only the
    historical section is returned.
    """
    if frame is None:
        frame = load_evidence().frame
    sections = [_historical_section(frame)]
    path = Path(spec_path) if spec_path is not None else _example_spec()
    if path is not None and path.is_file():
        sections.append(_adaptive_section(load_spec(path), n_trials, seed))
    return sections


def _example_spec() -> Path | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples" / "design" / "pick-a-winner-binary.yaml"
        if candidate.is_file():
            return candidate
    return None
