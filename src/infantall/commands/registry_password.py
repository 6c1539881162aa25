"""``infantall registry password``: change your own password from the command line.

The same service as ``POST /api/v1/auth/password``
(:func:`infantall.registry.auth.change_password`): the current password re-entered, the new
one under the password policy, every token and session of the account revoked. Only typer
and the standard library are imported at module level.
"""

from __future__ import annotations

import os

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail
from infantall.commands.registry import (
    DatabaseOption,
    UserOption,
    _open,
    _password,
    _principal,
    registry_app,
)

__all__ = ["ORDER", "register"]

ORDER = 84
#: Where the new password is read from (else it is asked twice).
NEW_PASSWORD_ENV = "INFANTALL_NEW_PASSWORD"


@registry_app.command("password")
def change_password(
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Change your own password: the current one from $INFANTALL_PASSWORD (or asked), the
    new one from $INFANTALL_NEW_PASSWORD (or asked twice). Every token and session of the
    account ends."""
    from infantall.registry import auth
    from infantall.registry.errors import RegistryError
    from infantall.registry.security import password_hasher

    settings, database = _open(database_url)
    try:
        current = _password(f"password of {user}")
        principal = _principal(settings, database, user, current)
        new = os.environ.get(NEW_PASSWORD_ENV) or typer.prompt(
            f"new password for {user}", hide_input=True, confirmation_prompt=True
        )
        with database.write_sessions() as session:
            try:
                revoked = auth.change_password(
                    session, settings, password_hasher(settings), principal, current, new
                )
            except RegistryError as exc:
                fail(exc.message)
    finally:
        database.dispose()
    emit_records(
        [{"user": user, "password": "changed", "revoked_tokens": revoked}], fmt, title="password"
    )


def register(app: typer.Typer) -> None:
    """The command is on ``registry_app`` already (added by :mod:`.registry`)."""
    del app
