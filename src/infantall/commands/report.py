"""``infantall report``: the self-contained HTML report.

Without a cohort it covers the evidence base and its synthesis; with ``--cohort FILE`` (a
cohort JSON written by ``infantall cohort generate``) or ``--registry`` (the registry's
database, read as a coordinator sees it) it is the full report of that cohort beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infantall.commands._output import fail

__all__ = ["ORDER", "register", "write_report"]

ORDER = 90


def write_report(out: Path, *, enrichment: bool = False, cohort: Path | None = None) -> Path:
    """Write the report to ``out``: evidence and synthesis, plus the cohort of ``cohort``.

    Raises
    ------
    OSError
        The file cannot be written.
    infantall.errors.InfantallError
        The cohort file is malformed.
    """
    from infantall.evidence import load_evidence
    from infantall.reports.full import full_report

    evidence = load_evidence(enrichment=enrichment)
    if cohort is None:
        page = full_report(None, evidence=evidence)
    else:
        from infantall.cohort.io import load_cohort

        synthetic = load_cohort(cohort)
        page = full_report(
            synthetic.to_histories(),
            evidence=evidence,
            label=f"Cohort file {cohort.name}",
            synthetic=True,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def write_registry_report(out: Path, *, database_url: str | None, username: str) -> Path:
    """Write the full report of the registry's cohort, as ``username`` may see it."""
    # the registry commands' own login (password from $INFANTALL_PASSWORD or a prompt)
    from infantall.commands.registry import _open, _principal
    from infantall.reports.full import full_report
    from infantall.services.datasets import registry_cohort

    settings, database = _open(database_url)
    try:
        principal = _principal(settings, database, username)
        with database.write_sessions() as session:
            key = settings.pseudonym_key.get_secret_value()
            shift = settings.date_shift_max_days
            cohort = registry_cohort(session, principal, key, max_shift_days=shift)
    finally:
        database.dispose()
    scope = "all sites, pseudonymised" if principal.reads_all_sites else "own site"
    page = full_report(
        list(cohort.histories), dataset=cohort.dataset, label=f"Registry cohort ({scope})"
    )
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
    cohort: Annotated[
        Path | None,
        typer.Option(
            "--cohort", exists=True, dir_okay=False, help="A cohort JSON (infantall cohort)."
        ),
    ] = None,
    registry: Annotated[
        bool, typer.Option("--registry", help="Report the registry's cohort (needs --user).")
    ] = False,
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="Registry account (password: $INFANTALL_PASSWORD)."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Registry database (SQLAlchemy URL).")
    ] = None,
) -> None:
    """Write a self-contained HTML report (evidence, synthesis, and a cohort if given)."""
    from infantall.errors import InfantallError

    if out.exists() and out.is_dir():
        fail(f"{out} is a directory; give a file name such as {out / 'report.html'}")
    if registry and cohort is not None:
        fail("--registry and --cohort: choose one source of patients")
    if registry and not user:
        fail("--user: the registry report reads the registry as an account; name it")
    try:
        if registry:
            written = write_registry_report(out, database_url=database_url, username=str(user))
        else:
            written = write_report(out, enrichment=enrichment, cohort=cohort)
    except OSError as exc:
        fail(f"{out}: cannot write the report ({exc.strerror or exc})")
    except InfantallError as exc:
        fail(str(exc))
    typer.echo(str(written))


def register(app: typer.Typer) -> None:
    """Add ``report`` to the root command line."""
    app.command("report")(report_command)
