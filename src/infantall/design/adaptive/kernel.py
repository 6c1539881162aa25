"""Compiled simulation of binary-outcome trials with float64 quadrature posteriors.

The vectorised engine (:mod:`infantall.design.adaptive.engine`) spent ~90% of its time in
the posterior quadrature: at every analysis of every trial, exact Beta CDFs (continued
fractions) at ~50 nodes per arm. This kernel simulates one trial at a time, all analyses,
in one compiled pass, and computes the posterior probabilities from a cache:

* With integer counts, a Beta posterior is ``Beta(a0 + s, b0 + f)`` for a (successes,
  failures) pair, and across thousands of simulated trials the same pairs recur (4,967
  distinct pairs in the 139,544 arm-analyses of 10,000 trials of the 4-arm example).
* Quadrature nodes are put on fixed grids of the logit scale ``eta``, ``eta_i = i h_L``, with
  a geometric ladder of steps ``h_L = H0 R^-L``. A trial analysed at level ``L`` (the
  coarsest step below ``STEP_SD`` x its narrowest active posterior sd) reads each arm's
  density and CDF at those nodes from the cache, filled once per (pair, level): the density
  in closed form and the CDF by one exact incomplete beta at the pair's first node plus
  5-point Gauss–Legendre integrals of the density between consecutive nodes.
* ``P(best_k) = h sum_i f_k(eta_i) prod_{j != k} F_j(eta_i)`` over active arms and
  ``P(better than control) = h sum_i f_k(eta_i) F_c(eta_i)`` (trapezoid rule; the
  integrands vanish to ~1e-11 at the ends, so it is a spectrally accurate rule).

Accuracy (tests/design/test_adaptive_kernel.py): within 1e-8 of the float64 exact
probabilities of :mod:`infantall.design.adaptive.exact` (themselves checked against scipy).

Random numbers are drawn by numpy exactly as by the vectorised engine (one uniform per
patient, for every trial of the block, look by look), so a trial's data never depend on its
neighbours and the outcomes equal the engine's for the same seed (tested).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.typed import Dict
from numpy.typing import NDArray

from infantall.design.adaptive.exact import betainc

__all__ = [
    "BetaCache",
    "Workspace",
    "best_after",
    "beta_posterior",
    "cached_beta_probabilities",
    "room",
]

#: Scratch arrays of :func:`beta_posterior`: cache rows, a product buffer, two sums.
Workspace = tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]

#: Trapezoid step in units of the narrowest active posterior sd (before the ladder rounds
#: it down by up to a factor R).
STEP_SD = 0.6
#: Largest step whatever the sd: a logit-Beta density with a or b near 1 is skewed
#: (Gumbel-like), analytic only in a strip |Im eta| < ~pi/2, where the trapezoid error is
#: ~exp(-pi^2 / h) times a shape factor: a Beta(251, 1) arm was off by 5e-7 at h = 0.6, a
#: Beta(249, 2) one by 4e-8 at h = 0.45; h = 0.35 leaves < 1e-9 on the rows of the tests.
H_MAX = 0.35
#: Half-width of a posterior's range in sd; the range also reaches TAIL_LOG / a (resp. / b)
#: to cover the exponential tails of a logit-Beta density.
SPAN = 7.5
TAIL_LOG = 27.0
#: The step ladder: h_L = H0 * R ** -L, L = 0 .. LEVELS - 1.
H0 = 2.0
R = 2.0**0.25
LEVELS = 64
# 5-point Gauss–Legendre on [0, 1]: nodes and weights
_GL_X = np.array(
    [
        0.5 - 0.5 * 0.9061798459386640,
        0.5 - 0.5 * 0.5384693101056831,
        0.5,
        0.5 + 0.5 * 0.5384693101056831,
        0.5 + 0.5 * 0.9061798459386640,
    ]
)
_GL_W = 0.5 * np.array(
    [0.2369268850561891, 0.4786286704993665, 0.5688888888888889, 0.4786286704993665,
     0.2369268850561891]
)  # fmt: skip
_SUP, _FUT, _MAX = 0, 1, 3


@numba.njit(cache=True)
def _log_density(a: float, b: float, lbeta: float, eta: float) -> float:
    """Log density of eta = logit p for p ~ Beta(a, b): a eta - (a + b) softplus(eta)."""
    sp = eta + math.log1p(math.exp(-eta)) if eta > 0.0 else math.log1p(math.exp(eta))
    return a * eta - (a + b) * sp - lbeta


@numba.njit(cache=True)
def _fill(
    a: float, b: float, h: float, i0: int, dens: NDArray[np.float64], cdf: NDArray[np.float64]
) -> None:
    """Density and CDF of eta at nodes (i0 + g) h, g = 0 .. dens.size - 1."""
    lbeta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    eta = i0 * h
    cdf[0] = betainc(a, b, 1.0 / (1.0 + math.exp(-eta)))
    dens[0] = math.exp(_log_density(a, b, lbeta, eta))
    for g in range(1, dens.size):
        left = (i0 + g - 1) * h
        acc = 0.0
        for q in range(_GL_X.size):
            acc += _GL_W[q] * math.exp(_log_density(a, b, lbeta, left + _GL_X[q] * h))
        cdf[g] = min(cdf[g - 1] + acc * h, 1.0)
        dens[g] = math.exp(_log_density(a, b, lbeta, (i0 + g) * h))


@numba.njit(cache=True)
def _range(a: float, b: float, h: float) -> tuple[int, int]:
    """First node index and number of nodes of Beta(a, b) on the grid of step h."""
    mean, sd = math.log(a / b), math.sqrt(1.0 / a + 1.0 / b)
    left = max(SPAN * sd, TAIL_LOG / a)
    right = max(SPAN * sd, TAIL_LOG / b)
    i0 = int(math.floor((mean - left) / h))  # noqa: RUF046
    i1 = int(math.ceil((mean + right) / h))  # noqa: RUF046
    return i0, i1 - i0 + 1


@numba.njit(cache=True)
def _entry(
    index: Dict,
    meta: NDArray[np.int64],
    store: tuple[NDArray[np.float64], NDArray[np.float64]],
    key: int,
    ab: tuple[float, float, float],
) -> int:
    """Cache row of a new (pair, level) ``key``; the caller made room (:func:`room`)."""
    a, b, h = ab
    row = len(index)
    off = meta[row - 1, 2] + meta[row - 1, 1] if row > 0 else 0
    i0, n = _range(a, b, h)
    _fill(a, b, h, i0, store[0][off : off + n], store[1][off : off + n])
    meta[row, 0], meta[row, 1], meta[row, 2] = i0, n, off
    index[key] = row
    return row


@numba.njit(cache=True)
def room(index: Dict, meta: NDArray[np.int64], store_size: int, rows: int, values: int) -> bool:
    """Whether the cache can take ``rows`` more entries holding ``values`` more values."""
    used = len(index)
    end = meta[used - 1, 2] + meta[used - 1, 1] if used > 0 else 0
    return used + rows <= meta.shape[0] and end + values <= store_size


@numba.njit(cache=True)
def _level(sd_min: float) -> int:
    step = min(STEP_SD * sd_min, H_MAX)
    lev = int(math.ceil(math.log(H0 / step) / math.log(R)))  # noqa: RUF046
    return min(max(lev, 0), LEVELS - 1)


@numba.njit(cache=True)
def _sums(
    meta: NDArray[np.int64],
    store: tuple[NDArray[np.float64], NDArray[np.float64]],
    arms: NDArray[np.int64],
    ctrl: int,
    need_best: bool,
    sums: tuple[NDArray[np.float64], NDArray[np.float64]],
    prod: NDArray[np.float64],
) -> None:
    """Trapezoid sums (without the factor h) for the active arms (cache rows ``arms``;
    ``ctrl`` is the control's position among them) into ``sums`` (P(better), P(best));
    ``prod`` is at least as long as any stored range (:attr:`BetaCache.max_nodes`).

    Arm k's integrands vanish outside its own nodes and wherever another arm's CDF is 0 (left
    of that arm's stored nodes); right of its stored nodes a CDF is 1. The sums run over
    the nodes where the integrand can be non-zero only, multiplying by each other arm's
    stored CDF where it is stored (no exact zeros, no factors 1), and add the terms in four
    interleaved partial sums (:func:`_sum4`).
    """
    better, best = sums
    for k in range(arms.size):
        # control against itself: the caller sets 0.5
        better[k] = _better_sum(meta, store, arms[k], arms[ctrl], prod) if k != ctrl else 0.0
        best[k] = 0.0
        if need_best:
            best[k] = _best_sum(meta, store, arms, k, prod)


@numba.njit(cache=True)
def _sum4(x: NDArray[np.float64], size: int) -> float:
    """x[0] + ... + x[size - 1] in four interleaved partial sums (no serial dependency
    chain; the same order on every machine)."""
    a0, a1, a2, a3 = 0.0, 0.0, 0.0, 0.0
    end = size - size % 4
    for g in range(0, end, 4):
        a0 += x[g]
        a1 += x[g + 1]
        a2 += x[g + 2]
        a3 += x[g + 3]
    for g in range(end, size):
        a0 += x[g]
    return (a0 + a1) + (a2 + a3)


@numba.njit(cache=True)
def _better_sum(
    meta: NDArray[np.int64],
    store: tuple[NDArray[np.float64], NDArray[np.float64]],
    k_row: int,
    ctrl_row: int,
    prod: NDArray[np.float64],
) -> float:
    """sum_g dens_k(g) F_c(g) over arm k's nodes (F_c = 1 right of its stored nodes)."""
    dens, cdf = store
    start, n, off = meta[k_row, 0], meta[k_row, 1], meta[k_row, 2]
    c_start, c_n, c_off = meta[ctrl_row, 0], meta[ctrl_row, 1], meta[ctrl_row, 2]
    lo = max(start, c_start)
    width = start + n - lo
    if width <= 0:
        return 0.0
    d0, c0 = off + lo - start, c_off + lo - c_start
    both = max(min(width, c_start + c_n - lo), 0)
    for g in range(both):
        prod[g] = dens[d0 + g] * cdf[c0 + g]
    for g in range(both, width):
        prod[g] = dens[d0 + g]
    return _sum4(prod, width)


@numba.njit(cache=True)
def _best_sum(
    meta: NDArray[np.int64],
    store: tuple[NDArray[np.float64], NDArray[np.float64]],
    arms: NDArray[np.int64],
    k: int,
    prod: NDArray[np.float64],
) -> float:
    """sum_g dens_k(g) prod_{j != k} F_j(g) (loops the compiler can vectorise)."""
    dens, cdf = store
    start, n, off = meta[arms[k], 0], meta[arms[k], 1], meta[arms[k], 2]
    lo = start
    for j in range(arms.size):
        if j != k:
            lo = max(lo, meta[arms[j], 0])
    hi = start + n
    if lo >= hi:
        return 0.0
    width = hi - lo
    d0 = off + lo - start
    for g in range(width):
        prod[g] = dens[d0 + g]
    for j in range(arms.size):
        if j != k:
            j_start, j_n, j_off = meta[arms[j], 0], meta[arms[j], 1], meta[arms[j], 2]
            c0 = j_off + lo - j_start
            for g in range(min(width, j_start + j_n - lo)):
                prod[g] *= cdf[c0 + g]
    return _sum4(prod, width)


@numba.njit(cache=True)
def beta_posterior(
    cache: tuple[Dict, NDArray[np.int64], tuple[NDArray[np.float64], NDArray[np.float64]]],
    s: NDArray[np.int64],
    f: NDArray[np.int64],
    prior: tuple[float, float, int],
    active: NDArray[np.bool_],
    control: int,
    need_best: bool,
    out: tuple[NDArray[np.float64], NDArray[np.float64]],
    work: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
) -> tuple[int, float]:
    """P(better than control) and P(best) of one trial into ``out``; returns the number of
    active arms and the step, for :func:`best_after` (P(best) later, from the same rows).

    The cache must have room for one entry per arm (:func:`room`).
    """
    index, meta, store = cache
    a0, b0, stride = prior
    sd_min = 1e300
    for k in range(s.size):
        if active[k]:
            sd_min = min(sd_min, math.sqrt(1.0 / (a0 + s[k]) + 1.0 / (b0 + f[k])))
    lev = _level(sd_min)
    h = H0 * R ** (-lev)
    rows, prod = work[0], work[1]
    n_act, ctrl = 0, 0
    for k in range(s.size):
        if active[k]:
            key = (lev * stride + s[k]) * stride + f[k]
            found = index.get(key, -1)
            if found < 0:
                found = _entry(index, meta, store, key, (a0 + s[k], b0 + f[k], h))
            rows[n_act] = found
            ctrl = n_act if k == control else ctrl
            n_act += 1
    better, best = work[2], work[3]
    _sums(meta, store, rows[:n_act], ctrl, need_best, (better, best), prod)
    i = 0
    for k in range(s.size):
        out[0][k], out[1][k] = 0.0, 0.0
        if active[k]:
            out[0][k], out[1][k] = better[i] * h, best[i] * h
            i += 1
    out[0][control] = 0.5
    return n_act, h


@numba.njit(cache=True)
def best_after(
    cache: tuple[Dict, NDArray[np.int64], tuple[NDArray[np.float64], NDArray[np.float64]]],
    looked_up: tuple[int, float],
    active: NDArray[np.bool_],
    out: NDArray[np.float64],
    work: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
) -> None:
    """P(best) into ``out`` for the rows of the last :func:`beta_posterior` call on ``work``
    (``looked_up`` is what it returned, ``active`` the arms it was given): the same sums as
    ``need_best=True`` there, only when they are needed."""
    _, meta, store = cache
    n_act, h = looked_up
    rows, prod, best = work[0][:n_act], work[1], work[3]
    for i in range(n_act):
        best[i] = _best_sum(meta, store, rows, i, prod)
    i = 0
    for k in range(active.size):
        out[k] = 0.0
        if active[k]:
            out[k] = best[i] * h
            i += 1


class BetaCache:
    """Per-process cache of Beta densities and CDFs on the node ladder, for one prior.

        Its content is a pure function of (prior, pair, level), so results never depend on
        what an earlier run left in it; it is reset past ``max_values`` stored values. The
    compiled code never reallocates it: callers check :func:`room` before a trial and call
    :meth:`grow` when there is not enough.
    """

    def __init__(self, a0: float, b0: float, stride: int, max_values: int = 20_000_000) -> None:
        self.prior = (float(a0), float(b0), int(stride))
        self.max_values = max_values
        # bounds for counts below ``stride``: the finest step (the narrowest posterior is
        # Beta(a0 + n/2, b0 + n/2) at n = stride - 1) and the widest range of one posterior
        h_min = H0 * R ** -int(_level(math.sqrt(4.0 / (a0 + b0 + stride))))
        widest = 2.0 * max(SPAN * math.sqrt(1.0 / a0 + 1.0 / b0), TAIL_LOG / min(a0, b0))
        self.max_nodes = int(widest / h_min) + 3
        self.reset()

    def reset(self) -> None:
        self.index = Dict.empty(key_type=types.int64, value_type=types.int64)
        self.meta = np.zeros((1024, 3), dtype=np.int64)
        self.store = (np.empty(1 << 18), np.empty(1 << 18))

    def state(
        self,
    ) -> tuple[Dict, NDArray[np.int64], tuple[NDArray[np.float64], NDArray[np.float64]]]:
        if self.store[0].size > self.max_values:
            self.reset()
        return self.index, self.meta, self.store

    def grow(self) -> None:
        """Double the room (entries are kept)."""
        meta = np.zeros((2 * self.meta.shape[0], 3), dtype=np.int64)
        meta[: self.meta.shape[0]] = self.meta
        size = 2 * self.store[0].size
        store = (np.empty(size), np.empty(size))
        store[0][: self.store[0].size] = self.store[0]
        store[1][: self.store[1].size] = self.store[1]
        self.meta, self.store = meta, store

    def workspace(
        self, k_n: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Scratch arrays of :func:`beta_posterior` for ``k_n`` arms."""
        return (
            np.empty(k_n, dtype=np.int64),
            np.empty(self.max_nodes),
            np.empty(k_n),
            np.empty(k_n),
        )


@numba.njit(cache=True)
def _rows(
    cache: tuple[Dict, NDArray[np.int64], tuple[NDArray[np.float64], NDArray[np.float64]]],
    counts: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]],
    prior: tuple[float, float, int],
    control: int,
    need_best: bool,
    out: tuple[NDArray[np.float64], NDArray[np.float64]],
    work: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    resume: tuple[int, int],
) -> int:
    """Rows from ``resume[0]`` on; returns where it stopped (the row count when done, else a
    row for which the cache had no room for ``resume[1]`` more values)."""
    s, f, active = counts
    index, meta, store = cache
    for t in range(resume[0], s.shape[0]):
        if not room(index, meta, store[0].size, s.shape[1], resume[1]):
            return t
        beta_posterior(
            cache, s[t], f[t], prior, active[t], control, need_best, (out[0][t], out[1][t]), work
        )
    return int(s.shape[0])


def cached_beta_probabilities(
    successes: NDArray[np.int64],
    failures: NDArray[np.int64],
    active: NDArray[np.bool_],
    control: int,
    cache: BetaCache,
    *,
    need_best: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """(P(better than control), P(best) or None) of Beta(a0 + s, b0 + f) posteriors.

    Rows are trials, columns arms; only active arms are compared (P = 0 for the others).
    Counts must be below the cache's ``stride``.
    """
    counts = (
        np.ascontiguousarray(successes, dtype=np.int64),
        np.ascontiguousarray(failures, dtype=np.int64),
        np.ascontiguousarray(active, dtype=np.bool_),
    )
    out = (np.empty(counts[0].shape), np.empty(counts[0].shape))
    work = cache.workspace(counts[0].shape[1])
    need = counts[0].shape[1] * cache.max_nodes
    done = 0
    while done < counts[0].shape[0]:
        done = _rows(
            cache.state(),
            counts,
            cache.prior,
            int(control),
            bool(need_best),
            out,
            work,
            (done, need),
        )
        if done < counts[0].shape[0]:
            cache.grow()
    return out[0], (out[1] if need_best else None)
