"""``infantall report``: write the self-contained HTML evidence report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infantall.commands._output import fail

__all__ = ["ORDER", "register", "write_report"]

ORDER = 90


def write_report(out: Path, *, enrichment: bool = False) -> Path:
    """Write the evidence report (figure and the seeds' tables rebuilt from data) to ``out``.

    Raises
    ------
    OSError
        The file cannot be written.
    """
    from infantall.evidence import load_evidence
    from infantall.reports import evidence_report

    page = evidence_report(load_evidence(enrichment=enrichment))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def report_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the HTML report.")
    ] = Path("report.html"),
    enrichment: Annotated[
        bool, typer.Option("--enrichment", help="Also use later publications (DOI / registry id).")
    ] = False,
) -> None:
    """Write a self-contained HTML report of the evidence base (opens in any browser)."""
    if out.exists() and out.is_dir():
        fail(f"{out} is a directory; give a file name such as {out / 'report.html'}")
    try:
        written = write_report(out, enrichment=enrichment)
    except OSError as exc:
        fail(f"{out}: cannot write the report ({exc.strerror or exc})")
    typer.echo(str(written))


def register(app: typer.Typer) -> None:
    """Add ``report`` to the root command line."""
    app.command("report")(report_command)
