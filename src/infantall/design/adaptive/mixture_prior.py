"""A Beta-mixture prior on the control arm (a MAP prior, robust or not), exactly.

A mixture of Betas stays conjugate: after ``s`` successes and ``f`` failures on control, the
prior ``sum_k w_k Beta(a_k, b_k)`` becomes ``sum_k pi_k Beta(a_k + s, b_k + f)`` with
``pi_k`` proportional to ``w_k B(a_k + s, b_k + f) / B(a_k, b_k)``. Every probability the
engine needs is linear in the control arm's posterior density (``P(arm > control) =
int F_arm-bar f_c``, ``P(arm best) = int f_arm prod F_j`` with ``F_c`` entering once,
``P(control best)`` and the equivalence window likewise), so each is the ``pi``-weighted sum of
the same probability computed with the control arm's posterior set to one component: the
single-Beta code (:func:`~infantall.design.adaptive.posterior.posterior_probabilities`, exact
in float64 with the default quadrature) runs once per component, untouched. With one
component the result is the single-Beta result itself.

The engine calls :class:`ControlMixture` only when ``prior.control_mixture`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.posterior import PosteriorProbabilities, posterior_probabilities

__all__ = ["ControlMixture", "control_mixture"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ControlMixture:
    """The control arm's Beta-mixture prior, with the other arms' Beta(base_a, base_b)."""

    weight: FloatArray
    a: FloatArray
    b: FloatArray
    base_a: float
    base_b: float

    def component_weights(self, successes: FloatArray, failures: FloatArray) -> FloatArray:
        """Posterior component weights ``pi`` per trial, shape ``(trials, K)``."""
        s, f = successes[:, None], failures[:, None]
        with np.errstate(divide="ignore"):
            lw = (
                np.log(self.weight)
                + special.betaln(self.a + s, self.b + f)
                - special.betaln(self.a, self.b)
            )
        lw = lw - lw.max(axis=1, keepdims=True)
        w = np.exp(lw)
        return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=float)

    def counts(self, a: FloatArray, b: FloatArray, control: int) -> tuple[FloatArray, FloatArray]:
        """Control successes and failures from the engine's ``base + count`` parameters."""
        return np.rint(a[:, control] - self.base_a), np.rint(b[:, control] - self.base_b)

    def mean(self, successes: ArrayLike, n: ArrayLike) -> FloatArray:
        """Posterior mean of the control proportion per trial."""
        s = np.asarray(successes, dtype=float)
        f = np.asarray(n, dtype=float) - s
        pi = self.component_weights(s, f)
        means = (self.a + s[:, None]) / (self.a + self.b + (s + f)[:, None])
        return np.asarray((pi * means).sum(axis=1), dtype=float)

    def probabilities(
        self,
        family: str,
        a: FloatArray,
        b: FloatArray,
        active: NDArray[np.bool_],
        control: int,
        **kwargs: Any,
    ) -> PosteriorProbabilities:
        """:func:`posterior_probabilities` with the control arm's prior the mixture.

        ``a``, ``b`` are the engine's ``base + count`` Beta parameters (the control column is
        read back as counts); the keyword arguments are passed on unchanged.
        """
        if family != "beta":
            raise ValueError("a control mixture prior is for a binary outcome")
        s, f = self.counts(a, b, control)
        pi = self.component_weights(s, f)
        best = better = equivalent = None
        for k in range(self.weight.size):
            ak, bk = a.copy(), b.copy()
            ak[:, control] = self.a[k] + s
            bk[:, control] = self.b[k] + f
            p = posterior_probabilities("beta", ak, bk, active, control, **kwargs)
            wk = pi[:, k : k + 1]
            better = wk * p.better if better is None else better + wk * p.better
            if p.best is not None:
                best = wk * p.best if best is None else best + wk * p.best
            if p.equivalent is not None:
                eq = wk * p.equivalent
                equivalent = eq if equivalent is None else equivalent + eq
        assert better is not None  # at least one component (checked by the config)
        better[:, control] = 0.5
        if equivalent is not None:
            equivalent[:, control] = 1.0
        return PosteriorProbabilities(best=best, better=better, equivalent=equivalent)


def control_mixture(spec: TrialSpec) -> ControlMixture | None:
    """The spec's control mixture prior, or ``None`` (the single-Beta path)."""
    comps = spec.prior.control_mixture
    if comps is None:
        return None
    return ControlMixture(
        np.asarray([c.weight for c in comps], dtype=float),
        np.asarray([c.a for c in comps], dtype=float),
        np.asarray([c.b for c in comps], dtype=float),
        spec.prior.beta_a,
        spec.prior.beta_b,
    )
