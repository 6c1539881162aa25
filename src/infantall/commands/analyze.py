"""``infantall analyze km|cif|cox|finegray|hsct``: survival analyses of a CSV file.

Only Typer and the standard library are imported here; pandas, NumPy and matplotlib are
imported inside the commands so that ``infantall --help`` stays fast. Each command calls one
function of :mod:`infantall.outcomes` and formats its result: estimates and tests (numbers:
``statistic``, ``df``, ``p_value``) as a table, strict JSON or CSV (one section per table),
to the screen or to ``-o FILE``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import typer

from infantall.commands._analyze_hsct import hsct_command
from infantall.commands._analyze_io import (
    CompleteOpt,
    DataArg,
    EventOpt,
    FigureOpt,
    Horizon,
    HorizonOpt,
    ReportUnitOpt,
    StatusOpt,
    TableOpt,
    TimeOpt,
    TitleOpt,
    UnitOpt,
    XlabelOpt,
    cause_labels,
    cif_figures,
    cif_steps,
    complete_rows,
    km_steps,
    parse_horizons,
    pct,
    read_csv,
    run_safely,
    tests_records,
    unit_days,
    write_table,
)
from infantall.commands._analyze_models import cox_command, finegray_command
from infantall.commands._analyze_multistate import multistate_command
from infantall.commands._output import (
    Format,
    FormatOption,
    OutputOption,
    Section,
    emit_sections,
    fail,
)

__all__ = ["ORDER", "register", "run_safely"]

ORDER = 40

analyze_app = typer.Typer(
    help=(
        "Survival analyses of a CSV file (one row per patient): Kaplan-Meier, cumulative "
        "incidence, Cox, Fine-Gray, HSCT as a time-dependent exposure. Checked against R "
        "survival/cmprsk."
    ),
    no_args_is_help=True,
)


def _meta_rows(meta: dict[str, Any], dropped: list[int], n_input: int) -> None:
    meta["n_input"] = n_input
    meta["n_dropped"] = len(dropped)
    meta["dropped_rows"] = dropped
    if dropped:
        shown = ", ".join(str(r) for r in dropped[:20]) + (" ..." if len(dropped) > 20 else "")
        warnings.warn(
            f"{len(dropped)} row(s) dropped for missing values (rows {shown})", stacklevel=2
        )


def _labels(xlabel: str | None, report_unit: str) -> str:
    return xlabel or f"Time since diagnosis ({report_unit})"


CauseLabelOpt = typer.Option(
    None, "--cause-label", help="Name of a cause, e.g. 1=Relapse (repeatable).", show_default=False
)


@analyze_app.command("km")
def km_command(
    data: Path = DataArg,
    *,
    time: str = TimeOpt,
    event: str = EventOpt,
    group: str | None = typer.Option(None, "--group", "-g", help="Column of groups."),
    horizon: list[str] | None = HorizonOpt,
    time_unit: str = UnitOpt,
    report_unit: str = ReportUnitOpt,
    conf_type: str = typer.Option("log-log", "--conf-type", help="log-log, log or plain."),
    test: str = typer.Option("logrank", "--test", help="logrank or peto (Peto-Peto, rho=1)."),
    figure: Path | None = FigureOpt,
    title: str | None = TitleOpt,
    xlabel: str | None = XlabelOpt,
    ylabel: str = typer.Option("Survival", "--ylabel", help="Vertical-axis label ('(%)' added)."),
    table: Path | None = TableOpt,
    complete_cases: bool = CompleteOpt,
    output: Path | None = OutputOption,
    fmt: Format = FormatOption,
) -> None:
    """Kaplan-Meier: n, events, median (95% CI), survival at horizons with SE; log-rank.

    Example: infantall analyze km cohort.csv --time efs_days --event efs_event
    --group kmt2a --horizon 5
    """
    with run_safely():
        from infantall.outcomes import logrank_test, survival_at_horizons

        raw = read_csv(data, [time, event, group])
        df, dropped = complete_rows(raw, [time, event, group], not complete_cases)
        unit = unit_days(time_unit)
        shown = unit_days(report_unit, "--report-unit") / unit
        hz = parse_horizons(horizon, report_unit, time_unit)
        res = survival_at_horizons(
            df[time],
            df[event],
            None if group is None else df[group],
            [h.data_time for h in hz],
            conf_type=conf_type,  # type: ignore[arg-type]
            group_name=group,
        )
        curves = res.curves
        records = [_km_record(c, res, hz) for c in curves.curves]
        meta: dict[str, Any] = {
            "time_unit": time_unit,
            "report_unit": report_unit,
            "conf_type": conf_type,
            "median_unit": time_unit,
        }
        _meta_rows(meta, dropped, len(raw))
        tests: list[dict[str, Any]] = []
        annotation = None
        if group is not None:
            rho = 1.0 if test == "peto" else 0.0
            lr = logrank_test(df[time], df[event], df[group], rho=rho)
            tests.append(
                {"test": lr.test_name, "statistic": lr.chisq, "df": lr.df, "p_value": lr.p_value}
            )
            annotation = f"{lr.test_name} p = {lr.p_value:.3g}"
        if table is not None:
            write_table(km_steps(curves.curves, time_unit, report_unit, shown), table)
            meta["table"] = str(table)
        if figure is not None:
            from infantall.reports.figures.survival import plot_km, save_figure

            fig = plot_km(
                curves,
                time_scale=shown,
                time_unit=report_unit,
                annotation=annotation,
                title=title,
                ylabel=ylabel,
                xlabel=_labels(xlabel, report_unit),
            )
            save_figure(fig, figure)
            meta["figure"] = str(figure)
        if fmt is Format.table:
            records = [_km_display(r, hz, time_unit) for r in records]
        sections = [Section("records", records, title="Kaplan-Meier")]
        if tests:
            sections.append(Section("tests", tests_records(tests)))
        emit_sections(sections, fmt, meta=meta, output=output)


@analyze_app.command("cif")
def cif_command(
    data: Path = DataArg,
    *,
    time: str = TimeOpt,
    status: str = StatusOpt,
    group: str | None = typer.Option(None, "--group", "-g", help="Column of groups."),
    horizon: list[str] | None = HorizonOpt,
    time_unit: str = UnitOpt,
    report_unit: str = ReportUnitOpt,
    rho: float = typer.Option(0.0, "--rho", help="Weight power of Gray's test (cmprsk rho)."),
    cause: int = typer.Option(1, "--cause", help="Cause drawn by group in the figure."),
    cause_label: list[str] | None = CauseLabelOpt,
    stacked: bool = typer.Option(
        False,
        "--stacked",
        help="Instead, stack every cause, one figure per group (FILE-<group>.png).",
    ),
    figure: Path | None = FigureOpt,
    title: str | None = TitleOpt,
    xlabel: str | None = XlabelOpt,
    ylabel: str | None = typer.Option(
        None, "--ylabel", help="Vertical-axis label ('(%)' added; default: Cumulative incidence)."
    ),
    table: Path | None = TableOpt,
    complete_cases: bool = CompleteOpt,
    output: Path | None = OutputOption,
    fmt: Format = FormatOption,
) -> None:
    """Cumulative incidence (Aalen-Johansen) per cause with SE and CI; Gray's test.

    The figure shows one cause (--cause) for every group with the numbers at risk and
    Gray's p; --stacked draws all causes stacked, one figure per group. Example: infantall
    analyze cif cohort.csv --time cir_days --status cir_status --group kmt2a --horizon 5
    """
    with run_safely():
        from infantall.outcomes import cumulative_incidence

        raw = read_csv(data, [time, status, group])
        df, dropped = complete_rows(raw, [time, status, group], not complete_cases)
        unit = unit_days(time_unit)
        shown = unit_days(report_unit, "--report-unit") / unit
        hz = parse_horizons(horizon or ["5"], report_unit, time_unit)
        res = cumulative_incidence(
            df[time], df[status], None if group is None else df[group], rho=rho
        )
        if cause not in res.causes:
            fail(f"--cause {cause} is not a cause of {status} (causes: {list(res.causes)})")
        records = [_cif_record(c, h, row) for c in res.curves for h, row in _at(c, hz)]
        meta: dict[str, Any] = {"time_unit": time_unit, "report_unit": report_unit, "rho": rho}
        _meta_rows(meta, dropped, len(raw))
        tests = [
            {"test": "Gray", "cause": t.cause, "statistic": t.statistic, "df": t.df,
             "p_value": t.p_value}
            for t in res.tests
        ]  # fmt: skip
        if table is not None:
            write_table(cif_steps(res, time_unit, report_unit, shown), table)
            meta["table"] = str(table)
        if figure is not None:
            labels = cause_labels(cause_label)
            opts = {
                "time_scale": shown,
                "time_unit": report_unit,
                "title": title,
                "xlabel": _labels(xlabel, report_unit),
            }
            meta["figure"] = cif_figures(
                res, df, time, group, figure, stacked, cause, labels, ylabel, opts
            )
        if fmt is Format.table:
            records = [_cif_display(r) for r in records]
        sections = [Section("records", records, title="Cumulative incidence")]
        if tests:
            sections.append(Section("tests", tests_records(tests)))
        emit_sections(sections, fmt, meta=meta, output=output)


def _at(curve: Any, hz: list[Horizon]) -> Any:
    return zip(hz, curve.at([h.data_time for h in hz]).itertuples(), strict=True)


def _cif_record(curve: Any, h: Horizon, row: Any) -> dict[str, Any]:
    return {
        "group": curve.group,
        "cause": curve.cause,
        "horizon": h.value,
        "unit": h.unit,
        "estimate_pct": pct(row.estimate),
        "se_pct": pct(row.std_err),
        "lower_pct": pct(row.lower),
        "upper_pct": pct(row.upper),
    }


def _cif_display(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "group": r["group"],
        "cause": r["cause"],
        "horizon": f"{r['horizon']:g} {r['unit']}",
        "estimate % (SE)": f"{_s(r['estimate_pct'])} ({_s(r['se_pct'])})",
        "95% CI": f"{_s(r['lower_pct'])}-{_s(r['upper_pct'])}",
    }


def _s(x: Any) -> str:
    return "n/e" if x is None else f"{x:.1f}"


def _num(x: Any) -> float:
    return float(x)


def _km_display(rec: dict[str, Any], horizons: list[Horizon], unit: str) -> dict[str, Any]:
    """A compact, human-readable row (table format)."""
    med = "NA" if rec["median"] is None else f"{rec['median']:g}"
    lo = "NA" if rec["median_lower"] is None else f"{rec['median_lower']:g}"
    hi = "NA" if rec["median_upper"] is None else f"{rec['median_upper']:g}"
    out: dict[str, Any] = {
        "group": rec["group"],
        "n": rec["n"],
        "events": rec["events"],
        f"median (95% CI), {unit}": f"{med} ({lo}-{hi})",
    }
    for h in horizons:
        key = h.label
        out[f"{key} % (SE) [95% CI]"] = (
            f"{_s(rec[f'surv_{key}_pct'])} ({_s(rec[f'se_{key}_pct'])}) "
            f"[{_s(rec[f'lower_{key}_pct'])}-{_s(rec[f'upper_{key}_pct'])}]"
        )
        out[f"{key} at risk"] = rec[f"at_risk_{key}"]
    return out


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _km_record(curve: Any, res: Any, horizons: list[Horizon]) -> dict[str, Any]:
    """One group's n, events, median (95% CI) and survival at each horizon (in %)."""
    med, lo, hi = curve.median()
    rec: dict[str, Any] = {
        "group": curve.label,
        "n": curve.n,
        "events": curve.n_events,
        "median": _finite(float(med)),
        "median_lower": _finite(float(lo)),
        "median_upper": _finite(float(hi)),
    }
    for h, t in zip(horizons, res.horizons, strict=True):
        row = res.row(curve.label, t)
        key = h.label
        rec[f"surv_{key}_pct"] = pct(row.survival)
        rec[f"se_{key}_pct"] = pct(row.std_err)
        rec[f"lower_{key}_pct"] = pct(row.lower)
        rec[f"upper_{key}_pct"] = pct(row.upper)
        rec[f"at_risk_{key}"] = int(_num(row.n_risk))
    return rec


analyze_app.command("cox")(cox_command)
analyze_app.command("finegray")(finegray_command)
analyze_app.command("hsct")(hsct_command)
analyze_app.command("multistate")(multistate_command)


def register(app: typer.Typer) -> None:
    """Add ``infantall analyze ...`` to the root command."""
    app.add_typer(analyze_app, name="analyze")
