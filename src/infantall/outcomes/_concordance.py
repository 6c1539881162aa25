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


def _prefix_below(
    pos: IntArray,
    val: IntArray,
    block: IntArray,
    weight: FloatArray | None,
    query: npt.NDArray[np.bool_],
) -> FloatArray:
    """For each queried item i, the number (sum of weights) of items j of its block with
    pos_j < pos_i and val_j < val_i; 0 for the items not queried.

    A Fenwick decomposition over ``pos``, vectorised by level: [0, pos_i) is the union, over
    the set bits l of pos_i, of the level-l nodes (pos_i >> l) - 1. At each level the items
    are ordered by (node, block, val) with ONE stable radix sort of the node ids of the items
    already in value order, and every query is two binary searches in that order.
    O(n log n) per level and log2(max pos) levels.
    """
    n = pos.shape[0]
    nv = int(val.max()) + 1
    vb = block * nv + val  # the block is folded into the searched value
    width = (int(block.max()) + 1) * nv
    by_val = np.argsort(vb, kind="stable")
    pos_v, vb_v, q_v = pos[by_val], vb[by_val], query[by_val]
    w_v = None if weight is None else weight[by_val]
    acc = np.zeros(n)  # in value order
    small = np.int16 if int(pos.max()) < 2**15 else np.int32
    for lvl in range(max(1, int(pos.max()).bit_length())):
        node = pos_v >> lvl
        sub = np.argsort(node.astype(small), kind="stable")
        node_s = node[sub]
        keys = node_s * width
        keys += vb_v[sub]
        # queries in this (ascending) order make the binary searches nearly sequential
        at = np.flatnonzero(q_v[sub] & ((node_s & 1) == 1))
        if at.size == 0:
            continue
        sib = keys[at] - width  # same value, left sibling node
        hi = np.searchsorted(keys, sib, side="left")
        lo = np.searchsorted(keys, sib - (sib % width) % nv, side="left")
        if w_v is None:
            acc[sub[at]] += hi - lo
        else:
            cw = np.concatenate([[0.0], np.cumsum(w_v[sub])])
            acc[sub[at]] += cw[hi] - cw[lo]
    out = np.zeros(n)
    out[by_val] = acc
    return out


def _count_before(
    pos: IntArray, key: IntArray, weight: FloatArray | None, n_pos: int
) -> FloatArray:
    """For each item, #items (sum of their weights) with the same key and pos_j < pos_i."""
    n = pos.shape[0]
    combined = key * n_pos + pos
    kmax = int(key.max()) + 1
    if kmax * n_pos <= 4 * n + 1_000_000:
        # a histogram over (key, pos) and its running sum: O(n)
        hist = np.bincount(combined, weights=weight, minlength=kmax * n_pos)
        cum = np.concatenate([[0.0], np.cumsum(hist)])
        return np.asarray(cum[combined] - cum[key * n_pos], dtype=np.float64)
    order = np.argsort(combined, kind="stable")
    c_s, k_s = combined[order], key[order]
    new_grp = np.ones(n, dtype=bool)
    np.not_equal(c_s[1:], c_s[:-1], out=new_grp[1:])
    new_blk = np.ones(n, dtype=bool)
    np.not_equal(k_s[1:], k_s[:-1], out=new_blk[1:])
    idx = np.arange(n)
    g_start = np.maximum.accumulate(np.where(new_grp, idx, 0))
    b_start = np.maximum.accumulate(np.where(new_blk, idx, 0))
    w_s = np.ones(n) if weight is None else weight[order]
    cw = np.concatenate([[0.0], np.cumsum(w_s)])
    out = np.empty(n)
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
    n_pos = int(pos.max()) + 1
    # the count is symmetric in (position, score): the Fenwick levels run over the one with
    # fewer distinct values; only events are queried
    if n_pos > int(val.max()) + 1:
        smaller = _prefix_below(val, pos, block, weights, ev)
    else:
        smaller = _prefix_below(pos, val, block, weights, ev)
    n_val = int(val.max()) + 1
    # all scores distinct: no ties in the score
    no_ties = n_val == n
    tied = np.zeros(n) if no_ties else _count_before(pos, block * n_val + val, weights, n_pos)
    total = _count_before(pos, block, weights, n_pos)
    conc, tie, tot = (_event_sum(v, ev, weights) for v in (smaller, tied, total))
    disc = tot - conc - tie
    denom = conc + disc + tie
    return (conc + 0.5 * tie) / denom if denom > 0 else float("nan")
