"""``infantall registry verify | backup | restore``: the registry's integrity commands.

They are added to the ``registry`` group of :mod:`infantall.commands.registry` (this module
is found after it: ``ORDER`` 81). Only typer and the standard library are imported at
module level; the registry is imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail
from infantall.commands.registry import DatabaseOption, _open, registry_app

__all__ = ["ORDER", "register"]

ORDER = 81


BackupPathArgument = typer.Argument(..., dir_okay=False, help="Backup file to write or read.")


def _verified(database_url: str | None) -> Any:
    from infantall.registry.verify import verify_registry

    _, database = _open(database_url)
    try:
        return verify_registry(database)
    finally:
        database.dispose()


def _backup_record(done: Any, report: Any) -> dict[str, Any]:
    record: dict[str, Any] = done.as_record()
    record["verify"] = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    return record


@registry_app.command("backup")
def backup(
    path: Path = BackupPathArgument,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Back up the live database (SQLite online backup API; pg_dump on PostgreSQL)."""
    from infantall.errors import InvalidInputError
    from infantall.registry.db import backup_database

    settings, database = _open(database_url)
    database.dispose()
    try:
        done = backup_database(settings, path)
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason}")
    emit_records([_backup_record(done, _verified(database_url))], fmt, title="backup")


@registry_app.command("restore")
def restore(
    path: Path = BackupPathArgument,
    yes: bool = typer.Option(
        False, "--yes", help="Confirm that the database's current content is replaced."
    ),
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Replace the database by a backup, then verify it (exit 1 if verify finds problems)."""
    from infantall.errors import InvalidInputError
    from infantall.registry.db import restore_database

    if not yes:
        fail("restore replaces the whole database: repeat with --yes to confirm")
    settings, database = _open(database_url)
    database.dispose()
    try:
        done = restore_database(settings, path)
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason}")
    report = _verified(database_url)
    emit_records([_backup_record(done, report)], fmt, title="restored")
    if not report.ok:
        emit_records(list(report.problems), Format.table, title="problems after restore")
        raise typer.Exit(1)


AnchorsOption = typer.Option(
    None,
    "--anchors",
    exists=True,
    dir_okay=False,
    help="JSON anchors published earlier (the 'anchors' of a previous verify --format json): "
    "the stored chain must still reproduce them.",
)


@registry_app.command("verify")
def verify(
    anchors: Path | None = AnchorsOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Check the database, every stored history, the audit hash chain and audit replay."""
    import json

    from infantall.registry.verify import PROBLEM_COLUMNS, verify_registry

    published: list[dict[str, Any]] = []
    if anchors is not None:
        try:
            loaded = json.loads(anchors.read_text(encoding="utf-8"))
            published = list(loaded["anchors"] if isinstance(loaded, dict) else loaded)
        except (ValueError, KeyError, TypeError) as exc:
            fail(f"--anchors: not a JSON list of anchors ({exc})")
    _, database = _open(database_url)
    try:
        report = verify_registry(database, published_anchors=published)
    finally:
        database.dispose()
    if fmt is Format.json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif fmt is Format.csv:
        emit_records(list(report.problems), fmt, columns=PROBLEM_COLUMNS)
    else:
        emit_records([report.as_record()], fmt, title="registry verification")
        if report.problems:
            emit_records(list(report.problems), fmt, title="problems", columns=PROBLEM_COLUMNS)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Nothing to add at the root: the commands above joined the ``registry`` group."""
    del app
