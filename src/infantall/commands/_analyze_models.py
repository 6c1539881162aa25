"""``infantall analyze cox|finegray``: regression models on a covariate formula.

Each command calls one function of :mod:`infantall.outcomes.regression` (factor covariates,
reference levels, complete cases as R) and formats its result: coefficients, tests as
numbers and the factor coding, to the screen or ``-o FILE``. Only Typer and the standard
library at module level.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import typer

from infantall.commands._analyze_io import (
    CompleteOpt,
    CovariatesOpt,
    DataArg,
    EventOpt,
    FigureOpt,
    StatusOpt,
    TimeOpt,
    TitleOpt,
    read_csv,
    run_safely,
    tests_records,
)
from infantall.commands._output import (
    Format,
    FormatOption,
    OutputOption,
    Section,
    emit_sections,
    fail,
)

__all__ = ["cox_command", "finegray_command"]


def cox_command(
    data: Path = DataArg,
    *,
    time: str = TimeOpt,
    event: str = EventOpt,
    covariates: str = CovariatesOpt,
    strata: str | None = typer.Option(None, "--strata", help="Column to stratify on."),
    ties: str = typer.Option("efron", "--ties", help="efron (R's default) or breslow."),
    figure: Path | None = FigureOpt,
    title: str | None = TitleOpt,
    xlabel: str | None = typer.Option(
        None, "--xlabel", help="Axis label of the forest plot (default: Hazard ratio (95% CI))."
    ),
    complete_cases: bool = CompleteOpt,
    output: Path | None = OutputOption,
    fmt: Format = FormatOption,
) -> None:
    """Cox model: HR (95% CI), p, concordance, LR/Wald/score tests and the PH test (cox.zph).

    Example: infantall analyze cox cohort.csv --time efs_days --event efs_event
    --covariates "kmt2a_r + age_days + wbc"
    """
    with run_safely():
        from infantall.outcomes.regression import cox_model

        df = read_csv(data, [time, event, strata])
        model = cox_model(
            df,
            time,
            event,
            covariates,
            strata=strata,
            ties=ties,  # type: ignore[arg-type]
            complete_cases=complete_cases,
        )
        fit = model.fit
        meta: dict[str, Any] = {
            "n": fit.n,
            "events": fit.n_events,
            "ties": ties,
            "strata": strata,
            "concordance": round(fit.concordance, 4),
        }
        _design_meta(meta, model.frame)
        if figure is not None:
            from infantall.reports.figures.survival import plot_forest, save_figure

            save_figure(plot_forest(fit, title=title, xlabel=xlabel), figure)
            meta["figure"] = str(figure)
        records = _coef_records(model.summary)
        if fmt is Format.table:
            records = [_coef_display(r, "hr", "HR", ph=True) for r in records]
        sections = [
            Section("records", records, title="Cox proportional hazards"),
            Section("tests", tests_records([t.to_dict() for t in model.tests])),
            Section("factors", _factor_records(model.frame)),
        ]
        emit_sections(sections, fmt, meta=meta, output=output)


def finegray_command(
    data: Path = DataArg,
    *,
    time: str = TimeOpt,
    status: str = StatusOpt,
    covariates: str = CovariatesOpt,
    cause: int = typer.Option(1, "--cause", help="Cause of interest (the others compete)."),
    conf_level: float = typer.Option(0.95, "--conf-level", help="Level of the CIs."),
    figure: Path | None = FigureOpt,
    title: str | None = TitleOpt,
    xlabel: str | None = typer.Option(
        None, "--xlabel", help="Axis label of the forest plot (default: Subdistribution HR)."
    ),
    complete_cases: bool = CompleteOpt,
    output: Path | None = OutputOption,
    fmt: Format = FormatOption,
) -> None:
    """Fine-Gray model: subdistribution HR (CI), SE, p for one cause; matches cmprsk::crr.

    Example: infantall analyze finegray cohort.csv --time cir_days --status cir_status
    --cause 1 --covariates "C(kmt2a) + age_days"
    """
    with run_safely():
        from infantall.outcomes.regression import fine_gray_model

        if not 0 < conf_level < 1:
            fail("--conf-level must be between 0 and 1")
        df = read_csv(data, [time, status])
        model = fine_gray_model(
            df, time, status, covariates, cause=cause, complete_cases=complete_cases,
            conf_level=conf_level,
        )  # fmt: skip
        fit = model.fit
        meta: dict[str, Any] = {
            "cause": cause,
            "n": fit.n,
            "events": fit.n_events,
            "loglik": fit.loglik,
            "converged": fit.converged,
            "conf_level": conf_level,
        }
        _design_meta(meta, model.frame)
        if figure is not None:
            from infantall.reports.figures.survival import plot_forest, save_figure

            save_figure(plot_forest(fit, title=title, xlabel=xlabel), figure)
            meta["figure"] = str(figure)
        records = _coef_records(model.summary)
        if fmt is Format.table:
            records = [_coef_display(r, "shr", "sHR", ph=False) for r in records]
        sections = [
            Section("records", records, title=f"Fine-Gray model, cause {cause}"),
            Section("tests", tests_records([t.to_dict() for t in model.tests])),
            Section("factors", _factor_records(model.frame)),
        ]
        emit_sections(sections, fmt, meta=meta, output=output)


def _design_meta(meta: dict[str, Any], frame: Any) -> None:
    d = frame.to_dict()
    meta["formula"] = d["formula"]
    meta["n_input"] = d["n_input"]
    meta["n_dropped"] = d["n_dropped"]
    meta["dropped_rows"] = d["dropped_rows"]
    meta["reference_levels"] = d["reference_levels"]
    if d["n_dropped"]:
        rows = d["dropped_rows"]
        shown = ", ".join(str(r) for r in rows[:20]) + (" ..." if len(rows) > 20 else "")
        missing = ", ".join(f"{k}: {v}" for k, v in d["missing_by_column"].items())
        warnings.warn(
            f"{d['n_dropped']} row(s) dropped for missing values ({missing}; rows {shown})",
            stacklevel=2,
        )


def _coef_records(summary: Any) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in summary.to_dict("records")]


def _factor_records(frame: Any) -> list[dict[str, Any]]:
    return [
        {"term": f.term, "reference": f.reference, "levels": ", ".join(f.levels)}
        for f in frame.factors
    ]


def _coef_display(r: dict[str, Any], key: str, name: str, *, ph: bool) -> dict[str, Any]:
    out = {
        "covariate": r["covariate"],
        f"{name} (95% CI)": f"{r[key]:.3g} ({r[key + '_lower']:.3g}-{r[key + '_upper']:.3g})",
        "p": f"{r['p']:.3g}",
    }
    if ph:
        out["PH test p"] = f"{r['ph_p']:.3g}"
    return out
