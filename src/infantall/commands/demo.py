"""``infantall demo``: the main job of ``make demo`` on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infantall.commands._output import fail

__all__ = ["ORDER", "register", "run_demo"]

ORDER = 95


def run_demo(out_dir: Path) -> list[Path]:
    """Run the demo into ``out_dir`` and return the files written.

    For now: the evidence report (``report.html``). Later parts add their outputs here.
    """
    from infantall.commands.report import write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_report(out_dir / "report.html")]


def demo_command(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Folder for the demo's outputs.")
    ] = Path("demo-output"),
) -> None:
    """Run the platform demo on embedded data and print where its outputs are."""
    try:
        written = run_demo(out_dir)
    except OSError as exc:
        fail(f"{out_dir}: cannot write the demo outputs ({exc.strerror or exc})")
    for path in written:
        typer.echo(f"wrote {path.resolve()}")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root command line."""
    app.command("demo")(demo_command)
