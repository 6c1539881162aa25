"""Binary-outcome trials simulated one at a time in one compiled pass (numba).

The same rules as :class:`infantall.design.adaptive.engine._State` and
:func:`~infantall.design.adaptive.engine.allocation_probabilities`, transcribed per trial:
patients between two analyses are allocated with the probabilities of the last analysis
(one uniform per patient, drawn by numpy for every trial of the block as the vectorised
engine draws them: it picks the arm and, within the arm's share, the outcome), then the
posterior probabilities come from the cached quadrature of
:mod:`infantall.design.adaptive.kernel`, then superiority, futility dropping and the next
allocation. P(best) is computed only for trials that go on to another analysis. Used for
binary designs with quadrature posteriors and no equivalence rule; the vectorised engine
handles the rest.
"""

from __future__ import annotations

import math
import threading

import numba
import numpy as np
from numpy.typing import NDArray

from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.kernel import (
    BetaCache,
    Workspace,
    best_after,
    beta_posterior,
    room,
)

__all__ = ["simulate_binary_compiled"]

_SUP, _FUT, _MAX = 0, 1, 3
_CACHES: dict[tuple[float, float, int], BetaCache] = {}
_LOCK = threading.Lock()
_BUFFER = [np.empty(0)]

FloatArray = NDArray[np.float64]


@numba.njit(cache=True)
def _power(x: float, e: float) -> float:
    if e == 1.0:
        return x
    if e == 0.5:
        return math.sqrt(x)
    return float(x**e)


@numba.njit(cache=True)
def _normalise(x: FloatArray, mask: NDArray[np.bool_]) -> None:
    """x restricted to ``mask`` and scaled to sum 1 (equal shares if it sums to 0)."""
    total, count = 0.0, 0
    for k in range(x.size):
        x[k] = x[k] if mask[k] else 0.0
        total += x[k]
        count += 1 if mask[k] else 0
    for k in range(x.size):
        if total > 0.0:
            x[k] = x[k] / total
        else:
            x[k] = (1.0 if mask[k] else 0.0) / max(count, 1)


@numba.njit(cache=True)
def _cap_pass(x: FloatArray, exp: NDArray[np.bool_], control: int, cap: float) -> bool:
    """One redistribution of the shares above ``cap``; False when none is above."""
    excess = 0.0
    over = False
    for k in range(x.size):
        if exp[k] and x[k] > cap + 1e-15:
            excess += x[k] - cap
            x[k] = cap
            over = True
    if not over:
        return False
    free = exp & (x < cap - 1e-15)
    share = x.copy()
    _normalise(share, free)
    if not free.any():
        x[control] += excess
    for k in range(x.size):
        x[k] += share[k] * excess
    return True


@numba.njit(cache=True)
def _allocate(
    best: FloatArray,
    active: NDArray[np.bool_],
    control: int,
    rules: tuple[bool, float, float, float],
    x: FloatArray,
) -> None:
    """allocation_probabilities for one trial, into ``x``."""
    adaptive, softening, floor, cap = rules
    for k in range(x.size):
        x[k] = _power(best[k], softening) if adaptive else 1.0
    _normalise(x, active)
    exp = active.copy()
    exp[control] = False
    xc = max(x[control], floor)
    _normalise(x, exp)
    for k in range(x.size):
        x[k] *= 1.0 - xc
    x[control] = xc if exp.any() else 1.0
    for _ in range(x.size):
        if not _cap_pass(x, exp, control, cap):
            break
    x /= x.sum()


@numba.njit(cache=True)
def _enrol(
    u: FloatArray,
    alloc: FloatArray,
    truth: FloatArray,
    n: NDArray[np.int64],
    s: NDArray[np.int64],
) -> None:
    """Patients with uniforms ``u``. Arm k takes the interval [lo_k, hi_k) of the cumulative
    allocation (lo_0 = -inf, hi_last = +inf: the engine's count of ``u >= cum``), and its
    patient succeeds when ``u < lo_k + p_k x alloc_k``. One pass per arm: integer counts
    the compiler vectorises."""
    k_n = alloc.size
    acc = 0.0
    for k in range(k_n):  # the same running sum as numpy's cumsum
        lo = acc
        acc += alloc[k]
        a = lo if k > 0 else -math.inf
        b = acc if k < k_n - 1 else math.inf
        thr = lo + truth[k] * alloc[k]
        count, wins = 0, 0
        for p in range(u.size):
            inside = (u[p] >= a) & (u[p] < b)
            count += inside
            wins += inside & (u[p] < thr)
        n[k] += count
        s[k] += wins


@numba.njit(cache=True)
def _decide(
    better: FloatArray,
    active: NDArray[np.bool_],
    control: int,
    thresholds: tuple[float, float],
) -> tuple[int, int, float]:
    """(decision code or -1, selected arm, top P(better)); drops futile arms in ``active``."""
    superiority, futility = thresholds
    top, sel = -1.0, -1
    for k in range(better.size):
        if active[k] and k != control and better[k] > top:
            top, sel = better[k], k
    if top > superiority:
        return _SUP, sel, top
    left = 0
    for k in range(better.size):
        if active[k] and k != control:
            if better[k] < futility:
                active[k] = False
            else:
                left += 1
    return (_FUT if left == 0 else -1), -1, top


@numba.njit(cache=True)
def _one_trial(
    draws: tuple[FloatArray, NDArray[np.int64], int],
    t: int,
    looks: NDArray[np.int64],
    design: tuple[
        FloatArray, FloatArray, int, tuple[float, float], tuple[bool, float, float, float]
    ],
    cache: tuple[object, NDArray[np.int64], tuple[FloatArray, FloatArray]],
    prior: tuple[float, float, int],
    trial: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]],
    scratch: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    work: Workspace,
) -> tuple[int, int, int, int, float]:
    """Simulate one trial: (decision, selected, stop look, patients, max P(better))."""
    alloc0, truth, control, thresholds, rules = design
    n, s, active = trial
    alloc, better, best, ones = scratch
    before = np.empty(active.size, dtype=np.bool_)
    alloc[:] = alloc0
    max_better, previous, last = 0.0, 0, looks.size - 1
    flat, starts, _ = draws
    for j in range(looks.size):
        m = looks[j] - previous
        at = starts[j] + t * m
        _enrol(flat[at : at + m], alloc, truth, n, s)
        previous = looks[j]
        # P(best) sets the next allocation only: computed after the decision, for the
        # trials that go on (none after the last analysis), with the arms active before it
        before[:] = active
        looked_up = beta_posterior(
            cache, s, n - s, prior, active, control, False, (better, best), work
        )
        code, sel, top = _decide(better, active, control, thresholds)
        max_better = max(max_better, top)
        if code >= 0 or j == last:
            return code if code >= 0 else _MAX, sel, j, looks[j], max_better
        if rules[0]:
            best_after(cache, looked_up, before, best, work)
        _allocate(best if rules[0] else ones, active, control, rules, alloc)
    return _MAX, -1, last, looks[last], max_better


@numba.njit(cache=True)
def _trials(
    draws: tuple[FloatArray, NDArray[np.int64], int],
    looks: NDArray[np.int64],
    design: tuple[
        FloatArray, FloatArray, int, tuple[float, float], tuple[bool, float, float, float]
    ],
    cache: tuple[object, NDArray[np.int64], tuple[FloatArray, FloatArray]],
    prior: tuple[float, float, int],
    out: tuple[
        NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_], FloatArray, NDArray[np.int64]
    ],
    work: Workspace,
    resume: tuple[int, int],
) -> int:
    """Trials from ``resume[0]`` on, results into ``out``; returns where it stopped (the
    block size when done, else a trial for which the cache had no room for ``resume[1]``
    more values: nothing of that trial was written)."""
    n, s, active, max_better, codes = out
    index, meta, store = cache
    k_n = n.shape[1]
    scratch = (np.empty(k_n), np.empty(k_n), np.empty(k_n), np.ones(k_n))
    for t in range(resume[0], draws[2]):
        if not room(index, meta, store[0].size, looks.size * k_n, resume[1]):
            return t
        res = _one_trial(
            draws, t, looks, design, cache, prior, (n[t], s[t], active[t]), scratch, work
        )
        codes[t, 0], codes[t, 1], codes[t, 2], codes[t, 3] = res[0], res[1], res[2], res[3]
        max_better[t] = res[4]
    return draws[2]


def _cache(spec: TrialSpec) -> BetaCache:
    stride = int(spec.max_patients or max(spec.analyses.patients or [0])) + 1
    key = (float(spec.prior.beta_a), float(spec.prior.beta_b), stride)
    if key not in _CACHES:
        _CACHES[key] = BetaCache(*key)
    return _CACHES[key]


def _draws(size: int) -> FloatArray:
    """A buffer of ``size`` floats, reused across blocks (a fresh one per block costs page
    faults comparable to drawing the numbers); call under ``_LOCK``."""
    if _BUFFER[0].size < size:
        _BUFFER[0] = np.empty(size)
    return _BUFFER[0][:size]


def simulate_binary_compiled(
    spec: TrialSpec, size: int, rng: np.random.Generator, alloc0: FloatArray
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_], FloatArray, NDArray[np.int64]]:
    """(patients per arm, successes per arm, active arms, max P(better), codes) per trial.

    ``codes`` columns: decision, selected arm, stop look, patients. ``alloc0`` is the
    first allocation (equal shares after the floor and cap).
    """
    looks = np.asarray(spec.analyses.patients or [], dtype=np.int64)
    widths = np.diff(looks, prepend=0)
    # the engine's draws: one uniform per patient, per analysis a (trials, patients)
    # C-ordered block for all trials, the blocks one after another (one stream)
    starts = np.concatenate([[0], np.cumsum(size * widths)[:-1]]).astype(np.int64)
    k = spec.n_arms
    r, d = spec.randomisation, spec.decisions
    design = (
        np.ascontiguousarray(alloc0, dtype=float),
        np.array([float(arm.p or 0.0) for arm in spec.arms]),
        spec.control_index,
        (float(d.superiority), float(d.futility) if d.futility is not None else -1.0),
        (bool(r.adaptive), float(r.softening), float(r.control_floor), float(r.cap)),
    )
    out = (
        np.zeros((size, k), dtype=np.int64),
        np.zeros((size, k), dtype=np.int64),
        np.ones((size, k), dtype=bool),
        np.zeros(size),
        np.zeros((size, 4), dtype=np.int64),
    )
    with _LOCK:
        flat = _draws(size * int(widths.sum()))
        rng.random(out=flat)
        cache = _cache(spec)
        work = cache.workspace(k)
        need = looks.size * k * cache.max_nodes
        done = 0
        while done < size:
            state = cache.state()
            done = _trials(
                (flat, starts, size), looks, design, state, cache.prior, out, work, (done, need)
            )
            if done < size:
                cache.grow()
    return out
