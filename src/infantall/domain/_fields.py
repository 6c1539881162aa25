"""How a domain field carries its label, unit and help text (read by the vocabulary)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

__all__ = ["described"]


def described(label: str, unit: str = "", help: str = "") -> Any:
    """Field metadata for ``Annotated[type, described(...)]``: ``title`` is the label,
    ``description`` the help text, and ``json_schema_extra`` carries ``label`` and ``unit``
    (so the JSON schema of a domain type names them too)."""
    return Field(
        title=label,
        description=help or None,
        json_schema_extra={"label": label, "unit": unit},
    )
