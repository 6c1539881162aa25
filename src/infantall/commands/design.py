"""``infantall design``: sample size, boundaries, historical-control designs, simulation.

Only Typer and the standard library are imported here; the maths is imported inside the
commands so that ``infantall --help`` stays fast.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer

from infantall.commands._design_borrowing import prior, single_arm
from infantall.commands._design_classical import futility, simon
from infantall.commands._output import Format, FormatOption, emit_records, fail
from infantall.errors import InvalidInputError

__all__ = ["ORDER", "parse_rate", "parse_years", "register"]

ORDER = 60

design_app = typer.Typer(
    help=(
        "Trial design for a rare disease: survival sample size (rpact-validated), "
        "group-sequential boundaries, single-arm designs against a historical control, and "
        "simulation of Bayesian adaptive multi-arm trials. Research only."
    ),
    no_args_is_help=True,
)

_CONFIG_ARG = typer.Argument(..., help="Trial specification (YAML), e.g. examples/design/.")

_UNIT = {
    "y": 1.0,
    "yr": 1.0,
    "year": 1.0,
    "years": 1.0,
    "m": 1 / 12,
    "mo": 1 / 12,
    "months": 1 / 12,
}


def parse_years(text: str, field: str) -> float:
    """``"2y"``, ``"24m"`` or ``"2"`` (years) -> years."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", text.lower())
    if m is None or m.group(2) not in {"", *_UNIT}:
        raise InvalidInputError(field, f"{text!r} is not a duration like 2y or 24m", "bad_duration")
    return float(m.group(1)) * _UNIT.get(m.group(2), 1.0)


def parse_rate(text: str, field: str) -> float:
    """``"30/y"``, ``"2.5/m"`` or ``"30"`` (per year) -> per year."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(?:/\s*([a-z]+))?\s*", text.lower())
    if m is None or (m.group(2) is not None and m.group(2) not in _UNIT):
        raise InvalidInputError(field, f"{text!r} is not a rate like 30/y or 2.5/m", "bad_rate")
    return float(m.group(1)) / _UNIT.get(m.group(2) or "y", 1.0)


def _error(exc: InvalidInputError) -> None:
    fail(f"{exc.field}: {exc.reason} [{exc.code}]")


@design_app.command("sample-size")
def sample_size(
    *,
    hr: float = typer.Option(..., "--hr", help="Hazard ratio treatment/control under H1."),
    median_control: str | None = typer.Option(
        None, "--median-control", help="Median survival of control, e.g. 2y or 24m."
    ),
    control_landmark: str | None = typer.Option(
        None, "--control-landmark", help="Control survival at a time, e.g. 0.40@2y (exponential)."
    ),
    accrual: str | None = typer.Option(
        None, "--accrual", help="Accrual rate, e.g. 30/y (the accrual duration is solved for)."
    ),
    accrual_duration: str | None = typer.Option(
        None, "--accrual-duration", help="Fixed uniform accrual period, e.g. 3y."
    ),
    follow_up: str = typer.Option("2y", "--follow-up", help="Follow-up after accrual ends."),
    alpha: float = typer.Option(
        0.025, "--alpha", help="Significance level (one-sided if --sided 1)."
    ),
    power: float = typer.Option(0.8, "--power"),
    sided: int = typer.Option(1, "--sided", help="1 or 2."),
    allocation: float = typer.Option(1.0, "--allocation", help="Treatment:control ratio."),
    method: str = typer.Option("schoenfeld", "--method", help="schoenfeld or freedman."),
    dropout: str | None = typer.Option(None, "--dropout", help="Drop-out, e.g. 0.05/y."),
    looks: int = typer.Option(1, "--looks", help="Analyses (> 1: Lan–DeMets group-sequential)."),
    spending: str = typer.Option("obrien-fleming", "--spending", help="obrien-fleming or pocock."),
    fmt: Format = FormatOption,
) -> None:
    """Events and patients for a two-arm log-rank test (as rpact getSampleSizeSurvival)."""
    from infantall.design import (
        Accrual,
        PiecewiseExponential,
        group_sequential_design,
        sample_size_survival,
    )

    try:
        if (median_control is None) == (control_landmark is None):
            raise InvalidInputError(
                "--median-control", "give either --median-control or --control-landmark", "missing"
            )
        if median_control is not None:
            control = PiecewiseExponential.from_median(
                parse_years(median_control, "--median-control")
            )
        else:
            prob, _, when = str(control_landmark).partition("@")
            if not when:
                raise InvalidInputError("--control-landmark", "write it as 0.40@2y", "bad_landmark")
            control = PiecewiseExponential.from_landmark(
                float(prob), parse_years(when, "--control-landmark")
            )
        if (accrual is None) == (accrual_duration is None):
            raise InvalidInputError(
                "--accrual", "give either --accrual (rate) or --accrual-duration", "missing"
            )
        acc = (
            Accrual.per_year(parse_rate(accrual, "--accrual"))
            if accrual is not None
            else Accrual.uniform(parse_years(str(accrual_duration), "--accrual-duration"))
        )
        drop_rate = parse_rate(dropout, "--dropout") if dropout is not None else 0.0
        if method not in ("schoenfeld", "freedman"):
            raise InvalidInputError("--method", "must be schoenfeld or freedman", "unknown_method")
        if spending not in ("obrien-fleming", "pocock"):
            raise InvalidInputError("--spending", "must be obrien-fleming or pocock", "unknown")
        design = (
            group_sequential_design(looks, alpha=alpha, sided=sided, spending=spending)  # type: ignore[arg-type]
            if looks > 1
            else None
        )
        res = sample_size_survival(
            hr,
            control,
            acc,
            parse_years(follow_up, "--follow-up"),
            alpha=alpha,
            power=power,
            sided=sided,
            allocation_ratio=allocation,
            method=method,  # type: ignore[arg-type]
            dropout_rate=min(drop_rate, 0.999),
            dropout_time=1.0,
            design=design,
        )
    except InvalidInputError as exc:
        _error(exc)
        return
    record = {
        "events": res.events,
        "patients": res.patients,
        "patients_control": res.patients_control,
        "patients_treatment": res.patients_treatment,
        "accrual_years": res.accrual_duration,
        "study_years": res.study_duration,
        "accrual_per_year": res.accrual_rate,
        "prob_event_control": res.prob_event_control,
        "prob_event_treatment": res.prob_event_treatment,
        "inflation_factor": res.inflation_factor,
    }
    meta = {
        "method": method,
        "hazard_ratio": hr,
        "alpha": res.alpha,
        "sided": res.sided,
        "power": power,
        "looks": looks,
        "reference": "rpact getSampleSizeSurvival (values checked in tests/design/reference)",
    }
    emit_records([record], fmt, title="Log-rank sample size", meta=meta)


@design_app.command("boundaries")
def boundaries(
    looks: int = typer.Option(3, "--looks", help="Number of analyses, equally spaced."),
    alpha: float = typer.Option(0.025, "--alpha"),
    sided: int = typer.Option(1, "--sided"),
    spending: str = typer.Option("obrien-fleming", "--spending", help="obrien-fleming or pocock."),
    rates: str | None = typer.Option(
        None, "--information-rates", help="Comma-separated fractions ending at 1, e.g. 0.3,0.7,1."
    ),
    fmt: Format = FormatOption,
) -> None:
    """Lan–DeMets alpha-spending efficacy boundaries (matches rpact getDesignGroupSequential)."""
    from infantall.design import group_sequential_design

    try:
        if spending not in ("obrien-fleming", "pocock"):
            raise InvalidInputError("--spending", "must be obrien-fleming or pocock", "unknown")
        info = None
        if rates is not None:
            try:
                info = [float(v) for v in rates.split(",")]
            except ValueError:
                raise InvalidInputError(
                    "--information-rates", "must be numbers separated by commas", "bad_rates"
                ) from None
        d = group_sequential_design(
            None if info is not None else looks,
            alpha=alpha,
            sided=sided,
            spending=spending,  # type: ignore[arg-type]
            information_rates=info,
        )
    except InvalidInputError as exc:
        _error(exc)
        return
    records = [{str(k): v for k, v in r.items()} for r in d.summary.to_dict(orient="records")]
    emit_records(
        records,
        fmt,
        title=f"Lan–DeMets {spending} boundaries",
        meta={"alpha": alpha, "sided": sided, "spending": spending},
    )


@design_app.command("historical")
def historical(
    *,
    trial: str | None = typer.Option(
        None, "--trial", help="Historical trial id, e.g. interfant-06."
    ),
    population: str = typer.Option("kmt2a-r", "--population", help="Population, e.g. kmt2a-r."),
    endpoint: str = typer.Option("efs", "--endpoint", help="efs, os, dfs, ..."),
    horizon: float = typer.Option(2.0, "--horizon", help="Landmark in years."),
    target: float = typer.Option(..., "--target", help="Landmark proportion hoped for."),
    p0: float | None = typer.Option(
        None, "--p0", help="Historical proportion, instead of --trial."
    ),
    conversion: str = typer.Option(
        "bound", "--conversion", help="When the horizon is not reported: bound or constant-hazard."
    ),
    accrual: str | None = typer.Option(
        None, "--accrual", help="Accrual rate, e.g. 40/y (default: the trial's N / accrual years)."
    ),
    follow_up: str | None = typer.Option(
        None, "--follow-up", help="Follow-up after accrual (default: the horizon)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="One-sided significance level."),
    power: float = typer.Option(0.8, "--power"),
    fmt: Format = FormatOption,
) -> None:
    """Single-arm trial against a historical control: exact binomial and one-sample log-rank."""
    from infantall.design.questions import historical_control_designs, single_arm_designs
    from infantall.evidence import load_evidence

    try:
        per_year = parse_rate(accrual, "--accrual") if accrual is not None else None
        fu = parse_years(follow_up, "--follow-up") if follow_up is not None else None
        if (trial is None) == (p0 is None):
            raise InvalidInputError("--trial", "give either --trial or --p0", "missing")
        if trial is not None:
            res = historical_control_designs(
                load_evidence().frame,
                trial,
                [target],
                population=population,
                endpoint=endpoint,
                horizon_years=horizon,
                conversion=conversion,  # type: ignore[arg-type]
                accrual_per_year=per_year,
                follow_up_years=fu,
                alpha=alpha,
                power=power,
            )
        else:
            if per_year is None:
                raise InvalidInputError("--accrual", "needed with --p0 (e.g. 40/y)", "missing")
            res = single_arm_designs(
                float(p0),  # type: ignore[arg-type]
                [target],
                horizon_years=horizon,
                accrual_per_year=per_year,
                follow_up_years=fu,
                alpha=alpha,
                power=power,
            )
    except InvalidInputError as exc:
        _error(exc)
        return
    emit_records(
        [
            {k: v for k, v in r.items() if k not in ("target", "hazard_ratio")}
            for r in res.records()
        ],
        fmt,
        title="Single-arm designs against a historical control",
        meta=_historical_meta(res, endpoint),
    )


def _historical_meta(res: Any, endpoint: str) -> dict[str, Any]:
    """The CLI's notes of a :class:`~infantall.design.questions.HistoricalControlDesigns`."""
    meta: dict[str, Any] = {}
    hist = res.historical
    if hist is not None:
        meta.update(
            {
                "historical": f"{hist.study} ({hist.population}): {endpoint} "
                f"{hist.reported_pct:g}% at {hist.reported_horizon_years:g} years",
                "conversion": hist.conversion,
                "source": hist.source,
                "quote": hist.quote,
            }
        )
        if res.bound_note is not None:
            meta["note"] = res.bound_note
    meta.update(
        {
            "p0": res.p0,
            "target": res.designs[0].target,
            "hazard_ratio": res.designs[0].hazard_ratio,
            "accrual_per_year": res.accrual_per_year,
            "alpha_one_sided": res.alpha,
        }
    )
    return meta


@design_app.command("accrual")
def accrual_table(
    group: str | None = typer.Option(None, "--group", help="Only this consortium, e.g. Interfant."),
    fmt: Format = FormatOption,
) -> None:
    """Patients per year of each trial in the evidence base (N over accrual years)."""
    from infantall.design.accrual import consortium_accrual
    from infantall.evidence import load_evidence

    try:
        table = consortium_accrual(load_evidence().frame)
    except InvalidInputError as exc:
        _error(exc)
        return
    if group is not None:
        table = table[table["group"].str.lower() == group.lower()]
        if table.empty:
            fail(f"--group: no trial of group {group!r} in the evidence base")
    emit_records(
        [{str(k): v for k, v in r.items()} for r in table.to_dict(orient="records")],
        fmt,
        title="Accrual per trial",
        meta={"convention": "accrual years counted inclusively (2006–2016 = 11 years)"},
    )


_CLUSTER_OPTION = typer.Option(
    None,
    "--cluster-option",
    help="key=value for the batch cluster (queue, walltime, account...; jobs=N batch jobs).",
)
_CHECKPOINT = typer.Option(
    None, "--checkpoint", help="Directory of finished blocks: a rerun resumes from it."
)


@design_app.command("simulate")
def simulate(
    config: Path = _CONFIG_ARG,
    trials: int = typer.Option(10_000, "--trials", help="Number of simulated trials."),
    seed: int = typer.Option(2026, "--seed"),
    workers: int | None = typer.Option(None, "--workers", help="Local Dask worker processes."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler address."),
    cluster: str | None = typer.Option(
        None, "--cluster", help="Run on a batch cluster: slurm or pbs (needs infantall[hpc])."
    ),
    cluster_option: list[str] | None = _CLUSTER_OPTION,
    checkpoint: Path | None = _CHECKPOINT,
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    calibrate: float | None = typer.Option(
        None, "--calibrate", help="First calibrate the superiority threshold to this type-I error."
    ),
    null: bool = typer.Option(
        False, "--null", help="Simulate the null scenario (all arms as control)."
    ),
    fmt: Format = FormatOption,
) -> None:
    """Simulate an adaptive multi-arm trial and print its operating characteristics."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from infantall.design.adaptive import calibrate_superiority, dask_client, load_spec, run_trials
    from infantall.design.adaptive.cluster import parse_options

    if sum(x is not None for x in (workers, scheduler, cluster)) > 1:
        fail("give only one of --workers, --scheduler, --cluster")
    console = Console(stderr=True)
    try:
        spec = load_spec(config)
        if trials < 1:
            raise InvalidInputError("--trials", "must be >= 1", "out_of_range")
        batch = parse_options(cluster_option or [])
        options: dict[str, Any] = {"checkpoint": checkpoint}
        meta: dict[str, Any] = {"design": spec.name, "seed": seed}
        with ExitStack() as stack:
            if workers is not None or scheduler is not None or cluster is not None:
                # one cluster for the calibration and the simulation (workers start once)
                options["client"] = stack.enter_context(
                    dask_client(
                        workers=workers,
                        scheduler=scheduler,
                        cluster=cluster,
                        cluster_jobs=int(batch.pop("jobs", 1)),
                        cluster_options=batch,
                    )
                )
            bar = stack.enter_context(
                Progress(
                    "[progress.description]{task.description}",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,
                    disable=quiet or not console.is_terminal,
                )
            )
            if calibrate is not None:
                task = bar.add_task("calibrating", total=trials)
                cal = calibrate_superiority(
                    spec,
                    calibrate,
                    trials,
                    seed,
                    progress=lambda n: bar.advance(task, n),
                    **options,
                )
                spec = spec.with_threshold(cal.threshold)
                meta.update(
                    {
                        "calibrated_threshold": cal.threshold,
                        "calibration_type1_error": cal.type1_error,
                    }
                )
            if null:
                spec = spec.with_null()
            task = bar.add_task("simulating", total=trials)
            result = run_trials(
                spec,
                trials,
                seed + 1 if calibrate is not None else seed,
                progress=lambda n: bar.advance(task, n),
                **options,
            )
    except InvalidInputError as exc:
        _error(exc)
        return
    oc = result.operating_characteristics()
    meta.update(oc.overall())
    meta["scenario"] = "null (every arm as control)" if null else "as specified"
    emit_records(oc.arm_records(), fmt, title=f"Operating characteristics: {spec.name}", meta=meta)


# ``design prior`` and ``design single-arm`` (borrowing from history) live in a helper module
# to keep this one under the 500-line limit.
design_app.command("prior")(prior)
design_app.command("single-arm")(single_arm)
# ``design simon`` and ``design futility`` (classical single-arm and group-sequential
# additions) live in a helper module too.
design_app.command("simon")(simon)
design_app.command("futility")(futility)


def register(app: typer.Typer) -> None:
    """Add ``infantall design`` to the root command."""
    app.add_typer(design_app, name="design")
