"""JSON-safe values for the ``to_dict()`` of analysis results (NaN and infinities become None)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_safe", "records"]


def json_safe(value: Any) -> Any:
    """``value`` with NumPy scalars made Python numbers and NaN/inf made ``None``, recursively."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``df`` as JSON-safe dicts with string keys."""
    return [json_safe({str(k): v for k, v in r.items()}) for r in df.to_dict("records")]
