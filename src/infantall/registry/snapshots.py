"""Snapshots of records for the audit trail: a record's columns as JSON-friendly values,
secrets and login counters left out (what an audit row's ``old`` and ``new`` hold)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table

__all__ = ["row_snapshot", "snapshot"]

#: Columns never written to the audit trail (secrets and login counters).
_EXCLUDED = {
    "user": frozenset(
        {
            "password_hash",
            "failed_logins",
            "locked_until",
            "totp_secret",
            "totp_enabled",
            # Recorded by its own ``printed_name`` row (a column added after the trail began).
            "full_name",
            "totp_last_step",
        }
    )
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def snapshot(entity: str, obj: Any) -> dict[str, Any]:
    """The record as a JSON-friendly dict of its columns (secrets left out)."""
    excluded = _EXCLUDED.get(entity, frozenset())
    return {
        col.key: _jsonable(getattr(obj, col.key))
        for col in obj.__table__.columns
        if col.key not in excluded
    }


def row_snapshot(entity: str, table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`snapshot` of a row given as its column values (no ORM object)."""
    excluded = _EXCLUDED.get(entity, frozenset())
    return {
        key: _jsonable(row[key]) for key in (c.key for c in table.columns) if key not in excluded
    }
