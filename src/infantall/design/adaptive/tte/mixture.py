"""A Gamma-mixture prior per interval on the control arm's hazards (a robust MAP prior).

Interval ``j`` has the prior ``sum_k pi_jk Gamma(a_jk, rate b_jk)``; with ``d`` events over
exposure ``E`` each component updates conjugately to ``Gamma(a_jk + d, b_jk + E)`` and its
weight to ``pi_jk b_jk^a_jk Gamma(a_jk + d) / (Gamma(a_jk) (b_jk + E)^(a_jk + d))``,
normalised (the same update as
:meth:`infantall.design.borrowing.gamma_mixture.GammaMixture.posterior`, vectorised over
trials and completions here). The engine needs, per interval, the posterior mean and variance
(exact for a mixture: within-component variance plus the spread of the component means; for
one component they reduce to ``a / b`` and ``a / b^2``) and posterior draws of the hazards.
Intervals with fewer components are padded with zero-weight components.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np
from numpy.typing import NDArray
from scipy import special

from infantall.design.borrowing.gamma_mixture import GammaMixture, gamma_ess_elir

__all__ = ["ControlMixture"]

FloatArray = NDArray[np.float64]


class ControlMixture:
    """Gamma-mixture prior per interval: arrays ``(intervals, components)``."""

    __slots__ = ("const", "log_weight", "rate", "shape")

    def __init__(self, intervals: Sequence[Sequence[tuple[float, float, float]]]) -> None:
        k = max(len(comps) for comps in intervals)
        j = len(intervals)
        weight = np.zeros((j, k))
        self.shape = np.ones((j, k))
        self.rate = np.ones((j, k))
        for i, comps in enumerate(intervals):
            for c, (w, a, b) in enumerate(comps):
                weight[i, c], self.shape[i, c], self.rate[i, c] = w, a, b
        weight /= weight.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore"):
            self.log_weight = np.log(weight)
        #: the data-free part of each component's log posterior weight
        self.const = self.log_weight - special.gammaln(self.shape) + self.shape * np.log(self.rate)

    def posterior(self, d: FloatArray, e: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Posterior weights, shapes and rates ``(..., intervals, components)`` from events
        ``d`` and exposure ``e`` ``(..., intervals)``."""
        a = self.shape + d[..., None]
        b = self.rate + e[..., None]
        log_w = (
            self.log_weight
            + special.gammaln(a)
            - special.gammaln(self.shape)
            + self.shape * np.log(self.rate)
            - a * np.log(b)
        )
        log_w = log_w - special.logsumexp(log_w, axis=-1, keepdims=True)
        return np.exp(log_w), a, b

    def moments(self, d: FloatArray, e: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Posterior mean and variance of each interval's hazard ``(..., intervals)``."""
        dd = np.ascontiguousarray(d, dtype=float).reshape(-1, d.shape[-1])
        ee = np.ascontiguousarray(e, dtype=float).reshape(-1, e.shape[-1])
        mean, var = _moments(self.const, self.shape, self.rate, dd, ee)
        return mean.reshape(d.shape), var.reshape(d.shape)

    def draw(
        self, d: FloatArray, e: FloatArray, draws: int, rng: np.random.Generator
    ) -> FloatArray:
        """Posterior draws of the hazards: ``(trials, draws, intervals)`` from ``d, e``
        ``(trials, intervals)``: a component per draw and interval, then its Gamma."""
        pi, a, b = self.posterior(d, e)
        cum = np.cumsum(pi, axis=-1)
        u = rng.random((d.shape[0], draws, d.shape[1], 1))
        comp = np.minimum((u > cum[:, None, :, :-1]).sum(axis=-1), pi.shape[-1] - 1)
        full = (*comp.shape, a.shape[-1])
        a_k = np.take_along_axis(np.broadcast_to(a[:, None], full), comp[..., None], -1)[..., 0]
        b_k = np.take_along_axis(np.broadcast_to(b[:, None], full), comp[..., None], -1)[..., 0]
        return np.asarray(rng.standard_gamma(a_k) / b_k, dtype=float)

    def ess_elir(self) -> FloatArray:
        """Prior effective sample size in events per interval (ELIR, by
        :func:`infantall.design.borrowing.gamma_mixture.gamma_ess_elir`)."""
        out = []
        for lw, a, b in zip(self.log_weight, self.shape, self.rate, strict=True):
            keep = np.isfinite(lw)
            mix = GammaMixture(
                tuple(np.exp(lw[keep]).tolist()), tuple(a[keep].tolist()), tuple(b[keep].tolist())
            )
            out.append(gamma_ess_elir(mix))
        return np.asarray(out, dtype=float)


@numba.njit(cache=True, nogil=True)
def _moments(
    const: FloatArray, shape: FloatArray, rate: FloatArray, d: FloatArray, e: FloatArray
) -> tuple[FloatArray, FloatArray]:  # pragma: no cover - compiled
    """Posterior mean and variance per (row, interval): the conjugate mixture update of
    :meth:`ControlMixture.posterior` in one pass (weights normalised by log-sum-exp)."""
    rows, j_n = d.shape
    k_n = shape.shape[1]
    mean = np.empty((rows, j_n))
    var = np.empty((rows, j_n))
    lw = np.empty(k_n)
    for r in range(rows):
        for j in range(j_n):
            top = -np.inf
            for k in range(k_n):
                a = shape[j, k] + d[r, j]
                lw[k] = const[j, k] + math.lgamma(a) - a * math.log(rate[j, k] + e[r, j])
                top = max(top, lw[k])
            total = 0.0
            for k in range(k_n):
                lw[k] = math.exp(lw[k] - top)
                total += lw[k]
            m1 = 0.0
            m2 = 0.0
            for k in range(k_n):
                b = rate[j, k] + e[r, j]
                pi = lw[k] / total
                m1 += pi * ((shape[j, k] + d[r, j]) / b)
                m2 += pi * ((shape[j, k] + d[r, j]) / (b * b))
            spread = 0.0
            for k in range(k_n):
                b = rate[j, k] + e[r, j]
                spread += lw[k] / total * ((shape[j, k] + d[r, j]) / b - m1) ** 2
            mean[r, j] = m1
            var[r, j] = m2 + spread
    return mean, var
