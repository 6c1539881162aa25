"""Shared output conventions of every CLI command (DESIGN.md: ``--format table|json|csv``).

Results go to stdout in the chosen format; errors go to stderr with a non-zero exit.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import typer

__all__ = [
    "Format",
    "FormatOption",
    "OutputOption",
    "Section",
    "emit_json",
    "emit_records",
    "emit_sections",
    "fail",
    "strict_json",
    "write_private",
    "write_text",
]


class Format(StrEnum):
    """Output format of a command."""

    table = "table"
    json = "json"
    csv = "csv"


FormatOption = typer.Option(
    Format.table, "--format", "-f", help="table (for a person), json (stable, for scripts) or csv."
)


OutputOption = typer.Option(
    None, "--output", "-o", help="Write the results to this file instead of the screen."
)


@dataclass(frozen=True, slots=True)
class Section:
    """One table of a command's output: its name, rows and (optionally) column order."""

    name: str
    records: Sequence[Mapping[str, Any]]
    columns: Sequence[str] | None = None
    title: str | None = field(default=None)


def _finite(value: Any) -> Any:
    """``value`` with NaN/infinity made ``None`` and NumPy scalars made Python, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        value = item() if getattr(value, "ndim", 0) == 0 else value.tolist()
        if isinstance(value, list):
            return _finite(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is not None and type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def strict_json(payload: Any) -> str:
    """``payload`` as strict JSON (RFC 8259): NaN and infinities are ``null``, never bare
    ``NaN``/``Infinity`` that strict parsers reject."""
    return json.dumps(_finite(payload), indent=2, default=str, ensure_ascii=False, allow_nan=False)


def write_text(text: str, output: Path | None) -> None:
    """Print ``text`` to stdout, or write it to ``output`` (a clear error if it cannot)."""
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write the results ({exc.strerror or exc}) [unwritable_path]")
    typer.echo(f"wrote {output}", err=True)


def write_private(data: bytes | str, output: Path) -> None:
    """Write ``data`` (text as UTF-8) to ``output`` readable by its owner only (mode 0600),
    for files that hold registry or unblinded trial data: created so, not written and then
    tightened (the file would be readable by others in between), and an existing file is
    tightened too. A path that cannot be written is a clear error."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        output.chmod(0o600)
    except OSError as exc:
        fail(f"{output}: cannot write the file ({exc.strerror or exc}) [unwritable_path]")


def emit_json(payload: Any, output: Path | None = None) -> None:
    """Print ``payload`` as strict JSON (see :func:`strict_json`)."""
    write_text(strict_json(payload), output)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else ""
    if isinstance(value, list | tuple):
        return "; ".join(_cell(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def emit_records(
    records: Sequence[Mapping[str, Any]],
    fmt: Format,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    meta: Mapping[str, Any] | None = None,
    output: Path | None = None,
) -> None:
    """Print ``records`` (a list of flat mappings) as a rich table, JSON or CSV.

    The JSON form is ``{"meta": {...}, "records": [...]}`` when ``meta`` is given, else the
    bare list of records; keys are the column names. JSON is strict (NaN becomes null).
    ``output`` writes to a file instead of stdout.
    """
    cols = list(columns) if columns is not None else _columns(records)
    if fmt is Format.json:
        rows = [{c: r.get(c) for c in cols} for r in records]
        payload: Any = {"meta": dict(meta), "records": rows} if meta is not None else rows
        emit_json(payload, output)
        return
    if fmt is Format.csv:
        write_text(_csv(records, cols), output)
        return
    _rich([Section("records", records, cols, title)], meta, output)


def emit_sections(
    sections: Sequence[Section],
    fmt: Format,
    *,
    meta: Mapping[str, Any] | None = None,
    output: Path | None = None,
) -> None:
    """Print several tables of one result (e.g. estimates, tests, dropped rows).

    JSON: ``{"meta": {...}, "<section>": [...], ...}``. CSV: one block per section, headed
    by a ``# <section>`` line and separated by a blank line (``meta`` comes first as a
    ``key,value`` block). Table: one rich table per section.
    """
    if fmt is Format.json:
        payload: dict[str, Any] = {"meta": dict(meta or {})}
        for sec in sections:
            cols = list(sec.columns) if sec.columns is not None else _columns(sec.records)
            payload[sec.name] = [{c: r.get(c) for c in cols} for r in sec.records]
        emit_json(payload, output)
        return
    if fmt is Format.csv:
        blocks = []
        if meta:
            rows = [{"key": k, "value": v} for k, v in meta.items()]
            blocks.append("# meta\n" + _csv(rows, ["key", "value"]))
        for sec in sections:
            cols = list(sec.columns) if sec.columns is not None else _columns(sec.records)
            blocks.append(f"# {sec.name}\n" + _csv(sec.records, cols))
        write_text("\n".join(blocks), output)
        return
    _rich(sections, meta, output)


def _csv(records: Sequence[Mapping[str, Any]], cols: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({c: _cell(_finite(r.get(c))) for c in cols})
    return buf.getvalue()


def _rich(sections: Sequence[Section], meta: Mapping[str, Any] | None, output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO() if output is not None else None
    width = max(100, Console().width)
    console = Console(width=width) if buf is None else Console(file=buf, width=width)
    for sec in sections:
        if not sec.records and len(sections) > 1:
            continue
        cols = list(sec.columns) if sec.columns is not None else _columns(sec.records)
        table = Table(title=sec.title or (None if len(sections) == 1 else sec.name))
        for c in cols:
            table.add_column(c)
        for r in sec.records:
            table.add_row(*(_cell(r.get(c)) for c in cols))
        console.print(table)
    if meta:
        for key, value in meta.items():
            console.print(f"[dim]{key}:[/dim] {_cell(value)}")
    if buf is not None:
        write_text(buf.getvalue(), output)


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
