"""``infantall meta``, ``infantall meta-regress`` and ``infantall meta-hsct``: meta-analysis of
trial-level results from the evidence base or a user CSV (study, percent, n[, se,
horizon_years]). Only Typer and the standard library are imported at start-up."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail
from infantall.errors import InvalidInputError

__all__ = ["ORDER", "register"]

ORDER = 60


class MethodChoice(StrEnum):
    """τ² estimators offered on the command line."""

    reml = "reml"
    dl = "dl"
    pm = "pm"
    ml = "ml"
    fe = "fe"


class TransformChoice(StrEnum):
    """Pooling scales offered on the command line."""

    logit = "logit"
    arcsine = "arcsine"
    freeman_tukey = "freeman-tukey"
    raw = "raw"


class VarianceChoice(StrEnum):
    """Sources of the sampling variance."""

    auto = "auto"
    effective_count = "effective-count"
    supplied_se = "supplied-se"


_ENDPOINT = typer.Option("efs", "--endpoint", "-e", help="efs, os, dfs, cr, ... (evidence base).")
_POPULATION = typer.Option(
    "all", "--population", "-p", help="all, kmt2a-r, kmt2a-g, ... (comma list; 'any' for all)."
)
_HORIZON = typer.Option(
    None, "--horizon", help="Years; default: the most frequent horizon (stated in the output)."
)
_PROTOCOL = typer.Option(None, "--protocol-type", help="infant-specific or childhood.")
_GROUPS = typer.Option(None, "--group", "-g", help="Study group(s), comma separated.")
_FROM = typer.Option(None, "--from-year", help="Keep trials accruing in or after this year.")
_TO = typer.Option(None, "--to-year", help="Keep trials accruing in or before this year.")
_METHOD = typer.Option(MethodChoice.reml, "--method", "-m", help="τ² estimator.")
_TRANSFORM = typer.Option(TransformChoice.logit, "--transform", "-t", help="Pooling scale.")
_KNHA = typer.Option(False, "--knha", help="Knapp-Hartung t-based tests and intervals.")
_MIX = typer.Option(False, "--mix-horizons", help="Pool estimates at different horizons anyway.")
_CSV = typer.Option(
    None, "--csv", help="Pool this table (study, percent, n[, se, horizon_years]) instead."
)
_VARIANCE = typer.Option(
    VarianceChoice.auto, "--variance", help="auto (SE where given), effective-count, supplied-se."
)

_BY = typer.Option(
    None,
    "--by",
    help="Subgroups with a test of differences: group, era, protocol_type or population "
    "(with --csv: any column of the file).",
)
_L1O = typer.Option(False, "--leave-one-out", help="Refit without each study in turn.")
_INFLUENCE = typer.Option(False, "--influence", help="Case-deletion influence diagnostics.")
_FOREST = typer.Option(None, "--figure", help="Write a forest plot (PNG/SVG).")
_FUNNEL = typer.Option(None, "--funnel", help="Write a funnel plot (PNG/SVG).")
_ON = typer.Option(
    ["accrual_mid_year"],
    "--on",
    help="Moderator(s): accrual_mid_year, hsct_share, n, group, protocol_type, era "
    "(repeat the option for several).",
)
_BUBBLE = typer.Option(None, "--figure", help="Write the bubble plot (one numeric moderator).")
_TIMELINE = typer.Option(
    None, "--timeline", help="Write the EFS-over-time figure with the pooled trend."
)
_BY_STUDY = typer.Option(False, "--by-study", help="Print the per-study table instead.")


def _records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready mappings (NaN becomes None)."""
    import math

    out = []
    for row in frame.to_dict(orient="records"):
        out.append(
            {
                str(k): (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in row.items()
            }
        )
    return out


def _csv_labels(csv: Path, by: str) -> list[str]:
    """Subgroup label of each study of a user CSV: the values of its column ``by``."""
    import pandas as pd

    frame = pd.read_csv(csv)
    if by not in frame.columns:
        raise InvalidInputError("by", f"{csv} has no column {by!r}", "unknown_subgroup")
    return frame[by].astype(str).tolist()


_NUMPY_REPR = re.compile(r"np\.(?:float|int)\d*\(([^()]*)\)")
#: Egger's test needs 3 studies (1 residual df); below 10 its power is too low to rule out
#: small-study effects (Sterne et al. 2011, BMJ 343:d4002), which the output then says.
EGGER_MIN_STUDIES = 3
EGGER_ADVISED_STUDIES = 10


def _error(exc: InvalidInputError) -> None:
    """Print the error: plain numbers (never ``np.float64(...)``), a missing cell as missing."""
    reason, code = _NUMPY_REPR.sub(r"\1", exc.reason), exc.code
    if re.search(r"\bgot nan\b", reason):
        reason, code = "is missing (empty cell)", "missing_value"
    fail(f"{exc.field}: {reason} [{code}]")


def _egger(res: Any) -> dict[str, Any]:
    """Egger's test when it means something; else a note saying why it was not run."""
    import numpy as np

    from infantall.synthesis import egger_test

    if res.k < EGGER_MIN_STUDIES:
        return {"egger": f"not run: {res.k} studies (needs {EGGER_MIN_STUDIES})"}
    if np.ptp(np.sqrt(res.fit.v)) <= 1e-12 * float(np.max(np.sqrt(res.fit.v))):
        return {"egger": "not estimable: every study has the same standard error"}
    try:
        egger = egger_test(res)
    except InvalidInputError as exc:
        return {"egger": f"not estimable: {exc.reason}"}
    out: dict[str, Any] = {"egger_statistic": egger.statistic, "egger_p": egger.p}
    if res.k < EGGER_ADVISED_STUDIES:
        out["egger"] = (
            f"low power with {res.k} studies (< {EGGER_ADVISED_STUDIES}, Sterne et al. 2011): "
            "a non-significant test does not rule out small-study effects"
        )
    return out


def _selection(
    endpoint: str,
    population: str,
    horizon: float | None,
    protocol_type: str | None,
    groups: str | None,
    first: int | None,
    last: int | None,
    mix: bool,
) -> Any:
    from infantall.synthesis.evidence_inputs import select_estimates

    era = None if first is None and last is None else (first, last)
    return select_estimates(
        endpoint=endpoint,
        population=population,
        horizon=horizon,
        protocol_type=protocol_type,
        groups=groups,
        era=era,
        allow_mixed_horizons=mix,
    )


def _meta_info(notes: tuple[str, ...], record: dict[str, Any]) -> dict[str, Any]:
    from infantall import RESEARCH_DISCLAIMER

    return {**record, "notes": list(notes), "disclaimer": RESEARCH_DISCLAIMER}


def _clean(info: dict[str, Any], fmt: Format) -> dict[str, Any]:
    """NaN (e.g. the τ² CI of a fixed-effect model) becomes None: JSON has no NaN. For a
    person (table format) the notes are printed one per line."""
    import math

    out = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in info.items()}
    notes = out.get("notes")
    if fmt is Format.table and isinstance(notes, list):
        out["notes"] = "".join(f"\n  - {n}" for n in notes)
    return out


def _save(fig: Any, path: Path) -> None:
    from infantall.reports.figures.survival import save_figure

    save_figure(fig, path)
    typer.echo(f"figure written to {path}", err=True)


def _study_records(res: Any) -> list[dict[str, Any]]:
    table = res.study_table
    records = _records(table)
    records.append(
        {
            "study": f"Pooled ({res.method.value}, {res.transform.value})",
            "percent": res.estimate_pct,
            "n": res.n_total,
            "ci_low_pct": res.ci_low_pct,
            "ci_high_pct": res.ci_high_pct,
            "weight_pct": 100.0,
            "variance_source": "",
        }
    )
    return records


def meta(
    *,
    endpoint: str = _ENDPOINT,
    population: str = _POPULATION,
    horizon: float | None = _HORIZON,
    protocol_type: str | None = _PROTOCOL,
    groups: str | None = _GROUPS,
    from_year: int | None = _FROM,
    to_year: int | None = _TO,
    by: str | None = _BY,
    method: MethodChoice = _METHOD,
    transform: TransformChoice = _TRANSFORM,
    knha: bool = _KNHA,
    mix_horizons: bool = _MIX,
    csv: Path | None = _CSV,
    variance: VarianceChoice = _VARIANCE,
    leave_one_out: bool = _L1O,
    influence: bool = _INFLUENCE,
    figure: Path | None = _FOREST,
    funnel: Path | None = _FUNNEL,
    fmt: Format = FormatOption,
) -> None:
    """Pool an endpoint across trials (random effects; subgroups with --by).

    Example: infantall meta --endpoint efs --population kmt2a-r --method reml --transform logit
    """
    from infantall.synthesis import influence as influence_fn
    from infantall.synthesis import leave_one_out as l1o_fn
    from infantall.synthesis import (
        pool_proportions,
        read_proportions_csv,
        subgroup_analysis,
    )
    from infantall.synthesis.questions import selection_subgroups

    try:
        if csv is not None:
            inputs = read_proportions_csv(
                csv, variance=variance.value, allow_mixed_horizons=mix_horizons
            )
            sel: Any = None
        else:
            sel = _selection(
                endpoint,
                population,
                horizon,
                protocol_type,
                groups,
                from_year,
                to_year,
                mix_horizons,
            )
            inputs = sel.inputs(variance=variance.value, allow_mixed_horizons=mix_horizons)
        res = pool_proportions(inputs, transform=transform.value, method=method.value, knha=knha)
        if figure is not None:
            from infantall.reports.figures.synthesis import forest_plot

            label = endpoint.upper() if csv is None else csv.name
            _save(forest_plot(res, title=f"{label}: random-effects meta-analysis"), figure)
        if funnel is not None:
            from infantall.reports.figures.synthesis import funnel_plot

            _save(funnel_plot(res), funnel)
        info = _meta_info(res.notes, res.as_record())
        info.update(_egger(res))
        if by is not None:
            if csv is not None:
                sub = subgroup_analysis(
                    inputs,
                    _csv_labels(csv, by),
                    by=by,
                    transform=transform.value,
                    method=method.value,
                    knha=knha,
                )
            else:
                sub = selection_subgroups(
                    sel,
                    by,
                    variance=variance.value,
                    allow_mixed_horizons=mix_horizons,
                    transform=transform.value,
                    method=method.value,
                    knha=knha,
                )
            info.update(
                q_between=sub.q_between,
                df_between=sub.df_between,
                p_between=sub.p_between,
                notes=list(sub.notes),
            )
            records = _records(sub.table.drop(columns=["theta", "theta_se"]))
            title = f"{endpoint.upper() if csv is None else csv.name} by {by}"
        elif leave_one_out:
            records = _records(l1o_fn(res).drop(columns=["theta", "theta_se"]))
            title = "Leave-one-out"
        elif influence:
            records = _records(influence_fn(res.fit, res.inputs.study).table)
            title = "Influence diagnostics"
        else:
            records = _study_records(res)
            title = f"{endpoint.upper() if csv is None else csv.name}: pooled"
    except InvalidInputError as exc:
        _error(exc)
        return
    emit_records(records, fmt, title=title, meta=_clean(info, fmt))


def meta_regress(
    *,
    endpoint: str = _ENDPOINT,
    on: list[str] = _ON,
    population: str = _POPULATION,
    horizon: float | None = _HORIZON,
    protocol_type: str | None = _PROTOCOL,
    groups: str | None = _GROUPS,
    from_year: int | None = _FROM,
    to_year: int | None = _TO,
    method: MethodChoice = _METHOD,
    transform: TransformChoice = _TRANSFORM,
    knha: bool = _KNHA,
    mix_horizons: bool = _MIX,
    figure: Path | None = _BUBBLE,
    timeline: Path | None = _TIMELINE,
    fmt: Format = FormatOption,
) -> None:
    """Mixed-effects meta-regression of an endpoint on trial-level moderators.

    Example: infantall meta-regress --endpoint efs --on accrual_mid_year
    """
    from infantall.synthesis.questions import selection_regression

    try:
        sel = _selection(
            endpoint, population, horizon, protocol_type, groups, from_year, to_year, mix_horizons
        )
        res = selection_regression(
            sel,
            on,
            allow_mixed_horizons=mix_horizons,
            transform=transform.value,
            method=method.value,
            knha=knha,
        )
        if figure is not None or timeline is not None:
            _figures(res.regression, res.used, on, endpoint, figure, timeline)
    except InvalidInputError as exc:
        _error(exc)
        return
    info = _meta_info(res.notes, res.regression.as_record())
    emit_records(
        _records(res.summary),
        fmt,
        title=f"{endpoint.upper()} meta-regression on {', '.join(on)}",
        meta=_clean(info, fmt),
    )


def _figures(
    reg: Any, used: Any, on: list[str], endpoint: str, figure: Path | None, timeline: Path | None
) -> None:
    from infantall.reports.figures.synthesis import bubble_plot, efs_over_time_plot

    numeric = len(on) == 1 and reg.fit.x.shape[1] == 2 and on[0] not in ("group", "era")
    if not numeric:
        fail("figures need exactly one numeric moderator (e.g. --on accrual_mid_year)")
    if figure is not None:
        _save(
            bubble_plot(reg, on[0], used["study"].tolist(), ylabel=f"{endpoint.upper()} (%)"),
            figure,
        )
    if timeline is not None:
        if on[0] != "accrual_mid_year":
            fail("--timeline needs --on accrual_mid_year")
        _save(
            efs_over_time_plot(
                used,
                reg,
                title=f"{endpoint.upper()} of infant ALL trials over calendar time",
                ylabel=f"{endpoint.upper()} (%)",
            ),
            timeline,
        )


def meta_hsct(
    *,
    method: MethodChoice = _METHOD,
    transform: TransformChoice = _TRANSFORM,
    by_study: bool = _BY_STUDY,
    fmt: Format = FormatOption,
) -> None:
    """Outcomes after allogeneic HSCT in first CR, by study and pooled (seed 004 Table 3).

    Example: infantall meta-hsct
    """
    from infantall.synthesis.hsct import pool_hsct_outcomes

    try:
        syn = pool_hsct_outcomes(transform=transform.value, method=method.value)
    except InvalidInputError as exc:
        _error(exc)
        return
    table = syn.by_study if by_study else syn.pooled
    emit_records(
        _records(table),
        fmt,
        title="Allogeneic HSCT in first CR (seed 004 Table 3)",
        meta=_clean(
            _meta_info(syn.notes, {"method": method.value, "transform": transform.value}), fmt
        ),
    )


def register(app: typer.Typer) -> None:
    """Add the synthesis commands to the root app."""
    app.command("meta")(meta)
    app.command("meta-regress")(meta_regress)
    app.command("meta-hsct")(meta_hsct)
