"""Report sections of the design part (for the full HTML report).

Two sections, computed when the report is built: single-arm designs against Interfant-06
(KMT2A-r) from the evidence base, and the operating characteristics of the example adaptive
design with a figure of the selection probabilities.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING

from infantall.design.accrual import historical_rate
from infantall.design.historical import exact_binomial_design, one_sample_logrank_design
from infantall.design.survival import Accrual, PiecewiseExponential

if TYPE_CHECKING:
    import pandas as pd

    from infantall.design.adaptive import TrialSpec
    from infantall.reports import ReportSection

__all__ = ["design_sections"]

_TARGETS = (0.50, 0.55, 0.60, 0.65)


def _historical_section(frame: pd.DataFrame) -> ReportSection:
    from infantall.reports import ReportSection, html_table

    hist = historical_rate(frame, "interfant-06", "kmt2a-r", "efs", 2.0)
    rate = hist.per_year or 40.0
    null = PiecewiseExponential.from_landmark(hist.rate, 2.0)
    rows = []
    for target in _TARGETS:
        binom = exact_binomial_design(hist.rate, target, alpha=0.05, power=0.8)
        hr = math.log(target) / math.log(hist.rate)
        lr = one_sample_logrank_design(null, hr, Accrual.per_year(rate), 2.0)
        rows.append(
            {
                "target": f"{target:.0%}",
                "binomial": f"{binom.n} (reject if ≥ {binom.r})",
                "logrank": f"{math.ceil(lr.patients)} ({lr.expected_events:.0f} events)",
                "years": f"{binom.n / rate + 2:.1f}",
            }
        )
    note = (
        f"Historical control: {hist.study}, {hist.population}, {hist.endpoint.upper()} "
        f"{hist.reported_pct:g}% at {hist.reported_horizon_years:g} years ({hist.source}); "
        f"used as a lower bound for 2-year EFS ({hist.conversion}). Accrual at "
        f"{rate:.1f} infants a year (N over accrual years). One-sided alpha 0.05, power 0.8."
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


def _adaptive_section(spec: TrialSpec, n_trials: int, seed: int) -> ReportSection:
    from matplotlib.figure import Figure

    from infantall.design.adaptive import run_trials
    from infantall.reports import ReportSection, figure_to_data_uri, html_table

    alt = run_trials(spec, n_trials, seed).operating_characteristics()
    null = run_trials(spec.with_null(), n_trials, seed + 1).operating_characteristics()
    fig = Figure(figsize=(6.0, 3.2))
    ax = fig.add_subplot()
    x = range(len(alt.arms))
    ax.bar([i - 0.2 for i in x], alt.prob_select, width=0.4, label="scenario")
    ax.bar([i + 0.2 for i in x], null.prob_select, width=0.4, label="null (all as control)")
    ax.set_xticks(list(x), alt.arms)
    ax.set_ylabel("P(arm declared superior)")
    ax.legend(frameon=False)
    fig.tight_layout()
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
    img = figure_to_data_uri(fig)
    body = (
        f'{table}<figure><img src="{img}" alt="Selection probabilities per arm">'
        "<figcaption>Probability that each arm is declared superior to control, in the "
        "specified scenario and under the null. Simulated; illustrative design.</figcaption>"
        "</figure>"
    )
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
    from infantall.design.adaptive import load_spec

    if frame is None:
        from infantall.evidence import load_evidence

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
