"""Counts of subjects and events per distinct time and group, the kernel of KM and log-rank.

Registry times are whole days, so when every time is an integer in a moderate range the
table is built with ``numpy.bincount`` in O(n) (a counting sort); otherwise one
``argsort`` finds the distinct times. Both give identical tables.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["tabulate", "time_ids"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# use the counting path when the integer time range is at most this many times n (+ 1e6)
_RANGE_FACTOR = 4


def time_ids(time: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct sorted times and, for each subject, the index of its time among them."""
    lo = float(time.min())
    hi = float(time.max())
    span = hi - lo
    if span <= _RANGE_FACTOR * time.shape[0] + 1_000_000 and np.array_equal(time, np.floor(time)):
        ti = (time - lo).astype(np.int64)
        present = np.bincount(ti, minlength=int(span) + 1) > 0
        compact = np.cumsum(present) - 1
        ut = np.flatnonzero(present).astype(np.float64) + lo
        return ut, compact[ti]
    ut, tid = np.unique(time, return_inverse=True)
    return ut, tid.astype(np.int64)


def tabulate(
    time: FloatArray, event: IntArray, codes: IntArray | None = None, k: int = 1
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Distinct times (K,), subjects whose time is each (K, k) and events at each (K, k)."""
    ut, tid = time_ids(time)
    nt = ut.shape[0]
    key = tid if codes is None else tid * k + codes
    total = np.bincount(key, minlength=nt * k).reshape(nt, k).astype(np.float64)
    events = np.asarray(
        np.bincount(key, weights=event.astype(np.float64), minlength=nt * k), dtype=np.float64
    )
    return ut, total, events.reshape(nt, k)
