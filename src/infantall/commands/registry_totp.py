"""``infantall registry totp-code``: a one-time TOTP enrolment code, issued on the server.

In production an administrator or coordinator account enrols its second factor only with a
one-time code from another administrator (``POST /users/{username}/totp/enrolment-code``).
The first administrator has nobody to ask: whoever runs this command on the server (with the
database's credentials) issues the code instead; the audit trail names the server's command
line as the issuer. Only typer and the standard library are imported at module level.
"""

from __future__ import annotations

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail
from infantall.commands.registry import DatabaseOption, _open, registry_app

__all__ = ["ORDER", "register"]

ORDER = 83


@registry_app.command("totp-code")
def totp_code(
    username: str = typer.Argument(..., help="The account that will enrol its second factor."),
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Issue a one-time enrolment code (valid 24 h, used once) for USERNAME's second factor
    (the bootstrap of the first admin in production; audited)."""
    from infantall.registry.errors import RegistryError
    from infantall.registry.totp import issue_enrolment_code

    settings, database = _open(database_url)
    del settings
    try:
        with database.write_sessions() as session:
            try:
                issued = issue_enrolment_code(session, None, username)
            except RegistryError as exc:
                fail(f"{exc.code}: {exc.message}")
    finally:
        database.dispose()
    record = {
        "username": issued.username,
        "enrolment_code": issued.code,
        "expires_at": issued.expires_at.isoformat(),
    }
    emit_records([record], fmt, title="enrolment code")


def register(app: typer.Typer) -> None:
    """The command is on ``registry_app`` already (added by :mod:`.registry`)."""
    del app
