"""Numerical core of the binomial-normal MAP model: adaptive Gauss-Hermite quadrature.

The marginal likelihood of one study, ``L_i(mu, tau) = int Bin(y_i | n_i, expit(t))
N(t | mu, tau^2) dt``, is computed by adaptive Gauss-Hermite quadrature (Liu and Pierce 1994;
the method of lme4's ``nAGQ``): the integrand is log-concave, so it is centred at its mode
(Newton) and scaled by its curvature, after which ``nodes`` Hermite nodes integrate it to
machine precision for every ``(mu, tau)``, including ``tau -> 0``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = [
    "gauss_legendre_panels",
    "log_marginal_likelihood",
    "log_marginal_likelihood_poisson",
]

_HERMITE_NODES = 20
_NEWTON_STEPS = 30


def log_marginal_likelihood(
    events: NDArray[np.float64],
    n: NDArray[np.float64],
    mu: NDArray[np.float64],
    tau: NDArray[np.float64],
    *,
    nodes: int = _HERMITE_NODES,
) -> NDArray[np.float64]:
    """``log L_i(mu_g, tau_g)`` for every study ``i`` and grid point ``g``: shape ``(G, k)``.

    Includes the binomial coefficient (``gammaln`` form, so non-integer effective counts work).
    """
    y = events[None, :]
    nn = n[None, :]
    m = mu[:, None]
    t2 = (tau**2)[:, None]
    # start: precision-weighted mix of the study's empirical logit and mu
    emp = np.log((y + 0.5) / (nn - y + 0.5))
    info = (y + 0.5) * (nn - y + 0.5) / (nn + 1.0)
    theta = (emp * info * t2 + m) / (info * t2 + 1.0)
    for _ in range(_NEWTON_STEPS):
        p = special.expit(theta)
        grad = y - nn * p - (theta - m) / t2
        hess = nn * p * (1.0 - p) + 1.0 / t2
        step = np.clip(grad / hess, -2.0, 2.0)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    p = special.expit(theta)
    sigma = 1.0 / np.sqrt(nn * p * (1.0 - p) + 1.0 / t2)
    x, w = np.polynomial.hermite.hermgauss(nodes)
    pts = theta[..., None] + np.sqrt(2.0) * sigma[..., None] * x
    log_binom = (
        special.gammaln(nn + 1.0) - special.gammaln(y + 1.0) - special.gammaln(nn - y + 1.0)
    )[..., None]
    loglik = log_binom + y[..., None] * _log_expit(pts) + (nn - y)[..., None] * _log_expit(-pts)
    lognorm = (
        -0.5 * (pts - m[..., None]) ** 2 / t2[..., None] - 0.5 * np.log(2 * np.pi * t2)[..., None]
    )
    terms = loglik + lognorm + x**2 + np.log(w)
    top = np.max(terms, axis=-1)
    total = top + np.log(np.sum(np.exp(terms - top[..., None]), axis=-1))
    out: NDArray[np.float64] = total + np.log(np.sqrt(2.0) * sigma)
    return out


def _log_expit(x: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = -np.logaddexp(0.0, -x)
    return out


def gauss_legendre_panels(
    edges: NDArray[np.float64], per_panel: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Composite Gauss-Legendre nodes and weights on the panels between ``edges``."""
    x, w = np.polynomial.legendre.leggauss(per_panel)
    half = np.diff(edges) / 2.0
    mid = (edges[:-1] + edges[1:]) / 2.0
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel()
    return nodes, weights


def log_marginal_likelihood_poisson(
    events: NDArray[np.float64],
    exposure: NDArray[np.float64],
    mu: NDArray[np.float64],
    tau: NDArray[np.float64],
    *,
    nodes: int = _HERMITE_NODES,
) -> NDArray[np.float64]:
    """``log int Poisson(d_i | E_i e^t) N(t | mu, tau^2) dt`` for each grid point and study.

    The piecewise-exponential likelihood of one interval, ``lambda^d exp(-lambda E)``, is the
    Poisson kernel; the constant ``d log E - log d!`` is included so that values are the
    Poisson marginal likelihood. Shape ``(G, k)``; adaptive Gauss-Hermite as above (the
    integrand is log-concave in ``t``).
    """
    d = events[None, :]
    e = exposure[None, :]
    m = mu[:, None]
    t2 = (tau**2)[:, None]
    emp = np.log((d + 0.5) / e)
    info = d + 0.5
    theta = (emp * info * t2 + m) / (info * t2 + 1.0)
    for _ in range(_NEWTON_STEPS):
        rate = e * np.exp(theta)
        step = np.clip((d - rate - (theta - m) / t2) / (rate + 1.0 / t2), -2.0, 2.0)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    sigma = 1.0 / np.sqrt(e * np.exp(theta) + 1.0 / t2)
    x, w = np.polynomial.hermite.hermgauss(nodes)
    pts = theta[..., None] + np.sqrt(2.0) * sigma[..., None] * x
    const = (d * np.log(e) - special.gammaln(d + 1.0))[..., None]
    loglik = const + d[..., None] * pts - e[..., None] * np.exp(pts)
    lognorm = (
        -0.5 * (pts - m[..., None]) ** 2 / t2[..., None] - 0.5 * np.log(2 * np.pi * t2)[..., None]
    )
    terms = loglik + lognorm + x**2 + np.log(w)
    top = np.max(terms, axis=-1)
    total = top + np.log(np.sum(np.exp(terms - top[..., None]), axis=-1))
    out: NDArray[np.float64] = total + np.log(np.sqrt(2.0) * sigma)
    return out
