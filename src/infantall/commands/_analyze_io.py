"""Reading, units, horizons and step tables shared by the ``infantall analyze`` commands.

Only Typer and the standard library at module level (pandas is imported inside), so that
``infantall --help`` stays fast.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from infantall.commands._output import fail

__all__ = [
    "UNIT_DAYS",
    "CompleteOpt",
    "CovariatesOpt",
    "DataArg",
    "EventOpt",
    "FigureOpt",
    "Horizon",
    "HorizonOpt",
    "ReportUnitOpt",
    "StatusOpt",
    "TableOpt",
    "TimeOpt",
    "TitleOpt",
    "UnitOpt",
    "XlabelOpt",
    "cause_labels",
    "cif_figures",
    "cif_steps",
    "complete_rows",
    "km_steps",
    "parse_horizons",
    "pct",
    "read_csv",
    "run_safely",
    "tests_records",
    "unit_days",
    "write_table",
]

#: days in one unit of time
UNIT_DAYS = {"days": 1.0, "months": 365.25 / 12, "years": 365.25}
_SUFFIX = {"d": "days", "m": "months", "y": "years"}
_HORIZON = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([dmy]?)\s*$")


def _err(field: str, reason: str, code: str) -> Exception:
    from infantall.errors import InvalidInputError

    return InvalidInputError(field, reason, code)


def read_csv(path: Path, columns: Sequence[str | None]) -> Any:
    """The CSV at ``path`` with every named column present (a "did you mean" otherwise).

    Raises ``file_not_found`` for a missing file, ``unreadable_file`` for a folder or a file
    that is not CSV, ``unknown_column`` naming the closest column.
    """
    import pandas as pd

    from infantall.outcomes.formula import suggest_column

    if not path.exists():
        raise _err(str(path), "file not found", "file_not_found")
    if not path.is_file():
        raise _err(str(path), "is a folder, not a CSV file", "unreadable_file")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = f"cannot be read as CSV ({str(exc).splitlines()[0]})"
        raise _err(str(path), reason, "unreadable_file") from exc
    for c in columns:
        if c is not None and c not in df.columns:
            hint = suggest_column(c, list(df.columns))
            reason = f"is not a column of {path.name}{hint} (columns: {', '.join(df.columns)})"
            raise _err(c, reason, "unknown_column")
    return df


def complete_rows(df: Any, columns: Sequence[str | None], keep_all: bool) -> tuple[Any, list[int]]:
    """Rows without a missing value in ``columns``, and the 1-based numbers of those dropped.

    With ``keep_all`` (``--no-complete-cases``) a missing value is an error naming the
    column (``missing_value``), as before R's ``na.omit``.
    """
    cols = [c for c in dict.fromkeys(columns) if c is not None]
    bad = df[cols].isna()
    rows = bad.any(axis=1)
    if keep_all and rows.any():
        col = next(c for c in cols if bad[c].any())
        raise _err(col, f"has {int(bad[col].sum())} missing value(s)", "missing_value")
    dropped = [int(i) + 1 for i, b in enumerate(rows.to_numpy()) if b]
    return df.loc[~rows.to_numpy()].reset_index(drop=True), dropped


def unit_days(unit: str, option: str = "--time-unit") -> float:
    """Days in one ``unit`` (``days``, ``months``, ``years``)."""
    if unit not in UNIT_DAYS:
        raise _err(option, f"must be one of {', '.join(UNIT_DAYS)}, not {unit!r}", "bad_option")
    return UNIT_DAYS[unit]


@dataclass(frozen=True, slots=True)
class Horizon:
    """A horizon as typed (``5``, ``60m``), its label (``5y``, ``60m``) and its data time."""

    value: float
    unit: str
    data_time: float

    @property
    def label(self) -> str:
        """``5y``, ``60m`` or ``1826d``: the suffix of the record keys."""
        return f"{self.value:g}{self.unit[0]}"


def parse_horizons(values: Sequence[str] | None, report_unit: str, time_unit: str) -> list[Horizon]:
    """Horizons in ``report_unit`` (or with their own suffix d/m/y) in the time column's unit."""
    out = []
    for v in values or []:
        m = _HORIZON.match(v)
        if m is None:
            raise _err("--horizon", f"{v!r} is not a number with an optional d/m/y", "bad_horizon")
        unit = _SUFFIX[m.group(2)] if m.group(2) else report_unit
        value = float(m.group(1))
        if value <= 0:
            raise _err("--horizon", f"{v!r} must be positive", "bad_horizon")
        out.append(Horizon(value, unit, value * UNIT_DAYS[unit] / UNIT_DAYS[time_unit]))
    return out


def pct(x: Any) -> float | None:
    """A probability as a percentage rounded to 0.01, or ``None`` when not estimable."""
    v = float(x)
    return None if not math.isfinite(v) else round(100.0 * v, 2)


def tests_records(tests: Sequence[Any]) -> list[dict[str, Any]]:
    """Tests as rows ``test, cause, statistic, df, p_value`` (numbers, not strings)."""
    return [
        {
            "test": t["test"],
            "cause": t.get("cause"),
            "statistic": t["statistic"],
            "df": t["df"],
            "p_value": t["p_value"],
        }
        for t in tests
    ]


def write_table(table: Any, path: Path) -> None:
    """Write a step table (DataFrame) as CSV; ``unwritable_path`` when it cannot."""
    if path.suffix.lower() != ".csv":
        raise _err(str(path), "the step table is written as a .csv file", "bad_option")
    try:
        table.to_csv(path, index=False)
    except OSError as exc:
        reason = f"cannot write the table ({exc.strerror or exc})"
        raise _err(str(path), reason, "unwritable_path") from exc


TimeOpt = typer.Option(..., "--time", "-t", help="Column of follow-up times.")
UnitOpt = typer.Option("days", "--time-unit", help="Unit of the time column: days, months, years.")
ReportUnitOpt = typer.Option(
    "years",
    "--report-unit",
    help="Unit of --horizon, of the figure's time axis and of the step table: days, months, years.",
)
HorizonOpt = typer.Option(
    None,
    "--horizon",
    help="Report estimates at this time, in --report-unit (default years) or with a suffix: "
    "5y, 60m, 1826d (repeatable).",
    show_default=False,
)
FigureOpt = typer.Option(None, "--figure", help="Write the figure to this .png, .svg or .pdf file.")
TitleOpt = typer.Option(None, "--title", help="Title of the figure.")
XlabelOpt = typer.Option(
    None, "--xlabel", help="Time-axis label (default: Time since diagnosis (<report unit>))."
)
TableOpt = typer.Option(
    None, "--table", help="Write the full step table (every time, at risk, estimate, CI) as CSV."
)
CompleteOpt = typer.Option(
    True,
    "--complete-cases/--no-complete-cases",
    help="Drop rows with a missing value in a used column and list them (as R), or refuse them.",
)
DataArg = typer.Argument(..., help="CSV file, one row per patient.")
EventOpt = typer.Option(..., "--event", "-e", help="Column of event indicators (1/0).")
StatusOpt = typer.Option(
    ..., "--status", "-s", help="Column of codes: 0 censored, 1, 2, ... competing causes."
)
CovariatesOpt = typer.Option(
    ...,
    "--covariates",
    "-c",
    help="Formula (age + C(stage) + log(bili); text columns and C(x) are factors, the "
    "reference level is shown) or comma-separated columns.",
)


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


def cause_labels(values: list[str] | None) -> dict[int, str]:
    out: dict[int, str] = {}
    for v in values or []:
        code, sep, name = v.partition("=")
        if not sep or not code.strip().isdigit() or not name.strip():
            fail(f"--cause-label {v!r} must be CODE=NAME, e.g. 1=Relapse")
        out[int(code)] = name.strip()
    return out


def cif_figures(
    res: Any,
    df: Any,
    time: str,
    group: str | None,
    figure: Path,
    stacked: bool,
    cause: int,
    labels: dict[int, str],
    ylabel: str | None,
    opts: dict[str, Any],
) -> str:
    """Draw the CIF figure(s); returns the file name(s) for the output."""
    from infantall.reports.figures.survival import plot_cif, plot_cif_stacked, save_figure

    if stacked:
        names = {c: labels.get(c, f"Cause {c}") for c in res.causes}
        paths = []
        for g in res.groups:
            path = figure if len(res.groups) == 1 else figure.with_stem(f"{figure.stem}-{g}")
            title = opts["title"] if len(res.groups) == 1 else f"{opts['title'] or group}: {g}"
            fig = plot_cif_stacked(
                res,
                group=g,
                cause_labels=names,
                ylabel=ylabel or "Cumulative incidence",
                **{**opts, "title": title},
            )
            paths.append(str(save_figure(fig, path)))
        return ", ".join(paths)
    keys = df[group].astype(str) if group is not None else None
    times = {
        g: df[time].to_numpy()[(keys == g).to_numpy()] if keys is not None else df[time].to_numpy()
        for g in res.groups
    }
    gray = next((t for t in res.tests if t.cause == cause), None)
    fig = plot_cif(
        res,
        cause=cause,
        sizes={g: len(v) for g, v in times.items()},
        ylabel=ylabel or f"Cumulative incidence of {labels.get(cause, f'cause {cause}')}",
        times_by_group=times,
        annotation=None if gray is None else f"Gray's test p = {gray.p_value:.3g}",
        **opts,
    )
    return str(save_figure(fig, figure))


def cif_steps(res: Any, time_unit: str, report_unit: str, shown: float) -> Any:
    """Every curve's step table (cmprsk ``cuminc`` estimates and variances at each time)."""
    import pandas as pd

    table = pd.concat([c.summary for c in res.curves], ignore_index=True)
    if report_unit != time_unit:
        table.insert(3, f"time_{report_unit}", table["time"] / shown)
    return table.rename(columns={"time": f"time_{time_unit}"})


def km_steps(curves: Any, time_unit: str, report_unit: str, shown: float) -> Any:
    """Every curve's step table (R ``summary(survfit, censored=TRUE)``), times in both units."""
    import pandas as pd

    parts = []
    for c in curves:
        t = c.summary
        t.insert(0, "group", c.label)
        if report_unit != time_unit:
            t.insert(2, f"time_{report_unit}", t["time"] / shown)
        parts.append(t.rename(columns={"time": f"time_{time_unit}"}))
    return pd.concat(parts, ignore_index=True)
