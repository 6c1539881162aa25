"""``infantall registry sign | unlock``: e-signatures of a patient's data set from the shell.

They act as ``--user`` (password from ``$INFANTALL_PASSWORD`` or a prompt; a one-time code
from ``$INFANTALL_TOTP_CODE`` or a prompt when the account has a second factor). Signing
uses that password again as the signature's re-entry (21 CFR 11.200(a)). Only typer and the
standard library are imported at module level.
"""

from __future__ import annotations

from typing import Any

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail
from infantall.commands.registry import (
    DatabaseOption,
    UserOption,
    _first_error,
    _open,
    _password,
    _principal,
    registry_app,
)

__all__ = ["ORDER", "register"]

ORDER = 82

PatientArgument = typer.Argument(..., help="Registry id of the patient (P-…).")


def _signature_record(s: Any) -> dict[str, Any]:
    return {
        "signature": s.registry_id,
        "patient": s.patient_id,
        "status": s.status,
        "printed_name": s.printed_name,
        "username": s.username,
        "meaning": s.meaning,
        "signed_at": s.signed_at.isoformat(),
        "content_digest": s.content_digest,
        "manifestation": s.manifestation,
    }


@registry_app.command("sign")
def sign(
    patient: str = PatientArgument,
    meaning: str = typer.Option(
        "reviewed and approved",
        "--meaning",
        help="reviewed and approved, author, reviewed, approved or verified.",
    ),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Sign a patient's data set (investigator) and lock it until an unlock."""
    from pydantic import ValidationError

    from infantall.registry.errors import RegistryError
    from infantall.registry.security import password_hasher
    from infantall.registry.signatures import SignRequest, sign_patient

    settings, database = _open(database_url)
    try:
        principal = _principal(settings, database, user)
        password = _password(f"password of {user} (signature)")
        with database.write_sessions() as session:
            try:
                data = SignRequest.model_validate({"password": password, "meaning": meaning})
                signed = sign_patient(
                    session, settings, password_hasher(settings), principal, patient, data
                )
            except ValidationError as exc:
                fail(_first_error(exc))
            except RegistryError as exc:
                fail(f"{exc.code}: {exc.message}")
    finally:
        database.dispose()
    emit_records([_signature_record(signed)], fmt, title="signature")


@registry_app.command("unlock")
def unlock(
    patient: str = PatientArgument,
    reason: str = typer.Option(..., "--reason", help="Why the record is unlocked (audited)."),
    user: str = UserOption,
    database_url: str | None = DatabaseOption,
    fmt: Format = FormatOption,
) -> None:
    """Unlock a signed patient (investigator of its site or coordinator) with a reason."""
    from pydantic import ValidationError

    from infantall.registry.errors import RegistryError
    from infantall.registry.signatures import UnlockRequest, unlock_patient

    settings, database = _open(database_url)
    try:
        principal = _principal(settings, database, user)
        with database.write_sessions() as session:
            try:
                state = unlock_patient(
                    session, principal, patient, UnlockRequest.model_validate({"reason": reason})
                )
            except ValidationError as exc:
                fail(_first_error(exc))
            except RegistryError as exc:
                fail(f"{exc.code}: {exc.message}")
    finally:
        database.dispose()
    emit_records([_signature_record(s) for s in state.signatures], fmt, title="signatures")


def register(app: typer.Typer) -> None:
    """The commands are on ``registry_app`` already (added by :mod:`.registry`)."""
    del app
