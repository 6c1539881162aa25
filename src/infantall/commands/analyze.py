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
from infantall.commands._output import (
    Format,
    FormatOption,
    OutputOption,
    Section,
    emit_records,
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


def _read(path: Path, columns: list[str | None]) -> Any:
    """The CSV with the named columns (see :func:`._analyze_io.read_csv`)."""
    return read_csv(path, columns)


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

        raw = _read(data, [time, event, group])
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

        raw = _read(data, [time, status, group])
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


_HSCT_DATA = typer.Argument(
    ...,
    help="Cohort or registry histories JSON (as 'cohort generate -o F.json' writes), "
    "or a CSV file with one row per patient.",
)


@analyze_app.command("hsct")
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
    df = _read(data, [time, event, hsct_time, strata, *cols])
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


analyze_app.command("cox")(cox_command)
analyze_app.command("finegray")(finegray_command)


def register(app: typer.Typer) -> None:
    """Add ``infantall analyze ...`` to the root command."""
    app.add_typer(analyze_app, name="analyze")


@analyze_app.command("multistate")
def multistate_command(
    data: Path = DataArg,
    *,
    id_col: str = typer.Option("id", "--id", help="Column of patient ids (CSV)."),
    start: str = typer.Option("tstart", "--start", help="Column of interval starts (CSV)."),
    stop: str = typer.Option("tstop", "--stop", help="Column of interval ends (CSV)."),
    state: str = typer.Option("state", "--state", help="Column of the state entered at stop."),
    initial: str | None = typer.Option(
        None, "--initial", help="State before a patient's first row ('(s0)'; 'diagnosis')."
    ),
    censored: str = typer.Option("censored", "--censored", help="State label of censored rows."),
    times: str = typer.Option("1,2,5", "--times", help="Comma-separated times of the table."),
    tau: float | None = typer.Option(None, "--tau", help="Horizon of the mean time in state."),
    figure: Path | None = FigureOpt,
    output: Path | None = OutputOption,
    fmt: Format = FormatOption,
) -> None:
    """Multi-state model (Aalen-Johansen): state occupation with IJ SE, transitions.

    DATA is a tmerge-shaped CSV (one row per (tstart, tstop] interval, the state entered at
    tstop or 'censored') or a JSON file of patient histories (the infant-ALL states, years
    from diagnosis). Example: infantall analyze multistate data.csv --id id --start tstart
    --stop tstop --state state --times 1,2,5 --format json
    """
    with run_safely():
        from infantall.outcomes.multistate import infant_all_data, multistate_data
        from infantall.outcomes.multistate.course import multistate_analysis

        if data.suffix.lower() == ".json":
            from infantall.outcomes.endpoints import read_histories

            msd = infant_all_data(read_histories(data), initial=initial or "diagnosis")
        else:
            frame = _read(data, [id_col, start, stop, state])
            msd = multistate_data(
                frame,
                id=id_col,
                start=start,
                stop=stop,
                state=state,
                initial=initial or "(s0)",
                censored=censored,
            )
        try:
            ts = [float(t) for t in times.split(",") if t.strip()]
        except ValueError:
            fail(f"--times {times!r}: give comma-separated numbers, e.g. 1,2,5")
        res = multistate_analysis(msd, ts, tau=tau)
        payload = res.to_dict()
        if figure is not None:
            from infantall.reports.figures.multistate import plot_occupation
            from infantall.reports.figures.survival import save_figure

            save_figure(plot_occupation(res.occupation), figure)
            payload["figure"] = str(figure)
        if fmt is Format.json:
            from infantall.commands._output import emit_json

            emit_json(payload, output)
            return
        sections = [
            Section("occupation", payload["occupation"], title="State occupation"),
            Section("transitions", payload["transitions"], title="Transitions"),
        ]
        if payload["time_in_state"]:
            sections.append(Section("time_in_state", payload["time_in_state"]))
        meta = {k: payload[k] for k in ("states", "initial", "time_unit", "n_patients")}
        emit_sections(sections, fmt, meta=meta, output=output)
