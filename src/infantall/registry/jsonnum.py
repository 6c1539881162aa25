"""Numbers in audit JSON that read back from PostgreSQL's JSONB exactly as they were hashed.

JSONB keeps a number as a ``numeric``, and prints it back in plain decimal notation: a float
that Python writes with a positive exponent (``1e+16``: every float of magnitude at least
1e16 is a whole number) comes back as ``10000000000000000``, an ``int`` once read, and
``-0.0`` comes back as ``0.0``. The chain hashes the row as written and
:func:`infantall.registry.audit.verify_chain` recomputes it from what is read, so such a value
would make an untouched row look rewritten. :func:`jsonb_stable` turns those floats, before
the row is stored and hashed, into the value JSONB will give back (the exact decimal the float
was written as), on every backend, so SQLite and PostgreSQL store and hash the same thing.
Every other float already reads back as itself (the shortest repr round-trips).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["jsonb_stable"]


def _number(value: float) -> float | int:
    if value == 0.0:
        return 0.0  # -0.0: JSONB has no negative zero
    if value.is_integer() and "e" in repr(value):
        return int(Decimal(repr(value)))  # the decimal written, as JSONB prints it back
    return value


def jsonb_stable(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, scalars) with its floats as JSONB reads them back."""
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        return {key: jsonb_stable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonb_stable(item) for item in value]
    return value
