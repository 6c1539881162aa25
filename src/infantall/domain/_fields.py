"""How a domain field carries its label, unit and help text (read by the vocabulary)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from infantall.errors import InvalidInputError

__all__ = ["ISO_DATE", "IsoDate", "described"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Why a value is not taken as a date (also the web's query parameters, ``web.deps``).
DATE_REASON = "use a calendar date YYYY-MM-DD (e.g. 2024-01-31)"


def _iso_date_only(value: object) -> object:
    """Refuse what pydantic's lax mode would read as a date though nobody wrote one: a number,
    or a string of digits, is taken as seconds since 1970 (``"0"`` became 1970-01-01, a
    birth date ``"86400"`` 1970-01-02, silently), and text not written YYYY-MM-DD (day/month
    order is ambiguous: 05/01/2024). Date and datetime objects, and ``None``, pass on."""
    if isinstance(value, bool | int | float) or (
        isinstance(value, str) and not _ISO_DATE.match(value)
    ):
        raise InvalidInputError("", DATE_REASON, "invalid_type")
    return value


#: Metadata for ``Annotated[dt.date | None, ISO_DATE, ...]``: only a date written YYYY-MM-DD.
ISO_DATE = BeforeValidator(_iso_date_only)
#: A calendar date given as YYYY-MM-DD (or a date object), never a number.
IsoDate = Annotated[dt.date, ISO_DATE]


def described(label: str, unit: str = "", help: str = "") -> Any:
    """Field metadata for ``Annotated[type, described(...)]``: ``title`` is the label,
    ``description`` the help text, and ``json_schema_extra`` carries ``label`` and ``unit``
    (so the JSON schema of a domain type names them too)."""
    return Field(
        title=label,
        description=help or None,
        json_schema_extra={"label": label, "unit": unit},
    )
