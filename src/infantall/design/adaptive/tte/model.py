"""Vectorised conjugate piecewise-exponential posteriors and their decision quantities.

Arrays carry the trials (and imputations) in their leading axes and the intervals last. With
Gamma(a_j, rate b_j) posteriors per interval (:mod:`infantall.design.tte_posterior` does the
same for one arm), the cumulative hazard at a horizon ``h``, ``L = sum_j w_j lambda_j``
(``w_j`` the time spent in interval ``j`` before ``h``), is a sum of independent Gammas. It
is replaced by the Gamma with the same mean and variance (Welch-Satterthwaite moment
matching), which is exact when ``h`` lies in the first interval and otherwise agrees with Monte
Carlo to a few 1e-3 on the probabilities used here (``tests/design/test_tte_model.py``).
Then

* ``P(S_k(h) > S_c(h)) = P(L_k < L_c) = I_{B_k / (B_k + B_c)}(A_k, A_c)`` (Beta for a ratio
  of Gammas, as in :func:`infantall.design.tte_posterior.prob_hazard_ratio_below`);
* ``P(S_k(h) > S_c(h) + delta)`` by quadrature over the control's quantiles;
* ``P(best)`` by Monte Carlo from the matched Gammas (it only sets allocation ratios).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = [
    "horizon_weights",
    "matched_gamma",
    "matched_moments",
    "prob_best",
    "prob_better",
    "prob_better_by",
]

FloatArray = NDArray[np.float64]

#: Quantile midpoints of the control's cumulative hazard for ``P(S_k - S_c > delta)``.
_QUAD_POINTS = 96


def horizon_weights(cuts: FloatArray, horizon: float) -> FloatArray:
    """Time spent in each interval before ``horizon``."""
    ends = np.append(cuts[1:], np.inf)
    return np.asarray(np.clip(np.minimum(horizon, ends) - cuts, 0.0, None), dtype=float)


def matched_gamma(
    shape: FloatArray, rate: FloatArray, weights: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Gamma (shape, rate) with the mean and variance of ``sum_j w_j lambda_j``.

    ``lambda_j ~ Gamma(shape[..., j], rate[..., j])`` independently; reduces the last axis.
    """
    mean = np.sum(weights * shape / rate, axis=-1)
    var = np.sum(weights**2 * shape / rate**2, axis=-1)
    return mean**2 / var, mean / var


def matched_moments(
    mean: FloatArray, var: FloatArray, weights: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Gamma (shape, rate) with the mean and variance of ``sum_j w_j lambda_j`` from each
    independent ``lambda_j``'s mean and variance (any distribution; reduces the last axis)."""
    m = np.sum(weights * mean, axis=-1)
    v = np.sum(weights**2 * var, axis=-1)
    return m**2 / v, m / v


def prob_better(a_k: FloatArray, b_k: FloatArray, a_c: FloatArray, b_c: FloatArray) -> FloatArray:
    """``P(L_k < L_c)`` for independent ``L ~ Gamma(a, rate b)`` (broadcasting)."""
    return np.asarray(special.betainc(a_k, a_c, b_k / (b_k + b_c)), dtype=float)


def prob_better_by(
    a_k: FloatArray, b_k: FloatArray, a_c: FloatArray, b_c: FloatArray, delta: float
) -> FloatArray:
    """``P(exp(-L_k) > exp(-L_c) + delta)`` by midpoint quadrature over ``L_c``'s quantiles.

    ``a_c, b_c`` must broadcast against ``a_k, b_k``. With ``delta = 0`` use
    :func:`prob_better` (exact).
    """
    u = (np.arange(_QUAD_POINTS) + 0.5) / _QUAD_POINTS
    a_c_b, b_c_b, a_k_b, b_k_b = np.broadcast_arrays(a_c, b_c, a_k, b_k)
    lc = special.gammaincinv(a_c_b[..., None], u) / b_c_b[..., None]
    s_needed = np.exp(-lc) + delta
    ok = s_needed < 1.0
    limit = -np.log(np.where(ok, s_needed, 0.5))
    cdf = special.gammainc(a_k_b[..., None], b_k_b[..., None] * limit)
    return np.asarray(np.mean(np.where(ok, cdf, 0.0), axis=-1), dtype=float)


def prob_best(
    shape: FloatArray,
    rate: FloatArray,
    active: NDArray[np.bool_],
    draws: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Monte-Carlo ``P(arm has the smallest L)`` among active arms (rows: trials).

    ``shape, rate`` are (trials, arms) matched Gammas of the cumulative hazard at the horizon.
    """
    lam = rng.standard_gamma(shape[:, None, :], size=(shape.shape[0], draws, shape.shape[1]))
    counts = _count_best(lam, np.ascontiguousarray(rate, dtype=float), active)
    return np.asarray(counts / draws, dtype=float)


@numba.njit(cache=True, nogil=True)
def _count_best(
    unit: FloatArray, rate: FloatArray, active: NDArray[np.bool_]
) -> FloatArray:  # pragma: no cover - compiled
    """How often each active arm has the smallest ``unit / rate`` (rows, draws, arms); the
    first arm wins a tie, as ``argmin`` does."""
    rows, draws, k_n = unit.shape
    out = np.zeros((rows, k_n))
    for r in range(rows):
        for m in range(draws):
            best, low = -1, np.inf
            for k in range(k_n):
                v = unit[r, m, k] / rate[r, k]
                if active[r, k] and (v < low or best < 0):
                    best, low = k, v
            out[r, max(best, 0)] += 1.0
    return out
