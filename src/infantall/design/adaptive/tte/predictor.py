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
The kernels are compiled with numba; the random numbers come from numpy generators, so the
results are reproducible from the block's seed.
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
def _residual(
    haz: FloatArray, b: int, m: int, g: int, st: int, cuts: FloatArray, f: float, unit: float
) -> float:  # pragma: no cover - compiled
    pos = f
    rem = unit
    j_n = cuts.size
    for j in range(j_n):
        end = cuts[j + 1] if j + 1 < j_n else np.inf
        if end <= pos:
            continue
        h = haz[b, m, g, st, j]
        if end == np.inf or rem <= h * (end - pos):
            return float(pos + rem / h)
        rem -= h * (end - pos)
        pos = end
    return np.inf


@numba.njit(cache=True, nogil=True)
def _accumulate(
    d: FloatArray, e: FloatArray, row: int, cuts: FloatArray, y: float, event: bool
) -> None:  # pragma: no cover - compiled
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


@numba.njit(cache=True, nogil=True)
def _known(
    d0: FloatArray,
    e0: FloatArray,
    row: int,
    cuts: FloatArray,
    x: float,
    ev: bool,
    c: float,
    follow: float,
) -> bool:  # pragma: no cover - compiled
    """Count a patient whose completed data do not depend on the draw; True if it does."""
    if ev or c <= follow:
        _accumulate(d0, e0, row, cuts, min(x, c), ev and x <= c)
        return False
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
    seed: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:  # pragma: no cover - compiled
    """Completions of the patients ``include[0]`` censored at ``cens[0]`` (all draws) and,
    from the same draws, of ``include[1]`` at ``cens[1]`` (first ``m2`` draws); the part that
    does not depend on the draw apart."""
    np.random.seed(seed)
    b_n, p_n = x.shape
    m_n, g_n, s_n, j_n = haz.shape[1], haz.shape[2], haz.shape[3], cuts.size
    cens1, cens2 = cens[0], cens[1]
    d = np.zeros((2, b_n * m_n * g_n, j_n))
    e = np.zeros((2, b_n * m_n * g_n, j_n))
    d0 = np.zeros((2, b_n * g_n, j_n))
    e0 = np.zeros((2, b_n * g_n, j_n))
    d_a, e_a, d_b, e_b = d[0], e[0], d[1], e[1]
    d0_a, e0_a, d0_b, e0_b = d0[0], e0[0], d0[1], e0[1]
    for b in range(b_n):
        for i in range(p_n):
            g = group[b, i]
            f = follow[b, i]
            row0 = b * g_n + g
            one = include[0, b, i] and _known(
                d0_a, e0_a, row0, cuts, x[b, i], ev[b, i], cens1[b, i], f
            )
            two = include[1, b, i] and _known(
                d0_b, e0_b, row0, cuts, x[b, i], ev[b, i], cens2[b, i], f
            )
            for m in range(m_n if one else (m2 if two else 0)):
                st = status[b, i]
                if st == UNKNOWN or st >= s_n:
                    st = 0 if np.random.random() < pneg[b, m, g] else min(1, s_n - 1)
                t = _residual(haz, b, m, g, st, cuts, f, np.random.exponential())
                row = (b * m_n + m) * g_n + g
                if one:
                    _accumulate(d_a, e_a, row, cuts, min(t, cens1[b, i]), t <= cens1[b, i])
                if two and m < m2:
                    _accumulate(d_b, e_b, row, cuts, min(t, cens2[b, i]), t <= cens2[b, i])
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
    the first pair). The kernel's own generator is seeded from ``rng``, so the result is
    reproducible from ``rng``'s state.
    """
    seed = int(rng.integers(0, 2**31 - 1))
    include2, cens2, m2 = also if also is not None else (np.zeros_like(include), cens, 0)
    d, e, d0, e0 = _complete(
        cuts, follow, x, ev, status, group, np.stack([include, include2]),
        np.stack([cens, np.broadcast_to(cens2, cens.shape)]), m2,
        link.hazards, link.p_negative, seed,
    )  # fmt: skip
    b_n, m_n, g_n, j_n = x.shape[0], link.hazards.shape[1], link.hazards.shape[2], cuts.size
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
    MRD-positive patients per (trial, group).
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
    p = rng.beta(1.0 + neg[:, None, :], 1.0 + pos[:, None, :], size=(b_n, draws, g_n))
    return LinkPosterior(lam, p)
