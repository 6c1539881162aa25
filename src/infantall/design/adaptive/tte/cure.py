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
def _gibbs(  # noqa: PLR0913
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
    b_n, p_n = x.shape
    g_n, j_n = shape.shape
    out = np.empty((b_n, g_n, iterations))
    expo = np.empty(j_n)
    for b in range(b_n):
        for g in range(g_n):
            d = np.zeros(j_n)
            n = 0
            for i in range(p_n):
                if include[b, i] and group[b, i] == g:
                    n += 1
                    if ev[b, i]:
                        _exposure(cuts, x[b, i], expo)
                        for j in range(j_n):
                            if expo[j] > 0 and (j + 1 == j_n or x[b, i] < cuts[j + 1]):
                                d[j] += 1.0
                                break
            lam = (shape[g] + d) / rate[g]
            pi = 0.5
            for it in range(burn + iterations):
                e = np.zeros(j_n)
                cured = 0
                for i in range(p_n):
                    if not (include[b, i] and group[b, i] == g):
                        continue
                    _exposure(cuts, x[b, i], expo)
                    if not ev[b, i]:
                        s_u = np.exp(-np.sum(lam * expo))
                        if np.random.random() * (pi + (1 - pi) * s_u) < pi:
                            cured += 1
                            continue
                    e += expo
                pi = np.random.beta(beta[0] + cured, beta[1] + n - cured)
                for j in range(j_n):
                    lam[j] = np.random.gamma(shape[g, j] + d[j], 1.0) / (rate[g, j] + e[j])
                if it >= burn:
                    out[b, g, it - burn] = pi + (1 - pi) * np.exp(-np.sum(lam * w))
    return out


def cure_survival_draws(  # noqa: PLR0913
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
