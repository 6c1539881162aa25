"""``infantall cohort``: generate, check and describe synthetic cohorts (SYNTHETIC data)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail

__all__ = ["ORDER", "register"]

ORDER = 80

_CALIBRATIONS = ("interfant-06", "mll-10")

_OUTPUT_OPTION = typer.Option(
    None,
    "--output",
    "-o",
    help="Write the cohort: NAME.json, or NAME.csv (registry REDCap-style import layout).",
)


def _records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as records with string keys; NaN becomes None (valid JSON null)."""
    return [
        {str(k): (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _calibration(value: str) -> str:
    if value not in _CALIBRATIONS:
        raise typer.BadParameter(f"choose one of {', '.join(_CALIBRATIONS)}")
    return value


def _write(cohort: Any, output: Path) -> list[Path]:
    """Write by suffix: ``.json`` (the cohort file) or ``.csv`` (the registry import layout)."""
    from infantall.cohort.io import write_json
    from infantall.services.cohort_registry import write_redcap_csv

    if output.suffix.lower() == ".csv":
        return [write_redcap_csv(cohort, output)]
    return [write_json(cohort, output)]


def generate(
    n: int = typer.Option(600, "--n", min=1, help="Number of synthetic patients."),
    sites: int = typer.Option(18, "--sites", min=1, help="Number of synthetic sites."),
    seed: int = typer.Option(1, "--seed", min=0, help="Seed: same seed, same cohort."),
    output: Path | None = _OUTPUT_OPTION,
    calibration: str = typer.Option(
        "interfant-06",
        "--calibration",
        callback=_calibration,
        help="Outcomes calibrated by risk group to: interfant-06 or mll-10.",
    ),
    with_missing: bool = typer.Option(
        False,
        "--with-missing",
        help="Leave some features unrecorded like a real registry (REALISTIC_MISSING).",
    ),
    hsct_hr: float = typer.Option(
        1.0,
        "--hsct-hr",
        help="True hazard ratio of HSCT in CR1 on relapse and death after transplant "
        "(default 1: no effect); recorded in the cohort's metadata.",
    ),
    relapse_courses: bool = typer.Option(
        False,
        "--relapse-courses",
        help="Add the course after relapse or induction failure (salvage, refractory disease, "
        "CR2, HSCT in CR2 or with active disease), calibrated to JILSG and UK Infant 92.",
    ),
    fmt: Format = FormatOption,
) -> None:
    """Generate a SYNTHETIC multi-site cohort and print its summary by risk group."""
    from infantall.cohort import REALISTIC_MISSING, generate_cohort
    from infantall.errors import InfantallError

    if output is not None and output.suffix.lower() not in (".json", ".csv"):
        fail(f"--output {output}: expected a .json or .csv file name")
    try:
        missing = REALISTIC_MISSING if with_missing else None
        cohort = generate_cohort(
            n,
            sites,
            seed,
            calibration=calibration,
            missing=missing,
            hsct_hr=hsct_hr,
            relapse_courses=relapse_courses,
        )
        written = _write(cohort, output) if output is not None else []
    except (InfantallError, OSError) as exc:
        fail(str(exc))
    meta = {
        "synthetic": True,
        "label": cohort.metadata["label"],
        "n": n,
        "sites": sites,
        "seed": seed,
        "calibration": calibration,
        "risk_groups_from": cohort.metadata["risk_groups_from"],
        "hsct_hr": hsct_hr,
        "relapse_courses": relapse_courses,
        "written": ", ".join(str(p) for p in written) or "(nothing; use -o)",
    }
    records = _records(cohort.summary)
    emit_records(records, fmt, title="Synthetic cohort by risk group (SYNTHETIC)", meta=meta)


def check(
    n: int = typer.Option(20000, "--n", min=100, help="Patients (large n: stable estimates)."),
    seed: int = typer.Option(1, "--seed", min=0, help="Seed."),
    calibration: str = typer.Option(
        "interfant-06", "--calibration", callback=_calibration, help="interfant-06 or mll-10."
    ),
    fmt: Format = FormatOption,
) -> None:
    """Compare the synthetic Kaplan–Meier estimates with the published targets."""
    from infantall.cohort import generate_cohort

    cohort = generate_cohort(n, 18, seed, calibration=calibration)
    table = cohort.calibration_check().round(
        {"synthetic_pct": 2, "synthetic_se_pct": 2, "difference_pct": 2}
    )
    columns = [
        "population", "endpoint", "horizon_years", "target_pct", "target_se_pct",
        "synthetic_pct", "synthetic_se_pct", "n", "difference_pct", "within",
    ]  # fmt: skip
    emit_records(
        _records(table),
        fmt,
        title=f"Calibration check, {calibration} (SYNTHETIC cohort, n={n}, seed={seed})",
        columns=columns if fmt is Format.table else None,
        meta={"synthetic": True, "tolerance": "within = |difference| <= 2 target SE"},
    )
    if not bool(table["within"].all()):
        fail("a synthetic estimate lies outside 2 SE of its published target")


def targets(
    calibration: str | None = typer.Option(
        None, "--calibration", help="Only this protocol (interfant-06 or mll-10)."
    ),
    fmt: Format = FormatOption,
) -> None:
    """List the published targets the outcomes are calibrated to, with their sources."""
    from infantall.cohort import targets_frame

    if calibration is not None:
        _calibration(calibration)
    frame = targets_frame(calibration)
    emit_records(_records(frame), fmt, title="Calibration targets")


def register(app: typer.Typer) -> None:
    """Add the ``cohort`` command group."""
    group = typer.Typer(
        help="Synthetic cohorts (SYNTHETIC: never real patients) for demos, tests, benchmarks.",
        no_args_is_help=True,
    )
    group.command("generate")(generate)
    group.command("check")(check)
    group.command("targets")(targets)
    app.add_typer(group, name="cohort")
