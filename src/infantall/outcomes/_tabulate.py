"""Counts of subjects and events per distinct time and group, the kernel of KM, log-rank, CIF
and Gray's test.

Registry times are whole days, so when every time is an integer in a moderate range the
whole (time, group, status) table is ONE ``numpy.bincount`` over a combined key in O(n) (a
counting sort: no sort, no per-group pass); otherwise one ``numpy.unique`` finds the
distinct times first. Both paths give identical tables (exact integer counts).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["count_table", "tabulate", "time_ids"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# use the counting path when the integer time range is at most this many times n (+ 1e6)
_RANGE_FACTOR = 4
_RANGE_EXTRA = 1_000_000


def _integer_offsets(time: FloatArray) -> tuple[float, IntArray] | None:
    """(min, time - min as int64) when all times are integers in a moderate range."""
    lo = float(time.min())
    span = float(time.max()) - lo
    if span > _RANGE_FACTOR * time.shape[0] + _RANGE_EXTRA or not np.isfinite(span):
        return None
    shifted = time - lo
    ti = shifted.astype(np.int64)
    if not np.array_equal(ti, shifted):
        return None
    return lo, ti


def time_ids(time: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct sorted times and, for each subject, the index of its time among them."""
    found = _integer_offsets(time)
    if found is not None:
        lo, ti = found
        present = np.bincount(ti) > 0
        compact = np.cumsum(present) - 1
        ut = np.flatnonzero(present).astype(np.float64) + lo
        return ut, compact[ti]
    ut, tid = np.unique(time, return_inverse=True)
    return ut, tid.astype(np.int64)


def count_table(
    time: FloatArray, codes: IntArray | None, k: int, status: IntArray, m: int
) -> tuple[FloatArray, FloatArray]:
    """Distinct times (K,) and counts of subjects by (time, group, status): (K, k, m).

    ``codes`` are group codes 0..k-1 (None: one group), ``status`` values 0..m-1.
    """
    n = time.shape[0]
    found = _integer_offsets(time)
    cells = k * m
    if found is not None and (int(found[1].max()) + 1) * cells <= 8 * n + 4 * _RANGE_EXTRA:
        lo, ti = found
        key = ti * cells
        if codes is not None:
            key += codes * m
        key += status
        flat = np.bincount(key, minlength=(int(ti.max()) + 1) * cells)
        table = flat.reshape(-1, k, m)
        present = table.reshape(table.shape[0], cells).any(axis=1)
        ut = np.flatnonzero(present).astype(np.float64) + lo
        return ut, table[present].astype(np.float64)
    ut, tid = time_ids(time)
    key = tid * cells
    if codes is not None:
        key += codes * m
    key += status
    flat = np.bincount(key, minlength=ut.shape[0] * cells)
    return ut, flat.reshape(-1, k, m).astype(np.float64)


def tabulate(
    time: FloatArray, event: IntArray, codes: IntArray | None = None, k: int = 1
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Distinct times (K,), subjects whose time is each (K, k) and events at each (K, k).

    ``event`` is 0/1.
    """
    ut, table = count_table(time, codes, k, event, 2)
    return ut, table.sum(axis=2), np.ascontiguousarray(table[:, :, 1])
