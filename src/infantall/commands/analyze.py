"""``infantall analyze km|cif|cox|hsct``: survival analyses of a CSV file.

Only Typer and the standard library are imported here; pandas, NumPy and matplotlib are
imported inside the commands so that ``infantall --help`` stays fast.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail

__all__ = ["ORDER", "register", "run_safely"]

ORDER = 40

analyze_app = typer.Typer(
    help=(
        "Survival analyses of a CSV file (one row per patient): Kaplan-Meier, cumulative "
        "incidence, Cox, HSCT as a time-dependent exposure. Checked against R survival/cmprsk."
    ),
    no_args_is_help=True,
)

#: days in one unit of the time column
_UNIT_DAYS = {"days": 1.0, "months": 365.25 / 12, "years": 365.25}

TimeOpt = typer.Option(..., "--time", "-t", help="Column of follow-up times.")
UnitOpt = typer.Option("days", "--time-unit", help="Unit of the time column: days, months, years.")
HorizonOpt = typer.Option(
    None, "--horizon", help="Report estimates at this many YEARS (repeatable).", show_default=False
)
FigureOpt = typer.Option(None, "--figure", help="Write the figure to this .png, .svg or .pdf file.")
DataArg = typer.Argument(..., help="CSV file, one row per patient.")
EventOpt = typer.Option(..., "--event", "-e", help="Column of event indicators (1/0).")


@contextmanager
def run_safely() -> Iterator[None]:
    """Turn infantall errors into ``error: ...`` on stderr (exit 1) and show warnings."""
    from infantall.errors import InfantallError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except InfantallError as exc:
            _echo_warnings(caught)
            fail(str(exc))
        except (OSError, ValueError, KeyError) as exc:
            _echo_warnings(caught)
            fail(f"{type(exc).__name__}: {exc}")
    _echo_warnings(caught)


def _echo_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    for w in caught:
        msg = str(w.message)
        if msg not in seen:
            seen.add(msg)
            typer.echo(f"warning: {msg}", err=True)


def _read(path: Path, columns: list[str | None]) -> Any:
    import pandas as pd

    from infantall.errors import InvalidInputError

    if not path.is_file():
        raise InvalidInputError(str(path), "file not found", "unknown_column")
    df = pd.read_csv(path)
    for c in columns:
        if c is not None and c not in df.columns:
            raise InvalidInputError(
                c,
                f"is not a column of {path.name} (columns: {', '.join(df.columns)})",
                "unknown_column",
            )
    return df


def _unit(unit: str) -> float:
    if unit not in _UNIT_DAYS:
        fail(f"--time-unit must be one of {', '.join(_UNIT_DAYS)}")
    return _UNIT_DAYS[unit]


def _horizons(horizon: list[float] | None, unit_days: float) -> list[float]:
    return [h * 365.25 / unit_days for h in (horizon or [])]


def _num(x: Any) -> float:
    return float(x)


def _pct(x: Any) -> float | None:
    v = float(x)
    return None if math.isnan(v) else round(100.0 * v, 2)  # NaN -> None (JSON null)


@analyze_app.command("km")
def km_command(
    data: Path = DataArg,
    time: str = TimeOpt,
    event: str = EventOpt,
    group: str | None = typer.Option(None, "--group", "-g", help="Column of groups."),
    horizon: list[float] | None = HorizonOpt,
    time_unit: str = UnitOpt,
    conf_type: str = typer.Option("log-log", "--conf-type", help="log-log, log or plain."),
    test: str = typer.Option("logrank", "--test", help="logrank or peto (Peto-Peto, rho=1)."),
    figure: Path | None = FigureOpt,
    fmt: Format = FormatOption,
) -> None:
    """Kaplan-Meier: n, events, median (95% CI), survival at horizons with SE; log-rank.

    Example: infantall analyze km cohort.csv --time efs_days --event efs_event
    --group kmt2a --horizon 5
    """
    with run_safely():
        from infantall.outcomes import logrank_test, survival_at_horizons

        df = _read(data, [time, event, group])
        unit = _unit(time_unit)
        res = survival_at_horizons(
            df[time],
            df[event],
            None if group is None else df[group],
            _horizons(horizon, unit),
            conf_type=conf_type,  # type: ignore[arg-type]
            group_name=group,
        )
        curves = res.curves
        records = [_km_record(c, res, horizon or []) for c in curves.curves]
        meta: dict[str, Any] = {"time_unit": time_unit, "conf_type": conf_type}
        annotation = None
        if group is not None:
            rho = 1.0 if test == "peto" else 0.0
            lr = logrank_test(df[time], df[event], df[group], rho=rho)
            meta.update({"test": lr.test_name, "chisq": lr.chisq, "df": lr.df, "p": lr.p_value})
            annotation = f"{lr.test_name} p = {lr.p_value:.3g}"
        if figure is not None:
            from infantall.reports.figures.survival import plot_km, save_figure

            save_figure(plot_km(curves, time_scale=365.25 / unit, annotation=annotation), figure)
            meta["figure"] = str(figure)
        if fmt is Format.table:
            records = [_km_display(r, horizon or []) for r in records]
        emit_records(records, fmt, title="Kaplan-Meier", meta=meta)


@analyze_app.command("cif")
def cif_command(
    data: Path = DataArg,
    time: str = TimeOpt,
    status: str = typer.Option(
        ..., "--status", "-s", help="Column of codes: 0 censored, 1, 2, ... competing causes."
    ),
    group: str | None = typer.Option(None, "--group", "-g", help="Column of groups."),
    horizon: list[float] | None = HorizonOpt,
    time_unit: str = UnitOpt,
    rho: float = typer.Option(0.0, "--rho", help="Weight power of Gray's test (cmprsk rho)."),
    figure: Path | None = FigureOpt,
    fmt: Format = FormatOption,
) -> None:
    """Cumulative incidence (Aalen-Johansen) per cause with SE and CI; Gray's test.

    Example: infantall analyze cif cohort.csv --time cir_days --status cir_status
    --group kmt2a --horizon 5
    """
    with run_safely():
        from infantall.outcomes import cumulative_incidence

        df = _read(data, [time, status, group])
        unit = _unit(time_unit)
        res = cumulative_incidence(
            df[time], df[status], None if group is None else df[group], rho=rho
        )
        hz = _horizons(horizon or [5.0], unit)
        records = []
        for c in res.curves:
            for h_years, row in zip(horizon or [5.0], c.at(hz).itertuples(), strict=True):
                records.append(
                    {
                        "group": c.group,
                        "cause": c.cause,
                        "years": h_years,
                        "estimate_pct": _pct(row.estimate),
                        "se_pct": _pct(row.std_err),
                        "lower_pct": _pct(row.lower),
                        "upper_pct": _pct(row.upper),
                    }
                )
        meta: dict[str, Any] = {"time_unit": time_unit}
        for t in res.tests:
            meta[f"gray_cause{t.cause}"] = f"chisq={t.statistic:.4f}, df={t.df}, p={t.p_value:.4g}"
        if figure is not None:
            from infantall.reports.figures.survival import plot_cif_stacked, save_figure

            grp = res.groups[0]
            save_figure(plot_cif_stacked(res, group=grp, time_scale=365.25 / unit), figure)
            meta["figure"] = f"{figure} (group {grp})"
        if fmt is Format.table:
            records = [
                {
                    "group": r["group"],
                    "cause": r["cause"],
                    "years": r["years"],
                    "estimate % (SE)": f"{_s(r['estimate_pct'])} ({_s(r['se_pct'])})",
                    "95% CI": f"{_s(r['lower_pct'])}-{_s(r['upper_pct'])}",
                }
                for r in records
            ]
        emit_records(records, fmt, title="Cumulative incidence", meta=meta)


@analyze_app.command("cox")
def cox_command(
    data: Path = DataArg,
    time: str = TimeOpt,
    event: str = EventOpt,
    covariates: str = typer.Option(
        ..., "--covariates", "-c", help="Comma-separated numeric columns (0/1 for categories)."
    ),
    strata: str | None = typer.Option(None, "--strata", help="Column to stratify on."),
    ties: str = typer.Option("efron", "--ties", help="efron (R's default) or breslow."),
    figure: Path | None = FigureOpt,
    fmt: Format = FormatOption,
) -> None:
    """Cox model: HR (95% CI), p, concordance, global tests and the PH test (cox.zph).

    Example: infantall analyze cox cohort.csv --time efs_days --event efs_event
    --covariates kmt2a_r,age_days,wbc
    """
    with run_safely():
        from infantall.outcomes import cox_ph

        cols = [c.strip() for c in covariates.split(",") if c.strip()]
        df = _read(data, [time, event, strata, *cols])
        fit = cox_ph(df, time, event, cols, strata=strata, ties=ties)  # type: ignore[arg-type]
        zph = fit.ph_test()
        summary = fit.summary.assign(ph_p=zph.p_value[:-1])
        records = [{str(k): v for k, v in r.items()} for r in summary.to_dict("records")]
        meta = {
            "n": fit.n,
            "events": fit.n_events,
            "ties": ties,
            "strata": strata,
            "concordance": round(fit.concordance, 4),
            "likelihood_ratio": f"{fit.lr_test:.3f} on {len(cols)} df",
            "wald": f"{fit.wald_test:.3f}",
            "score": f"{fit.score_test:.3f}",
            "ph_global_p": float(zph.p_value[-1]),
        }
        if figure is not None:
            from infantall.reports.figures.survival import plot_forest, save_figure

            save_figure(plot_forest(fit), figure)
            meta["figure"] = str(figure)
        if fmt is Format.table:
            records = [
                {
                    "covariate": r["covariate"],
                    "HR (95% CI)": f"{r['hr']:.3g} ({r['hr_lower']:.3g}-{r['hr_upper']:.3g})",
                    "p": f"{r['p']:.3g}",
                    "PH test p": f"{r['ph_p']:.3g}",
                }
                for r in records
            ]
        emit_records(records, fmt, title="Cox proportional hazards", meta=meta)


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
    from infantall.outcomes.questions import histories_hsct_analysis, hsct_analysis

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
    return "NA" if x is None else f"{x:.1f}"


def _km_display(rec: dict[str, Any], horizons: list[float]) -> dict[str, Any]:
    """A compact, human-readable row (table format)."""
    out: dict[str, Any] = {
        "group": rec["group"],
        "n": rec["n"],
        "events": rec["events"],
        "median (95% CI)": f"{rec['median']:g} ({rec['median_lower']:g}-{rec['median_upper']:g})",
    }
    for h in horizons:
        key = f"{h:g}y"
        out[f"{key} % (SE) [95% CI]"] = (
            f"{_s(rec[f'surv_{key}_pct'])} ({_s(rec[f'se_{key}_pct'])}) "
            f"[{_s(rec[f'lower_{key}_pct'])}-{_s(rec[f'upper_{key}_pct'])}]"
        )
        out[f"{key} at risk"] = rec[f"at_risk_{key}"]
    return out


def _km_record(curve: Any, res: Any, horizon_years: list[float]) -> dict[str, Any]:
    """One group's n, events, median (95% CI) and survival at each horizon (in %)."""
    med, lo, hi = curve.median()
    rec: dict[str, Any] = {
        "group": curve.label,
        "n": curve.n,
        "events": curve.n_events,
        "median": med,
        "median_lower": lo,
        "median_upper": hi,
    }
    for h_years, h in zip(horizon_years, res.horizons, strict=True):
        row = res.row(curve.label, h)
        key = f"{h_years:g}y"
        rec[f"surv_{key}_pct"] = _pct(row.survival)
        rec[f"se_{key}_pct"] = _pct(row.std_err)
        rec[f"lower_{key}_pct"] = _pct(row.lower)
        rec[f"upper_{key}_pct"] = _pct(row.upper)
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


def register(app: typer.Typer) -> None:
    """Add ``infantall analyze ...`` to the root command."""
    app.add_typer(analyze_app, name="analyze")
