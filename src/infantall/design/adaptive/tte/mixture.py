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

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import special

from infantall.design.borrowing.gamma_mixture import GammaMixture, gamma_ess_elir

__all__ = ["ControlMixture"]

FloatArray = NDArray[np.float64]


class ControlMixture:
    """Gamma-mixture prior per interval: arrays ``(intervals, components)``."""

    __slots__ = ("log_weight", "rate", "shape")

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
        pi, a, b = self.posterior(d, e)
        m = a / b
        mean = np.sum(pi * m, axis=-1)
        var = np.sum(pi * (a / b**2), axis=-1) + np.sum(pi * (m - mean[..., None]) ** 2, axis=-1)
        return np.asarray(mean, dtype=float), np.asarray(var, dtype=float)

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
