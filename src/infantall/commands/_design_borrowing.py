"""``infantall design prior`` and ``infantall design single-arm``: borrowing from history.

Registered on ``infantall design`` by :mod:`infantall.commands.design`. The maths is imported
inside the commands so that ``infantall --help`` stays fast.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from infantall.commands._output import Format, FormatOption, emit_json, emit_records, fail
from infantall.errors import InvalidInputError

__all__ = ["prior", "single_arm"]

_DATA = typer.Option(None, "--data", help="Historical studies, CSV with columns study,events,n.")
_TRIAL = typer.Option(None, "--trial", help="Evidence trial id (repeat; default: every trial).")
_POP = typer.Option("kmt2a-r", "--population", help="Evidence population, e.g. kmt2a-r.")
_END = typer.Option("efs", "--endpoint", help="Evidence endpoint: efs, os, ...")
_HOR = typer.Option(2.0, "--horizon", help="Landmark in years.")
_CONV = typer.Option("bound", "--conversion", help="Unreported horizon: bound or constant-hazard.")
_NRULE = typer.Option("se", "--n-rule", help="Effective n: se (from a reported SE, else N) or n.")
_MU = typer.Option("normal:0:2", "--mu-prior", help="Prior of the mean logit: normal:M0:S0.")
_TAU = typer.Option("halfnormal:1", "--tau-prior", help="halfnormal:S, halfcauchy:S, halft:DF:S.")
_ROB = typer.Option(None, "--robust-weight", help="Weight w of the MAP part (vague: 1 - w).")
_ETYPE = typer.Option(
    "binary", "--endpoint-type", help="binary (a proportion at --horizon) or tte (hazards)."
)
_INTERVALS = typer.Option(
    "0,1,2", "--intervals", help="tte: interval starts in years, e.g. 0,0.5,1,2 (last open)."
)


def _per_year(text: str) -> float:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(?:/\s*(y|yr|year|m|mo|month))?\s*", text.lower())
    if m is None:
        raise InvalidInputError("--accrual", f"{text!r} is not a rate like 53/y", "bad_rate")
    return float(m.group(1)) * (12.0 if (m.group(2) or "y").startswith("m") else 1.0)


def _borrowing(options: dict[str, Any]) -> Any:
    from infantall.design.borrowing import borrowing_prior_from_options
    from infantall.evidence import load_evidence

    evidence = None if options["data"] is not None else load_evidence().frame
    return borrowing_prior_from_options(**options, evidence=evidence)


def _options(**kw: Any) -> dict[str, Any]:
    return {
        "data": kw["data"],
        "trials": kw["trial"],
        "population": kw["population"],
        "endpoint": kw["endpoint"],
        "horizon_years": kw["horizon"],
        "conversion": kw["conversion"],
        "n_rule": kw["n_rule"],
        "mu_prior": kw["mu_prior"],
        "tau_prior": kw["tau_prior"],
        "robust_weight": kw["robust_weight"],
    }


def _tte_prior(opts: dict[str, Any], intervals: str, fmt: Format) -> None:
    from infantall.design.borrowing.tte_questions import tte_borrowing_prior_from_options

    evidence = None
    if opts["data"] is None:
        from infantall.evidence import load_evidence

        evidence = load_evidence().frame
    try:
        res = tte_borrowing_prior_from_options(
            data=opts["data"],
            intervals=intervals,
            trials=opts["trials"],
            population=opts["population"],
            endpoint=opts["endpoint"],
            n_rule=opts["n_rule"],
            mu_prior=opts["mu_prior"],
            tau_prior=opts["tau_prior"],
            robust_weight=opts["robust_weight"],
            evidence=evidence,
        )
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason} [{exc.code}]")
    d = res.to_dict()
    if fmt is Format.json:
        emit_json(d)
        return
    meta: dict[str, Any] = {"ess_events_total": d["ess"], **d["model"]}
    if "robust_ess" in d:
        meta["robust_ess_events_total"] = d["robust_ess"]
    meta["mixture_total_variation"] = [iv["mixture_total_variation"] for iv in d["intervals"]]
    if "sources" in d:
        meta["studies"] = [
            f"{s['trial']}: {s['reported_pct']:g}% at {s['horizon_years']:g}y, {s['source']}"
            if s["used"]
            else f"{s['trial']}: not used ({s['reason']})"
            for s in d["sources"]
        ]
    rows = [{str(k): v for k, v in r.items()} for r in res.summary.to_dict(orient="records")]
    emit_records(rows, fmt, title="MAP prior (hazards)", meta=meta)


def prior(
    *,
    data: Path | None = _DATA,
    trial: list[str] | None = _TRIAL,
    population: str = _POP,
    endpoint: str = _END,
    horizon: float = _HOR,
    conversion: str = _CONV,
    n_rule: str = _NRULE,
    mu_prior: str = _MU,
    tau_prior: str = _TAU,
    robust_weight: float | None = _ROB,
    endpoint_type: str = _ETYPE,
    intervals: str = _INTERVALS,
    fmt: Format = FormatOption,
) -> None:
    """MAP prior from historical trials: exact quadrature, mixture, ESS, robust prior.

    ``--endpoint-type tte`` gives a prior on piecewise-constant hazards (one Gamma mixture per
    ``--intervals`` interval) from EFS at every reported horizon; ``--data`` is then a CSV with
    columns ``study,horizon,efs`` and ``n`` or ``se`` (EFS as a proportion).
    """
    opts = _options(**{k: v for k, v in locals().items() if k != "fmt"})
    if endpoint_type not in ("binary", "tte"):
        fail(
            f"--endpoint-type: must be binary or tte, not {endpoint_type!r} [unknown_endpoint_type]"
        )
    if endpoint_type == "tte":
        _tte_prior(opts, intervals, fmt)
        return
    try:
        res = _borrowing(opts)
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason} [{exc.code}]")
    d = res.to_dict()
    if fmt is Format.json:
        emit_json(d)
        return
    meta = {"mixture": d["mixture"], "total_variation": d["mixture_total_variation"]}
    if "robust" in d:
        meta["robust"] = d["robust"]
    meta.update(d["model"])
    if "sources" in d:
        meta["studies"] = [
            f"{s['trial']}: {s['reported_pct']:g}% at {s['reported_horizon_years']:g}y "
            f"({s['conversion']}), n_eff {s['n_effective']:.0f}, {s['source']}"
            if s["used"]
            else f"{s['trial']}: not used ({s['reason']})"
            for s in d["sources"]
        ]
    emit_records(res.summary.to_dict(orient="records"), fmt, title="MAP prior", meta=meta)


def single_arm(
    *,
    data: Path | None = _DATA,
    trial: list[str] | None = _TRIAL,
    population: str = _POP,
    endpoint: str = _END,
    horizon: float = _HOR,
    conversion: str = _CONV,
    n_rule: str = _NRULE,
    mu_prior: str = _MU,
    tau_prior: str = _TAU,
    robust_weight: float | None = _ROB,
    n: int = typer.Option(160, "--n", help="Infants in the single-arm trial."),
    accrual: str | None = typer.Option(None, "--accrual", help="Accrual rate, e.g. 53/y."),
    delta: float = typer.Option(0.0, "--delta", help="Improvement over the historical rate."),
    threshold: float = typer.Option(0.95, "--threshold", help="Success if P(gain > delta) >= c."),
    trials: int = typer.Option(10_000, "--trials", help="Simulated trials per scenario."),
    seed: int = typer.Option(2026, "--seed"),
    observed: str | None = typer.Option(None, "--observed", help="Final analysis, e.g. 95/160."),
    fmt: Format = FormatOption,
) -> None:
    """Single-arm Bayesian design against a (robust) MAP prior: OC under prior-data conflict."""
    from infantall.design.borrowing import single_arm_analysis, single_arm_bayes_design

    opts = _options(**locals())
    try:
        res = _borrowing(opts)
        per_year = _per_year(accrual) if accrual is not None else None
        design = single_arm_bayes_design(
            res.prior,
            n,
            delta=delta,
            threshold=threshold,
            trials=trials,
            seed=seed,
            accrual_per_year=per_year,
            horizon_years=horizon,
        )
        final = None
        if observed is not None:
            ev, _, tot = observed.partition("/")
            if not (ev.strip().isdigit() and tot.strip().isdigit()):
                raise InvalidInputError("--observed", "write it as events/n, e.g. 95/160", "bad")
            final = single_arm_analysis(
                res.prior, int(ev), int(tot), delta=delta, threshold=threshold
            )
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason} [{exc.code}]")
    out = {
        "prior": res.to_dict(),
        "design": design.to_dict(),
        "analysis": None if final is None else final.to_dict(),
    }
    if fmt is Format.json:
        emit_json(out)
        return
    meta = {k: v for k, v in out["design"].items() if k != "scenarios"}
    meta["prior_ess"] = res.to_dict().get("robust_ess") or res.ess
    if final is not None:
        meta.update({f"observed_{k}": v for k, v in final.to_dict().items()})
    emit_records(
        list(design.scenarios), fmt, title="Single-arm design: operating characteristics", meta=meta
    )
