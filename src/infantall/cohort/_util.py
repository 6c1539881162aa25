"""Small helpers shared by the cohort modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

__all__ = ["categorical"]


def categorical(codes: np.ndarray, categories: Sequence[str] | pd.Index[Any]) -> pd.Categorical:
    """A categorical column from integer codes (−1 = missing); fast for millions of rows."""
    index = pd.Index(list(categories) if not isinstance(categories, pd.Index) else categories)
    return cast(
        "pd.Categorical",
        pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), index),
    )
