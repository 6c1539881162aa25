"""``infantall registry ...`` (init, import, export, quality, dictionary) and
``infantall serve``; verify, backup and restore are in :mod:`infantall.commands.registry_integrity`,
sign and unlock in :mod:`infantall.commands.registry_signatures`.

Only typer and the standard library are imported at module level (``infantall --help``
stays fast); the registry is imported inside the commands.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail, write_private

__all__ = ["ORDER", "register"]

ORDER = 80
PASSWORD_ENV = "INFANTALL_PASSWORD"
#: A one-time code for accounts with a second factor (else it is asked).
TOTP_ENV = "INFANTALL_TOTP_CODE"

registry_app = typer.Typer(
    name="registry",
    help="The multi-site registry database: create it, import, export, verify.",
    no_args_is_help=True,
)


def _password(prompt: str, confirm: bool = False) -> str:
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return value
    result: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return result


def _open(database_url: str | None) -> tuple[Any, Any]:
    from infantall.errors import InvalidInputError
    from infantall.registry.db import Database
    from infantall.registry.settings import load_settings

    try:
        settings = load_settings(**({"database_url": database_url} if database_url else {}))
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason}")
    return settings, Database.from_settings(settings)


DatabaseOption = typer.Option(
    None, "--database-url", help="SQLAlchemy URL (default: INFANTALL_DATABASE_URL or a local file)."
)
UserOption = typer.Option(
    ..., "--user", "-u", help=f"Account to act as (password: ${PASSWORD_ENV} or prompt)."
)


ImportFileArgument = typer.Argument(..., exists=True, dir_okay=False, help="REDCap-style CSV.")
OutputArgument = typer.Argument(..., dir_okay=False, help="File to write (.csv or .parquet).")


def _principal(settings: Any, database: Any, username: str, password: str | None = None) -> Any:
    from infantall.registry.auth import authenticate, login
    from infantall.registry.errors import RegistryError
    from infantall.registry.security import password_hasher

    password = password or _password(f"password of {username}")
    code = os.environ.get(TOTP_ENV) or None
    with database.write_sessions() as session:
        for attempt in (1, 2):
            try:
                issued = login(
                    session,
                    settings,
                    password_hasher(settings),
                    username=username,
                    password=password,
                    kind="bearer",
                    channel="cli",
                    totp_code=code,
                )
                return authenticate(session, issued.token, "cli")
            except RegistryError as exc:
                if exc.code != "totp_required" or attempt == 2:
                    fail(exc.message)
                code = typer.prompt(f"one-time code of {username}")
    return None


AppRoleOption = typer.Option(
    None,
    "--app-role",
    help="PostgreSQL: create/update this least-privilege role for the app to connect as.",
)


def _app_role(engine: Any, role: str) -> dict[str, Any]:
    from infantall.errors import InvalidInputError
    from infantall.registry.roles import grant_app_role

    try:
        grant = grant_app_role(engine, role, os.environ.get("INFANTALL_APP_DB_PASSWORD"))
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason}")
    return grant.as_record()


@registry_app.command("init")
def init(
    admin: str = typer.Option("admin", "--admin", help="Username of the first administrator."),
    app_role: str | None = AppRoleOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Create (or migrate) the database and, if it has none, the first administrator.

    Run it with the owner's URL. On PostgreSQL, ``--app-role NAME`` also creates (or
    updates) the least-privilege role the app must connect as (password from
    $INFANTALL_APP_DB_PASSWORD): no superuser, not the owner, only SELECT/INSERT on the
    audit tables.
    """
    from pydantic import ValidationError
    from sqlalchemy import func, select

    from infantall.registry.admin import bootstrap_admin
    from infantall.registry.db import current_revision, upgrade_database
    from infantall.registry.errors import RegistryError
    from infantall.registry.models import User
    from infantall.registry.security import password_hasher

    settings, database = _open(database_url)
    if app_role is not None and settings.is_sqlite:
        database.dispose()
        fail("app_role: roles exist on PostgreSQL only (SQLite: protect the file, mode 0600)")
    try:
        upgrade_database(database.engine)
        with database.write_sessions() as session:
            created = False
            if not session.scalar(select(func.count()).select_from(User)):
                try:
                    bootstrap_admin(
                        session,
                        password_hasher(settings),
                        admin,
                        _password(f"password for {admin}", confirm=True),
                    )
                except RegistryError as exc:
                    fail(exc.message)
                except ValidationError as exc:
                    fail(_first_error(exc))
                created = True
        record = {
            "revision": current_revision(database.engine),
            "admin_created": created,
            "admin": admin if created else None,
        }
        if app_role is not None:
            record.update(_app_role(database.engine, app_role))
    finally:
        database.dispose()
    emit_records([record], fmt, title="registry database")


@registry_app.command("add-site")
def add_site(
    code: str = typer.Argument(..., help="Site code, e.g. NL-AMC."),
    name: str = typer.Argument(..., help="Site name."),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Register a site (admin)."""
    from pydantic import ValidationError

    from infantall.registry.admin import create_site
    from infantall.registry.errors import RegistryError
    from infantall.registry.schemas import SiteCreate

    settings, database = _open(database_url)
    try:
        principal = _principal(settings, database, user)
        with database.write_sessions() as session:
            try:
                site = create_site(session, principal, SiteCreate(code=code, name=name))
            except ValidationError as exc:
                fail(_first_error(exc))
            except RegistryError as exc:
                fail(exc.message)
    finally:
        database.dispose()
    emit_records([site.model_dump(mode="json")], fmt, title="site")


@registry_app.command("add-user")
def add_user(
    username: str = typer.Argument(..., help="New account name."),
    role: str = typer.Option(
        ..., "--role", help="site_editor, site_viewer, investigator, coordinator or admin."
    ),
    site: str | None = typer.Option(None, "--site", help="Site code (site roles only)."),
    full_name: str | None = typer.Option(
        None, "--full-name", help="Printed name shown in the user's e-signatures."
    ),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Create an account (admin); its password is read from $INFANTALL_NEW_PASSWORD or asked."""
    from pydantic import ValidationError

    from infantall.registry.admin import create_user
    from infantall.registry.errors import RegistryError
    from infantall.registry.schemas import UserCreate
    from infantall.registry.security import password_hasher

    settings, database = _open(database_url)
    try:
        principal = _principal(settings, database, user)
        password = os.environ.get("INFANTALL_NEW_PASSWORD") or typer.prompt(
            f"password for {username}", hide_input=True, confirmation_prompt=True
        )
        with database.write_sessions() as session:
            try:
                data = UserCreate.model_validate(
                    {
                        "username": username,
                        "password": password,
                        "role": role,
                        "site_code": site,
                        "full_name": full_name,
                    }
                )
                created = create_user(session, principal, password_hasher(settings), data)
            except ValidationError as exc:
                fail(_first_error(exc))
            except RegistryError as exc:
                fail(exc.message)
    finally:
        database.dispose()
    emit_records([created.model_dump(mode="json")], fmt, title="account")


def _first_error(exc: Any) -> str:
    from infantall.registry.validation import errors_from_pydantic

    first = errors_from_pydantic(exc.errors())[0]
    return f"{first.field}: {first.reason}"


@registry_app.command("import")
def import_(
    path: Path = ImportFileArgument,
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Import a CSV into your site: all rows or none (problems listed per row and field)."""
    import dataclasses

    from infantall.registry.io import import_csv

    settings, database = _open(database_url)
    try:
        principal = _principal(settings, database, user)
        with database.write_sessions() as session:
            report = import_csv(session, principal, path.read_bytes())
    finally:
        database.dispose()
    if not report.ok:
        emit_records([dataclasses.asdict(e) for e in report.errors], fmt, title="import rejected")
        fail(f"{len(report.errors)} problem(s) in {path.name}; nothing was imported")
    emit_records(
        [
            {
                "file": path.name,
                "patients": report.imported_patients,
                "events": report.imported_events,
            }
        ],
        fmt,
        title="imported",
    )


def _deid_options(dates: str, age: str, wbc: str, k: int, settings: Any) -> Any:
    from infantall.errors import InvalidInputError
    from infantall.registry.io import DeidOptions

    try:
        return DeidOptions.parse(dates, age, wbc, k, settings.date_shift_max_days)
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason}")


@registry_app.command("export")
def export(
    output: Path = OutputArgument,
    user: str = UserOption,
    pooled: bool = typer.Option(
        False, "--pooled", help="De-identified pooled export (coordinators)."
    ),
    dates: str = typer.Option(
        "shifted",
        "--dates",
        help="Pooled export: shifted (the patient's date shift), year (year only) or "
        "relative (days since diagnosis, no dates).",
    ),
    age: str = typer.Option("class", "--age", help="Pooled export: age as class or months."),
    wbc: str = typer.Option("class", "--wbc", help="Pooled export: WBC as class or value."),
    k: int = typer.Option(
        5, "--k", help="Pooled export: suppress equivalence classes under k patients."
    ),
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Export your scope (or the de-identified pooled data, with its manifest written
    beside it as <name>.manifest.json) to CSV or Parquet."""
    import json

    from infantall.registry.errors import RegistryError
    from infantall.registry.io import export_table, pooled_export, table_bytes

    kind = "parquet" if output.suffix.lower() == ".parquet" else "csv"
    settings, database = _open(database_url)
    manifest = None
    try:
        options = _deid_options(dates, age, wbc, k, settings) if pooled else None
        principal = _principal(settings, database, user)
        with database.read_sessions() as session:
            try:
                if pooled:
                    key = settings.pseudonym_key.get_secret_value()
                    result = pooled_export(session, principal, key, options, kind)
                    table, manifest = result.table, result.manifest
                else:
                    table = export_table(session, principal, kind)
            except RegistryError as exc:
                fail(exc.message)
    finally:
        database.dispose()
    write_private(table_bytes(table, kind), output)
    record: dict[str, Any] = {"file": str(output), "format": kind, "rows": len(table)}
    if manifest is not None:
        path = output.with_name(output.stem + ".manifest.json")  # beside the export
        write_private(json.dumps(manifest, indent=2, allow_nan=False) + "\n", path)
        record.update(manifest=str(path), k_achieved=manifest["k_achieved"])
    emit_records([record], fmt, title="exported")


@registry_app.command("quality")
def quality(
    user: str = UserOption,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Day of the queries (default: today)."),
    ] = None,
    overdue_days: Annotated[
        int | None,
        typer.Option(
            "--overdue-days",
            min=1,
            help="Follow-up older than this many days is overdue (default: the registry's "
            "yearly follow-up, FOLLOW_UP_OVERDUE_DAYS).",
        ),
    ] = None,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Data-quality queries over your scope (coordinators: every site, pseudonymised)."""
    import json

    from infantall.domain.quality import FINDING_COLUMNS
    from infantall.registry.errors import RegistryError
    from infantall.services.quality import registry_quality

    day = as_of.date() if as_of is not None else date.today()
    days = {} if overdue_days is None else {"overdue_days": overdue_days}
    settings, database = _open(database_url)
    try:
        principal = _principal(settings, database, user)
        key = settings.pseudonym_key.get_secret_value()
        with database.read_sessions() as session:
            try:
                shift = settings.date_shift_max_days
                report = registry_quality(
                    session, principal, key, day, max_shift_days=shift, **days
                )
            except RegistryError as exc:
                fail(exc.message)
    finally:
        database.dispose()
    result = report.to_dict()
    if fmt is Format.json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    findings = result["findings"]
    if fmt is Format.csv:
        emit_records(findings, fmt, columns=FINDING_COLUMNS)
        return
    emit_records(
        result["queries"],
        fmt,
        title=f"data-quality queries: {report.patients} patients, as of {day.isoformat()}",
    )
    if findings:
        emit_records(findings, fmt, title="records to check", columns=FINDING_COLUMNS)


@registry_app.command("dictionary")
def dictionary(fmt: Format = FormatOption) -> None:
    """The data dictionary of the import/export CSV (REDCap column names)."""
    from infantall.registry.dictionary import REDCAP_COLUMNS, dictionary_records

    # A person's table shows the first four columns; json and csv carry all of them.
    columns = REDCAP_COLUMNS[:4] if fmt is Format.table else REDCAP_COLUMNS
    emit_records(dictionary_records(), fmt, title="data dictionary", columns=columns)


def register(app: typer.Typer) -> None:
    """Add ``registry`` to the root command (``serve``: :mod:`infantall.commands.serve`)."""
    app.add_typer(registry_app)
