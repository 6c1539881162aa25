"""Shared output conventions of every CLI command (DESIGN.md: ``--format table|json|csv``).

Results go to stdout in the chosen format; errors go to stderr with a non-zero exit.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, NoReturn

import typer

__all__ = ["Format", "FormatOption", "emit_records", "fail"]


class Format(StrEnum):
    """Output format of a command."""

    table = "table"
    json = "json"
    csv = "csv"


FormatOption = typer.Option(
    Format.table, "--format", "-f", help="table (for a person), json (stable, for scripts) or csv."
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def emit_records(
    records: Sequence[Mapping[str, Any]],
    fmt: Format,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Print ``records`` (a list of flat mappings) as a rich table, JSON or CSV.

    The JSON form is ``{"meta": {...}, "records": [...]}`` when ``meta`` is given, else the
    bare list of records; keys are the column names.
    """
    cols = list(columns) if columns is not None else _columns(records)
    if fmt is Format.json:
        rows = [{c: r.get(c) for c in cols} for r in records]
        payload: Any = {"meta": dict(meta), "records": rows} if meta is not None else rows
        typer.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in records:
            writer.writerow({c: _cell(r.get(c)) for c in cols})
        typer.echo(buf.getvalue(), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for c in cols:
        table.add_column(c)
    for r in records:
        table.add_row(*(_cell(r.get(c)) for c in cols))
    console = Console(width=max(100, Console().width))
    console.print(table)
    if meta:
        for key, value in meta.items():
            console.print(f"[dim]{key}:[/dim] {value}")


def _columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in records:
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code`` (non-zero)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
