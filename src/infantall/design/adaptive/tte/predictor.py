"""Interval statistics, the within-trial MRD link model and completion of follow-up.

Patients are grouped by ``g = arm * n_strata + stratum``. The link model (as in FACTS'
time-to-event engine with a predictor) is piecewise exponential per group and MRD status,
with conjugate Gamma priors: before the predictor's day the hazard does not depend on MRD
(it is measured at that day), so those intervals pool every patient of the group; from that
day on, the hazards of MRD-negative and MRD-positive patients are separate. P(MRD negative)
per group has a Beta(1, 1) prior. Without a predictor there is one status and the link model
is the arm's own posterior.

:func:`complete_follow_up` draws, for every included patient, an event time given what is
known at the current analysis (observed event; else event-free at the current follow-up
``f``, with a known MRD status or one drawn from P(MRD negative)), from the residual
piecewise-exponential distribution after ``f`` under one posterior draw of the link hazards
per completion; the completed times are censored at a given time per patient and reduced to
events and exposure per interval. Used for multiple imputation at an interim (censoring at
the horizon) and for the predictive completion of the trial (censoring at the final analysis).
The kernels are compiled with numba. Per draw the event time is the closed-form inverse of
the residual cumulative hazard (one pass over the intervals from ``f``), and the exposure is
added branch-free per interval; the part of each patient's data that does not depend on the
draw (observed follow-up up to ``f``, or the whole patient when its completed data are known)
is counted once. The unit exponentials and uniforms come in bulk from the numpy generator
(numba's per-call generator was half the kernel's time), so the results are reproducible from
the block's seed.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "LinkPosterior",
    "complete_follow_up",
    "draw_link",
    "interval_stats",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: MRD levels in the observed statistics: negative, positive, unknown at the analysis.
NEG, POS, UNKNOWN = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def _interval_stats(
    cuts: FloatArray, x: FloatArray, ev: BoolArray, idx: IntArray, include: BoolArray, n: int
) -> tuple[FloatArray, FloatArray]:  # pragma: no cover - compiled
    b_n, p_n = x.shape
    j_n = cuts.size
    d = np.zeros((b_n, n, j_n))
    e = np.zeros((b_n, n, j_n))
    for b in range(b_n):
        for i in range(p_n):
            if not include[b, i]:
                continue
            y = x[b, i]
            g = idx[b, i]
            for j in range(j_n):
                start = cuts[j]
                if y < start:
                    break
                end = cuts[j + 1] if j + 1 < j_n else np.inf
                e[b, g, j] += min(y, end) - start
                if ev[b, i] and y < end:
                    d[b, g, j] += 1.0
                    break
    return d, e


def interval_stats(
    cuts: FloatArray, x: FloatArray, ev: BoolArray, idx: IntArray, include: BoolArray, n: int
) -> tuple[FloatArray, FloatArray]:
    """Events and exposure per (trial, index, interval) from times ``x`` and event flags.

    ``idx`` (trials, patients) in ``[0, n)`` says where each included patient counts.
    """
    d, e = _interval_stats(cuts, x, ev, idx, include, n)
    return np.asarray(d, dtype=float), np.asarray(e, dtype=float)


@numba.njit(cache=True, nogil=True)
def _walk(
    d: FloatArray, e: FloatArray, row: int, cuts: FloatArray, y: float, event: bool
) -> None:  # pragma: no cover - compiled
    """Add follow-up ``[0, y)`` (and an event at ``y``) to the statistics of ``row``."""
    j_n = cuts.size
    for j in range(j_n):
        start = cuts[j]
        if y < start:
            break
        end = cuts[j + 1] if j + 1 < j_n else np.inf
        e[row, j] += min(y, end) - start
        if event and y < end:
            d[row, j] += 1.0
            break


@numba.njit(cache=True, nogil=True, inline="always")
def _residual(
    haz: FloatArray,
    b: int,
    m: int,
    g: int,
    st: int,
    ends: FloatArray,
    jf: int,
    f: float,
    unit: float,
) -> tuple[float, int]:  # pragma: no cover - compiled
    """Event time after ``f`` (in interval ``jf``) from a unit exponential, and its interval:
    the closed-form inverse of the residual cumulative hazard, interval by interval."""
    pos, rem = f, unit
    for j in range(jf, ends.size):
        h = haz[b, m, g, st, j]
        need = h * (ends[j] - pos)
        if rem <= need:
            return pos + rem / h, j
        rem -= need
        pos = ends[j]
    return np.inf, ends.size - 1  # pragma: no cover - the last interval is open


@numba.njit(cache=True, nogil=True, inline="always")
def _tail(
    d: FloatArray,
    e: FloatArray,
    row: int,
    cuts: FloatArray,
    ends: FloatArray,
    jf: int,
    f: float,
    t: float,
    jt: int,
    c: float,
) -> None:  # pragma: no cover - compiled
    """Add follow-up ``[f, min(t, c))`` and an event if ``t <= c`` (branch-free exposure up
    to ``t``'s interval ``jt``: nothing is added after it)."""
    y = min(t, c)
    for j in range(jf, jt + 1):
        e[row, j] += max(0.0, min(y, ends[j]) - max(f, cuts[j]))
    if t <= c:
        d[row, jt] += 1.0


@numba.njit(cache=True, nogil=True)
def _draws(
    follow: FloatArray,
    x: FloatArray,
    ev: BoolArray,
    include: BoolArray,
    cens: FloatArray,
    m_n: int,
    m2: int,
) -> IntArray:  # pragma: no cover - compiled
    """Number of draws each patient needs (0 when its completed data are known)."""
    b_n, p_n = x.shape
    out = np.zeros((b_n, p_n), dtype=np.int64)
    for b in range(b_n):
        for i in range(p_n):
            f = follow[b, i]
            if include[0, b, i] and not (ev[b, i] or cens[0, b, i] <= f):
                out[b, i] = m_n
            elif include[1, b, i] and not (ev[b, i] or cens[1, b, i] <= f):
                out[b, i] = m2
    return out


@numba.njit(cache=True, nogil=True)
def _known(
    d0: FloatArray,
    e0: FloatArray,
    row: int,
    cuts: FloatArray,
    x: float,
    ev: bool,
    c: float,
    f: float,
) -> bool:  # pragma: no cover - compiled
    """Count what does not depend on the draw: the whole patient if its completed data are
    known (returns False), else its follow-up up to ``f`` (returns True)."""
    if ev or c <= f:
        _walk(d0, e0, row, cuts, min(x, c), ev and x <= c)
        return False
    _walk(d0, e0, row, cuts, f, False)
    return True


@numba.njit(cache=True, nogil=True)
def _complete(
    cuts: FloatArray,
    follow: FloatArray,
    x: FloatArray,
    ev: BoolArray,
    status: IntArray,
    group: IntArray,
    include: BoolArray,
    cens: FloatArray,
    m2: int,
    haz: FloatArray,
    pneg: FloatArray,
    rand: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:  # pragma: no cover - compiled
    """Completions of the patients ``include[0]`` censored at ``cens[0]`` (all draws) and,
    from the same draws, of ``include[1]`` at ``cens[1]`` (first ``m2`` draws); the part that
    does not depend on the draw apart. ``rand[0]`` (unit exponentials) and ``rand[1]``
    (uniforms, for an unknown MRD status) are consumed in order, one of each per draw."""
    b_n, p_n = x.shape
    m_n, g_n, s_n, j_n = haz.shape[1], haz.shape[2], haz.shape[3], cuts.size
    ends = np.empty(j_n)
    ends[:-1] = cuts[1:]
    ends[-1] = np.inf
    d = np.zeros((2, b_n * m_n * g_n, j_n))
    e = np.zeros((2, b_n * m_n * g_n, j_n))
    d0 = np.zeros((2, b_n * g_n, j_n))
    e0 = np.zeros((2, b_n * g_n, j_n))
    d_one, e_one, d_two, e_two = d[0], e[0], d[1], e[1]
    k = 0
    for b in range(b_n):
        for i in range(p_n):
            g, f, xi, evi = group[b, i], follow[b, i], x[b, i], ev[b, i]
            c1, c2 = cens[0, b, i], cens[1, b, i]
            row0 = b * g_n + g
            one = include[0, b, i] and _known(d0[0], e0[0], row0, cuts, xi, evi, c1, f)
            two = include[1, b, i] and _known(d0[1], e0[1], row0, cuts, xi, evi, c2, f)
            jf = 0
            while jf + 1 < j_n and cuts[jf + 1] <= f:
                jf += 1
            unknown = status[b, i] == UNKNOWN or status[b, i] >= s_n
            for m in range(m_n if one else (m2 if two else 0)):
                st = status[b, i]
                if unknown:
                    st = 0 if rand[1, k] < pneg[b, m, g] else min(1, s_n - 1)
                t, jt = _residual(haz, b, m, g, st, ends, jf, f, rand[0, k])
                k += 1
                row = (b * m_n + m) * g_n + g
                if one:
                    _tail(d_one, e_one, row, cuts, ends, jf, f, t, jt, c1)
                if two and m < m2:
                    _tail(d_two, e_two, row, cuts, ends, jf, f, t, jt, c2)
    return d, e, d0, e0


def complete_follow_up(
    cuts: FloatArray,
    follow: FloatArray,
    x: FloatArray,
    ev: BoolArray,
    status: IntArray,
    group: IntArray,
    include: BoolArray,
    cens: FloatArray,
    link: LinkPosterior,
    rng: np.random.Generator,
    *,
    also: tuple[BoolArray, FloatArray, int] | None = None,
) -> tuple[FloatArray, ...]:
    """Events and exposure per (trial, completion, group, interval) of completed follow-up.

    ``follow``: follow-up at the current analysis (0 for patients not yet enrolled);
    ``x, ev``: observed time and event flag; ``status``: :data:`NEG`, :data:`POS` or
    :data:`UNKNOWN`; ``cens``: where each completed time is censored. ``also = (include2,
    cens2, m2)`` returns, from the same draws, a second completion of the patients
    ``include2`` censored at ``cens2`` over the first ``m2`` draws (events and exposure after
    the first pair). The unit exponentials and uniforms are drawn from ``rng`` in bulk (one
    of each per patient and draw that needs one), so the result is reproducible from
    ``rng``'s state.
    """
    include2, cens2, m2 = also if also is not None else (np.zeros_like(include), cens, 0)
    inc = np.stack([include, include2])
    cc = np.stack([cens, np.broadcast_to(cens2, cens.shape)])
    m_n = link.hazards.shape[1]
    n = int(_draws(follow, x, ev, inc, cc, m_n, m2).sum())
    rand = np.empty((2, n))
    rng.standard_exponential(out=rand[0])
    rng.random(out=rand[1])
    d, e, d0, e0 = _complete(
        cuts, follow, x, ev, status, group, inc, cc, m2,
        np.ascontiguousarray(link.hazards), np.ascontiguousarray(link.p_negative), rand,
    )  # fmt: skip
    b_n, g_n, j_n = x.shape[0], link.hazards.shape[2], cuts.size
    out = []
    for k, m in ((0, m_n), (1, m2)):
        dk = d[k].reshape(b_n, m_n, g_n, j_n)[:, :m] + d0[k].reshape(b_n, 1, g_n, j_n)
        ek = e[k].reshape(b_n, m_n, g_n, j_n)[:, :m] + e0[k].reshape(b_n, 1, g_n, j_n)
        out += [np.asarray(dk, dtype=float), np.asarray(ek, dtype=float)]
    return tuple(out) if also is not None else tuple(out[:2])


class LinkPosterior:
    """Posterior draws of the link model: hazards (trial, draw, group, status, interval) and
    P(MRD negative) (trial, draw, group)."""

    __slots__ = ("hazards", "p_negative")

    def __init__(self, hazards: FloatArray, p_negative: FloatArray) -> None:
        self.hazards = hazards
        self.p_negative = p_negative

    def head(self, draws: int) -> LinkPosterior:
        """The first ``draws`` draws."""
        return LinkPosterior(self.hazards[:, :draws], self.p_negative[:, :draws])


def draw_link(
    d: FloatArray,
    e: FloatArray,
    prior_shape: FloatArray,
    prior_rate: FloatArray,
    day_index: int | None,
    n_known: tuple[FloatArray, FloatArray] | None,
    draws: int,
    rng: np.random.Generator,
) -> LinkPosterior:
    """Draw the link model's parameters from their conjugate posteriors.

    ``d, e``: (trials, groups, 3 levels, intervals) observed statistics by MRD level;
    ``prior_shape, prior_rate``: (groups, intervals). With ``day_index`` None there is no
    predictor: one status, all levels pooled. ``n_known``: numbers of MRD-negative and
    MRD-positive patients per (trial, group'), where the groups' of P(MRD negative) may
    be finer than the hazards' (a pooled link: hazards per stratum, P per arm and stratum).
    """
    b_n, g_n = d.shape[0], d.shape[1]
    if day_index is None:
        a = prior_shape + d.sum(axis=2)
        r = prior_rate + e.sum(axis=2)
        lam = rng.standard_gamma(a[:, None, :, None, :], size=(b_n, draws, g_n, 1, a.shape[-1]))
        return LinkPosterior(lam / r[:, None, :, None, :], np.ones((b_n, draws, g_n)))
    pre_d, pre_e = d.sum(axis=2, keepdims=True), e.sum(axis=2, keepdims=True)
    before = np.arange(d.shape[-1]) < day_index
    dd = np.where(before, pre_d, d[:, :, :2])
    ee = np.where(before, pre_e, e[:, :, :2])
    a = prior_shape[:, None, :] + dd
    r = prior_rate[:, None, :] + ee
    lam = rng.standard_gamma(a[:, None], size=(b_n, draws, *a.shape[1:])) / r[:, None]
    lam[..., POS, :day_index] = lam[..., NEG, :day_index]  # one pooled hazard before the day
    if n_known is None:
        n_known = (np.zeros((b_n, g_n)), np.zeros((b_n, g_n)))
    neg, pos = n_known
    p = rng.beta(1.0 + neg[:, None, :], 1.0 + pos[:, None, :], size=(b_n, draws, neg.shape[1]))
    return LinkPosterior(lam, p)
