"""JSON-safe values for the ``to_dict()`` of synthesis results."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["frame_records", "json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None and NumPy scalars as Python ones,
    recursively through dicts, lists and tuples."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def frame_records(frame: pd.DataFrame) -> list[Any]:
    """The rows of ``frame`` as JSON-safe mappings."""
    out: list[Any] = json_safe(frame.to_dict(orient="records"))
    return out
