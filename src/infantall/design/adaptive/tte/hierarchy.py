"""Hierarchical borrowing of stratum log hazard ratios (normal prior around an arm mean).

For each stratum ``s`` the estimate of ``theta_s = log L_k,s - log L_c,s`` (log ratio of
cumulative hazards at the horizon) takes the exact posterior moments of the log of the
(matched) Gamma posteriors: mean ``psi(A_k) - log B_k - psi(A_c) + log B_c`` and variance
``psi'(A_k) + psi'(A_c)``. With ``theta_s ~ N(mu, tau^2)`` and ``mu ~ N(0, s0^2)`` the normal
approximation gives the posterior of ``mu`` in closed form (Spiegelhalter, Abrams and Myles,
*Bayesian Approaches to Clinical Trials and Health-Care Evaluation*, 2004, section 3.17):
precision ``1/s0^2 + sum_s 1/(v_s + tau^2)`` and mean ``sum_s y_s/(v_s + tau^2)`` over that
precision. ``tests/design/test_tte_hierarchy.py`` checks it against numerical integration of
the exact model (exponential hazards, Gamma prior on each stratum's control hazard).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = ["BorrowedEffect", "borrow_log_hr"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BorrowedEffect:
    """Posterior of the arm-level mean log hazard ratio and of each stratum's."""

    mean: FloatArray
    sd: FloatArray
    stratum_mean: FloatArray
    stratum_sd: FloatArray

    @property
    def prob_benefit(self) -> FloatArray:
        """``P(mu < 0)``: the arm lowers the cumulative hazard on average over strata."""
        return np.asarray(special.ndtr(-self.mean / self.sd), dtype=float)


def borrow_log_hr(
    a_k: FloatArray,
    b_k: FloatArray,
    a_c: FloatArray,
    b_c: FloatArray,
    *,
    tau: float,
    mean_prior_sd: float,
) -> BorrowedEffect:
    """Normal-normal borrowing across strata (the last axis) of log hazard ratios.

    ``a, b``: Gamma posteriors of each stratum's cumulative hazard at the horizon, the
    strata on the last axis.
    """
    y = special.digamma(a_k) - np.log(b_k) - special.digamma(a_c) + np.log(b_c)
    v = special.polygamma(1, a_k) + special.polygamma(1, a_c)
    w = 1.0 / (v + tau**2)
    precision = 1.0 / mean_prior_sd**2 + w.sum(axis=-1)
    mu = (w * y).sum(axis=-1) / precision
    mu_var = 1.0 / precision
    # theta_s | y: shrink y_s towards mu, with mu's uncertainty propagated
    shrink = v / (v + tau**2)
    theta_mean = (1 - shrink) * y + shrink * mu[..., None]
    theta_var = (1 - shrink) * v + shrink**2 * mu_var[..., None]
    return BorrowedEffect(
        mean=np.asarray(mu, dtype=float),
        sd=np.asarray(np.sqrt(mu_var), dtype=float),
        stratum_mean=np.asarray(theta_mean, dtype=float),
        stratum_sd=np.asarray(np.sqrt(theta_var), dtype=float),
    )
