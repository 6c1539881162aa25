"""Mixture-cure analysis: ``S(t) = pi + (1 - pi) S_u(t)`` with a piecewise-exponential ``S_u``.

The posterior is not conjugate; a Gibbs sampler with latent cure indicators makes each step
conjugate (the usual data augmentation for cure models, e.g. Ibrahim, Chen and Sinha,
*Bayesian Survival Analysis*, 2001, section 5.2): given ``pi`` and the hazards, a patient
censored at ``c`` is cured with probability ``pi / (pi + (1 - pi) S_u(c))`` (patients with an
event are not); given the indicators, ``pi ~ Beta(a + cured, b + not cured)`` and each
interval's hazard ``~ Gamma(shape + d_j, rate + E_j)`` with the exposure of the not-cured
patients only. One chain per trial and group, compiled with numba, vectorised over trials;
``tests/design/test_tte_cure.py`` checks it against numerical integration of the exact
posterior.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = ["cure_survival_draws"]

FloatArray = NDArray[np.float64]


@numba.njit(cache=True, nogil=True)
def _exposure(cuts: FloatArray, y: float, out: FloatArray) -> None:  # pragma: no cover
    j_n = cuts.size
    for j in range(j_n):
        end = cuts[j + 1] if j + 1 < j_n else np.inf
        out[j] = max(0.0, min(y, end) - cuts[j])


@numba.njit(cache=True, nogil=True)
def _events(
    cuts: FloatArray, x: FloatArray, ev: NDArray[np.bool_], mine: NDArray[np.bool_]
) -> FloatArray:  # pragma: no cover - compiled
    """Events per interval of the patients ``mine``."""
    d = np.zeros(cuts.size)
    for i in range(x.size):
        if mine[i] and ev[i]:
            d[np.searchsorted(cuts, x[i], side="right") - 1] += 1.0
    return d


@numba.njit(cache=True, nogil=True)
def _sweep(
    cuts: FloatArray,
    x: FloatArray,
    ev: NDArray[np.bool_],
    mine: NDArray[np.bool_],
    lam: FloatArray,
    pi: float,
    expo: FloatArray,
    e: FloatArray,
) -> int:  # pragma: no cover - compiled
    """Draw the cure indicators; fill ``e`` with the not-cured exposure; return the cured."""
    e[:] = 0.0
    cured = 0
    for i in range(x.size):
        if not mine[i]:
            continue
        _exposure(cuts, x[i], expo)
        if not ev[i]:
            s_u = np.exp(-np.sum(lam * expo))
            if np.random.random() * (pi + (1 - pi) * s_u) < pi:
                cured += 1
                continue
        e += expo
    return cured


@numba.njit(cache=True, nogil=True)
def _gibbs(
    cuts: FloatArray,
    x: FloatArray,
    ev: NDArray[np.bool_],
    group: NDArray[np.int64],
    include: NDArray[np.bool_],
    shape: FloatArray,
    rate: FloatArray,
    beta: FloatArray,
    w: FloatArray,
    iterations: int,
    burn: int,
    seed: int,
) -> FloatArray:  # pragma: no cover - compiled
    np.random.seed(seed)
    b_n = x.shape[0]
    g_n, j_n = shape.shape
    out = np.empty((b_n, g_n, iterations))
    expo = np.empty(j_n)
    e = np.empty(j_n)
    for b in range(b_n):
        for g in range(g_n):
            mine = include[b] & (group[b] == g)
            n = mine.sum()
            d = _events(cuts, x[b], ev[b], mine)
            lam = (shape[g] + d) / rate[g]
            pi = 0.5
            for it in range(burn + iterations):
                cured = _sweep(cuts, x[b], ev[b], mine, lam, pi, expo, e)
                pi = np.random.beta(beta[0] + cured, beta[1] + n - cured)
                for j in range(j_n):
                    lam[j] = np.random.gamma(shape[g, j] + d[j], 1.0) / (rate[g, j] + e[j])
                if it >= burn:
                    out[b, g, it - burn] = pi + (1 - pi) * np.exp(-np.sum(lam * w))
    return out


def cure_survival_draws(
    cuts: FloatArray,
    x: FloatArray,
    ev: NDArray[np.bool_],
    group: NDArray[np.int64],
    include: NDArray[np.bool_],
    prior_shape: FloatArray,
    prior_rate: FloatArray,
    cure_prior: tuple[float, float],
    weights: FloatArray,
    *,
    iterations: int,
    burn: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Posterior draws (trials, groups, iterations) of ``S(horizon)`` under mixture cure.

    ``weights``: time in each interval before the horizon; ``cure_prior``: Beta(a, b) of the
    cure fraction; ``prior_shape, prior_rate``: (groups, intervals) Gamma priors.
    """
    seed = int(rng.integers(0, 2**31 - 1))
    out = _gibbs(
        cuts, x, ev, group, include, prior_shape, prior_rate,
        np.asarray(cure_prior, dtype=float), weights, iterations, burn, seed,
    )  # fmt: skip
    return np.asarray(out, dtype=float)
