"""``infantall demo``: the main job of ``make demo`` on embedded defaults.

Creates a SQLite registry, loads a SYNTHETIC multi-site cohort through the registry's own
import, creates one account per role, stratifies every patient, writes the full report and
serves the web app on 127.0.0.1 (``--no-serve`` stops after the report).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infantall.commands._output import fail

if TYPE_CHECKING:
    from infantall.services.demo import DemoResult

__all__ = ["ORDER", "register"]

ORDER = 95


def demo_command(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Folder for the registry file and the report.")
    ] = Path("demo-output"),
    n: Annotated[int, typer.Option("--n", min=20, help="Synthetic patients.")] = 600,
    sites: Annotated[int, typer.Option("--sites", min=1, max=200, help="Synthetic sites.")] = 18,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic cohort.")] = 1,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web app afterwards.")
    ] = True,
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    host: Annotated[
        str, typer.Option("--host", help="Interface to serve on (loopback by default).")
    ] = "127.0.0.1",
) -> None:
    """Run the whole platform on a SYNTHETIC registry; print the accounts and the report."""
    from rich.console import Console
    from rich.table import Table

    from infantall.errors import InfantallError
    from infantall.services.demo import run_demo

    console = Console(stderr=True)
    try:
        result = run_demo(
            out_dir, n=n, sites=sites, seed=seed, progress=lambda m: console.print(f"[dim]{m}[/]")
        )
        console.print("[dim]writing the full report (as the coordinator: pooled, pseudonymised)[/]")
        report = _write_report(result)
    except OSError as exc:
        fail(f"{out_dir}: cannot write the demo outputs ({exc.strerror or exc})")
    except InfantallError as exc:
        fail(str(exc))
    table = Table(
        title="Demo accounts (passwords shown once; also in " + str(result.accounts_file) + ")"
    )
    for col in ("username", "role", "site", "password"):
        table.add_column(col)
    for a in result.accounts:
        if a.username.startswith("editor-"):
            continue  # the other sites' data managers: listed in the accounts file
        table.add_row(a.username, a.role, a.site_code or "all sites", a.password)
    Console().print(table)
    typer.echo(
        f"registry: {result.database_url} — {result.patients} SYNTHETIC patients, "
        f"{result.events} events, {result.sites} sites, {result.risk_assignments} risk groups"
    )
    typer.echo(f"report: {report.resolve()}")
    if serve:
        _serve(out_dir, host, port)


def _write_report(result: DemoResult) -> Path:
    """The full report of the demo's cohort, as the coordinator sees it."""
    from infantall.reports.full import full_report

    cohort = result.cohort
    page = full_report(
        list(cohort.histories), dataset=cohort.dataset, label=result.report_label, synthetic=True
    )
    result.report_path.write_text(page, encoding="utf-8")
    return result.report_path


def _serve(out_dir: Path, host: str, port: int) -> None:
    import uvicorn

    from infantall.services.demo import demo_settings
    from infantall.web.app import create_app

    typer.echo(f"web app: http://{host}:{port}/  (API docs: /api/v1/docs; Ctrl-C stops it)")
    uvicorn.run(
        create_app(demo_settings(out_dir)),
        host=host,
        port=port,
        log_level="info",
        access_log=True,  # one line per request
    )


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root command line."""
    app.command("demo")(demo_command)
