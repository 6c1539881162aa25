"""``infantall analyze hsct``: HSCT in CR1 (a module of its own so that ``analyze.py`` stays
under the house limit of 500 lines; registered there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from infantall.commands._analyze_io import (
    FigureOpt,
    read_csv,
    run_safely,
)
from infantall.commands._output import (
    Format,
    FormatOption,
    emit_records,
)

__all__ = ["hsct_command"]

_HSCT_DATA = typer.Argument(
    ...,
    help="Cohort or registry histories JSON (as 'cohort generate -o F.json' writes), "
    "or a CSV file with one row per patient.",
)


def hsct_command(
    data: Path = _HSCT_DATA,
    time: str | None = typer.Option(None, "--time", "-t", help="CSV: column of follow-up times."),
    event: str | None = typer.Option(None, "--event", "-e", help="CSV: column of events (1/0)."),
    hsct_time: str | None = typer.Option(
        None, "--hsct-time", help="CSV: column of time to HSCT in CR1 (empty = no transplant)."
    ),
    strata: str | None = typer.Option(
        None, "--strata", help="CSV: column to stratify the adjusted model by (risk group)."
    ),
    adjust: str | None = typer.Option(
        None, "--adjust", help="CSV: comma-separated columns to adjust for (baseline covariates)."
    ),
    protocol: str = typer.Option(
        "interfant-06",
        "--protocol",
        help="JSON: protocol whose risk groups and HSCT-rule MRD result are adjusted for.",
    ),
    endpoint: str = typer.Option("EFS", "--endpoint", help="JSON: endpoint (EFS, OS, ...)."),
    landmark: float | None = typer.Option(
        None,
        "--landmark",
        help="Landmark time in the time unit (days for JSON; default: median "
        "time to HSCT among the transplanted).",
    ),
    figure: Path | None = FigureOpt,
    fmt: Format = FormatOption,
) -> None:
    """HSCT in CR1 as a time-dependent exposure: adjusted (recommended) and unadjusted
    time-dependent Cox, stratified Mantel-Byar, landmark HR and survival per arm.

    The unadjusted model is confounded by indication (transplant is decided by risk group and
    MRD) and is printed for contrast only, as is the naive "ever transplanted" model (biased
    by immortal time). Examples: infantall analyze hsct cohort.json --format json;
    infantall analyze hsct cohort.csv --time efs_days --event efs_event --hsct-time hsct_days
    --strata risk --adjust mrd_pos
    """
    with run_safely():
        res = _hsct_result(
            data, time, event, hsct_time, strata, adjust, protocol, endpoint, landmark
        )
        meta: dict[str, Any] = {"transplanted": res.n_exposed, "landmark": res.landmark_time}
        if figure is not None:
            from infantall.reports.figures.survival import plot_simon_makuch, save_figure

            annotation = f"Mantel-Byar p = {res.mantel_byar.p_value:.3g}"
            fig = plot_simon_makuch(res.simon_makuch, counting=res.counting, annotation=annotation)
            save_figure(fig, figure)
            meta["figure"] = str(figure)
        if fmt is Format.json:
            import json

            typer.echo(json.dumps({"meta": meta, **res.to_dict()}, indent=2, allow_nan=False))
            return
        adj = res.adjusted_estimate
        first = [] if adj is None else [adj]
        records = [_hsct_record(e) for e in (*first, res.unadjusted_estimate, *res.estimates[1:4])]
        meta["excluded"] = "; ".join(f"{k}: {v}" for k, v in res.excluded.items()) or "none"
        meta["assumption"] = res.to_dict()["assumption"]
        for lm in res.landmarks:
            surv = ", ".join(f"{k} {_pct_or_ne(v)}" for k, v in lm.survival.items())
            meta[f"survival {lm.horizon:g} after landmark"] = surv
        columns = ["analysis", "hr", "hr_lower", "hr_upper", "statistic", "p", "n", "note"]
        if fmt is Format.table:
            records = [_hsct_display(r) for r in records]
            columns = ["analysis", "HR (95% CI)", "chi-square", "p", "n", "note"]
        emit_records(
            records, fmt, title="HSCT as a time-dependent exposure", meta=meta, columns=columns
        )


def _pct_or_ne(v: float | None) -> str:
    return "n/e" if v is None else f"{100 * v:.1f}%"


def _hsct_result(
    data: Path,
    time: str | None,
    event: str | None,
    hsct_time: str | None,
    strata: str | None,
    adjust: str | None,
    protocol: str,
    endpoint: str,
    landmark: float | None,
) -> Any:
    """The analysis of a histories/cohort JSON (derived endpoints) or of a CSV."""
    from infantall.errors import InvalidInputError
    from infantall.outcomes.hsct_questions import histories_hsct_analysis, hsct_analysis

    if data.suffix.lower() == ".json":
        histories = _load_histories(data)
        return histories_hsct_analysis(histories, protocol, endpoint, landmark_time=landmark)
    for name, value in (("--time", time), ("--event", event), ("--hsct-time", hsct_time)):
        if value is None:
            raise InvalidInputError(name, "is required for a CSV file", "bad_option")
    cols = [c.strip() for c in (adjust or "").split(",") if c.strip()]
    df = read_csv(data, [time, event, hsct_time, strata, *cols])
    assert time is not None and event is not None and hsct_time is not None
    return hsct_analysis(
        df, time, event, hsct_time, landmark_time=landmark, strata=strata, adjust=cols
    )


def _load_histories(path: Path) -> Any:
    """Histories from a synthetic cohort JSON or a registry histories JSON."""
    import json

    from infantall.errors import InvalidInputError

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(str(path), f"cannot read JSON: {exc}", "bad_option") from exc
    if isinstance(doc, dict) and "events" in doc and "metadata" in doc:
        from infantall.cohort.io import load_cohort

        return load_cohort(path).to_histories()
    from infantall.outcomes.endpoints import read_histories

    return read_histories(path)


def _hsct_record(e: Any) -> dict[str, Any]:
    """An estimate of :func:`infantall.outcomes.hsct_analysis` as a row of the command."""
    return {
        "analysis": e.label,
        "hr": e.hazard_ratio,
        "hr_lower": e.ci_lower,
        "hr_upper": e.ci_upper,
        "statistic": e.statistic,
        "p": e.p_value,
        "n": e.n,
        "note": e.note,
    }


def _hsct_display(r: dict[str, Any]) -> dict[str, Any]:
    """A compact row of the HSCT table (table format)."""
    return {
        "analysis": r["analysis"],
        "HR (95% CI)": ""
        if r.get("hr") is None
        else f"{r['hr']:.3g} ({r['hr_lower']:.3g}-{r['hr_upper']:.3g})",
        "chi-square": "" if r["statistic"] is None else f"{r['statistic']:.3g}",
        "p": "" if r["p"] is None else f"{r['p']:.3g}",
        "n": r["n"],
        "note": r["note"],
    }
