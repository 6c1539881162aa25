"""Reference folder, tolerances and comparison helper of the outcomes tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

REFERENCE = Path(__file__).parent / "reference"

# Closed-form estimators (KM, log-rank, Aalen-Johansen, Gray) differ from R only by floating
# point summation order.
RTOL_EXACT = 1e-10
# Iteratively fitted models (coxph, crr): R stops at its own convergence tolerance
# (coxph: relative change in log-likelihood < 1e-9), we iterate further; the issue asks 1e-6.
RTOL_FIT = 1e-6


def assert_close(actual: Any, expected: Any, rtol: float, atol: float = 0.0) -> None:
    """Compare arrays treating R's NA (None) as NaN."""
    exp = np.asarray([np.nan if v is None else v for v in np.atleast_1d(expected)], dtype=float)
    np.testing.assert_allclose(np.asarray(actual, dtype=float), exp, rtol=rtol, atol=atol)
