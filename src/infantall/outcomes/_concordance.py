"""Harrell's concordance in O(n log n) (optionally case-weighted), as R ``concordance``.

Kernel of :func:`infantall.outcomes.cox.concordance_index` (re-exported there): counts of
earlier items with a smaller score, by a bit-by-bit divide and conquer over stable sorts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["concordance_index"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _count_before_smaller(
    pos: IntArray, val: IntArray, block: IntArray, weight: FloatArray | None = None
) -> FloatArray:
    """For each item, #items (sum of their weights) in the same block with pos_j < pos_i and
    val_j < val_i.

    Bit-by-bit divide and conquer (each pair is counted at the highest bit where the values
    differ), vectorised. One full sort by (block, val, pos); each coarser bit then merges
    two runs already sorted by pos, which a stable (run-merging) sort does in ~O(n).
    """
    n = pos.shape[0]
    out = np.zeros(n)
    bits = max(1, int(val.max()).bit_length()) if n else 1
    base = block.astype(np.int64) << bits
    order = np.lexsort((pos, base + val))
    idx = np.arange(n)
    span = int(pos.max()) + 1 if n else 1
    # keep every array in the current order; each level's permutation only merges runs,
    # so these gathers are nearly sequential
    val_s, pos_s, base_s = val[order], pos[order], base[order]
    w_s = None if weight is None else weight[order]
    acc = np.zeros(n)
    for b in range(bits):
        k_s = base_s + (val_s >> (b + 1))
        c_s = k_s * span + pos_s
        sub = np.argsort(c_s, kind="stable")
        order, val_s, pos_s, base_s, acc = order[sub], val_s[sub], pos_s[sub], base_s[sub], acc[sub]
        c_s, k_s = c_s[sub], k_s[sub]
        bit0 = ((val_s >> b) & 1) == 0
        if w_s is None:
            c0 = np.cumsum(bit0) - bit0  # exclusive count of bit-0 items before
        else:
            w_s = w_s[sub]
            wb = np.where(bit0, w_s, 0.0)
            c0 = np.cumsum(wb) - wb
        new_grp = np.ones(n, dtype=bool)
        np.not_equal(c_s[1:], c_s[:-1], out=new_grp[1:])
        new_blk = np.ones(n, dtype=bool)
        np.not_equal(k_s[1:], k_s[:-1], out=new_blk[1:])
        g_start = np.maximum.accumulate(np.where(new_grp, idx, 0))
        b_start = np.maximum.accumulate(np.where(new_blk, idx, 0))
        cnt = c0[g_start] - c0[b_start]
        cnt[bit0] = 0
        acc += cnt
    out[order] = acc
    return out


def _count_before(pos: IntArray, key: IntArray, weight: FloatArray | None = None) -> FloatArray:
    """For each item, #items (sum of their weights) with the same key and pos_j < pos_i."""
    n = pos.shape[0]
    order = np.lexsort((pos, key))
    k_s, p_s = key[order], pos[order]
    new_grp = np.ones(n, dtype=bool)
    new_grp[1:] = (k_s[1:] != k_s[:-1]) | (p_s[1:] != p_s[:-1])
    new_blk = np.ones(n, dtype=bool)
    new_blk[1:] = k_s[1:] != k_s[:-1]
    g_start = np.maximum.accumulate(np.where(new_grp, np.arange(n), 0))
    b_start = np.maximum.accumulate(np.where(new_blk, np.arange(n), 0))
    out = np.empty(n)
    if weight is None:
        out[order] = (g_start - b_start).astype(np.float64)
    else:
        cw = np.concatenate([[0.0], np.cumsum(weight[order])])
        out[order] = cw[g_start] - cw[b_start]
    return out


def _event_sum(v: FloatArray, ev: npt.NDArray[np.bool_], w: FloatArray | None) -> float:
    return float(v[ev].sum()) if w is None else float((w * v)[ev].sum())


def concordance_index(
    time: FloatArray,
    event: FloatArray,
    risk: FloatArray,
    strata: IntArray | None = None,
    weights: FloatArray | None = None,
) -> float:
    """Harrell's C for a risk score (higher = earlier event), as R ``concordance``.

    A pair is comparable when the shorter time is an event (a censoring at the same time
    counts as longer); ties in the score count 1/2; pairs within strata only. With case
    ``weights`` each comparable pair counts w_i * w_j, as R's concordance of a weighted fit.
    """
    n = time.shape[0]
    block = np.zeros(n, dtype=np.int64) if strata is None else strata.astype(np.int64)
    # processing order: later times first; at a tie, censored before events. Subjects with
    # the same time and status share one (dense) position: tied events do not count each
    # other, and censored subjects are never queried.
    order = np.lexsort((event > 0, -time))
    t_s, e_s = time[order], event[order] > 0
    same = np.zeros(n, dtype=bool)
    same[1:] = (t_s[1:] == t_s[:-1]) & (e_s[1:] == e_s[:-1])
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.cumsum(~same) - 1
    _, val = np.unique(risk, return_inverse=True)
    val = val.astype(np.int64)
    ev = event > 0
    # the count is symmetric in (position, score): split on the bits of the one with fewer
    # distinct values
    if int(pos.max()) < int(val.max()):
        smaller = _count_before_smaller(val, pos, block, weights)
    else:
        smaller = _count_before_smaller(pos, val, block, weights)
    n_bits = max(1, int(val.max()).bit_length())
    tied = _count_before(pos, (block << n_bits) + val, weights)
    total = _count_before(pos, block, weights)
    conc, tie, tot = (_event_sum(v, ev, weights) for v in (smaller, tied, total))
    disc = tot - conc - tie
    denom = conc + disc + tie
    return (conc + 0.5 * tie) / denom if denom > 0 else float("nan")
