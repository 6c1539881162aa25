"""``infantall endpoints``: derive analysis datasets (ADaM ADTTE) from patient histories.

Only Typer and the standard library at module level (see ``infantall.commands``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail
from infantall.commands.analyze import run_safely

__all__ = ["ORDER", "register"]

ORDER = 41

_PATIENTS_ARG = typer.Argument(..., help="JSON file of patient histories.")
_OUTPUT_OPT = typer.Option(..., "--output", "-o", help="Output .csv or .parquet file.")


def endpoints_command(
    patients: Path = _PATIENTS_ARG,
    output: Path = _OUTPUT_OPT,
    cutoff: str | None = typer.Option(
        None, "--cutoff", help="Administrative cut-off date YYYY-MM-DD."
    ),
    induction_failure: str = typer.Option(
        "day0",
        "--induction-failure",
        help="When induction failure counts in EFS: day0 (Interfant) or assessment.",
    ),
    protocol: str = typer.Option(
        "interfant-06", "--protocol", help="Protocol for the RISKGRP column, or 'none'."
    ),
    fmt: Format = FormatOption,
) -> None:
    """Derive EFS, OS, DFS, CIR, early death and relapse-site endpoints (ADaM ADTTE).

    Example: infantall endpoints patients.json -o adtte.csv
    """
    with run_safely():
        from infantall.outcomes.endpoints import derive_endpoints, read_histories, write_adtte

        if induction_failure not in ("day0", "assessment"):
            fail("--induction-failure must be day0 or assessment")
        cut = None
        if cutoff is not None:
            try:
                cut = dt.date.fromisoformat(cutoff)
            except ValueError:
                fail(f"--cutoff {cutoff!r} is not a date YYYY-MM-DD")
        from infantall.errors import InvalidInputError

        if not patients.is_file():
            reason = "file not found" if not patients.exists() else "is a folder, not a file"
            code = "file_not_found" if not patients.exists() else "unreadable_file"
            raise InvalidInputError(str(patients), reason, code)
        if not output.parent.is_dir():
            reason = f"the folder {output.parent} does not exist"
            raise InvalidInputError(str(output), reason, "unwritable_path")
        histories = read_histories(patients)
        ds = derive_endpoints(
            histories,
            cutoff=cut,
            induction_failure_at_day0=induction_failure == "day0",
            protocol=None if protocol == "none" else protocol,
        )
        write_adtte(ds, output)
        records = [{str(k): v for k, v in r.items()} for r in ds.summary.to_dict("records")]
        emit_records(
            records,
            fmt,
            title="Endpoints derived",
            meta={
                "patients": len(ds.covariates),
                "rows": len(ds.adtte),
                "output": str(output),
                "excluded": len(ds.excluded),
            },
        )


def register(app: typer.Typer) -> None:
    """Add ``infantall endpoints`` to the root command."""
    app.command("endpoints")(endpoints_command)
