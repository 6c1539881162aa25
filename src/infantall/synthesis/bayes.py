"""Bayesian random-effects pooling of proportions, exact by quadrature (few studies).

The binomial-normal model of :mod:`infantall.synthesis.glmm` with priors
``mu ~ Normal(m0, s0^2)`` and ``tau ~ HalfNormal(s)`` (or ``HalfCauchy(s)``): with 2-5 studies
``tau`` is barely identified and the ML/REML estimate is often 0, so its posterior is averaged
over instead (the meta-analytic model behind a MAP prior; bayesmeta does the same for normal
data). The posterior of ``(mu, tau)`` is computed on a composite Gauss-Legendre grid with each
study's exact marginal likelihood (adaptive Gauss-Hermite), so there is no Monte-Carlo error.
Checked against a brute-force grid and the GLMM's ML (``tests/synthesis/test_glmm_bayes.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import interpolate, optimize, special, stats

from infantall.errors import InvalidInputError
from infantall.synthesis.glmm import log_marginal_likelihood

__all__ = ["BayesPooled", "bayes_pool_proportions"]

_PANELS, _PER_PANEL = 20, 10


def _panels(edges: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, w = np.polynomial.legendre.leggauss(_PER_PANEL)
    half, mid = np.diff(edges) / 2, (edges[:-1] + edges[1:]) / 2
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


def _marginal_quantiles(
    nodes: NDArray[np.float64],
    gl_weights: NDArray[np.float64],
    node_mass: NDArray[np.float64],
    probs: tuple[float, ...],
) -> list[float]:
    """Quantiles of one coordinate: its marginal density at the Gauss-Legendre nodes (mass over
    weight) interpolated by a monotone cubic (PCHIP) and integrated on a fine grid."""
    fine = np.linspace(nodes[0], nodes[-1], 20_001)
    dens = np.maximum(interpolate.PchipInterpolator(nodes, node_mass / gl_weights)(fine), 0.0)
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(fine))])
    cdf /= cdf[-1]
    return [float(np.interp(q, cdf, fine)) for q in probs]


@dataclass(frozen=True, slots=True)
class BayesPooled:
    """Posterior summaries: pooled proportion (``expit(mu)``), ``tau`` and a new study's ``p``."""

    k: int
    mu_mean: float
    mu_sd: float
    pooled_pct: dict[str, float]
    tau: dict[str, float]
    predictive_pct: dict[str, float]
    prior: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "mu_mean": self.mu_mean,
            "mu_sd": self.mu_sd,
            "pooled_pct": dict(self.pooled_pct),
            "tau": dict(self.tau),
            "predictive_pct": dict(self.predictive_pct),
            "prior": self.prior,
        }

    @property
    def summary(self) -> pd.DataFrame:
        rows = [
            {"quantity": name, **vals}
            for name, vals in (
                ("pooled %", self.pooled_pct),
                ("tau", self.tau),
                ("new study %", self.predictive_pct),
            )
        ]
        return pd.DataFrame(rows)


def _posterior(
    x: NDArray[np.float64],
    nn: NDArray[np.float64],
    mu_range: tuple[float, float],
    tau_edges: NDArray[np.float64],
    mu_prior: tuple[float, float],
    dist: Any,
    tau_scale: float,
) -> tuple[NDArray[np.float64], ...]:
    """Grid nodes and GL weights of mu and tau, and the posterior mass ``(mu, tau)``."""
    mu_n, mu_w = _panels(np.linspace(*mu_range, _PANELS + 1))
    tau_n, tau_w = _panels(tau_edges)
    mg, tg = (a.ravel() for a in np.meshgrid(mu_n, tau_n, indexing="ij"))
    lp = (
        log_marginal_likelihood(x, nn, mg, tg).sum(axis=1)
        + stats.norm.logpdf(mg, *mu_prior)
        + dist.logpdf(tg, scale=tau_scale)
        + np.log(np.outer(mu_w, tau_w).ravel())
    )
    w = np.exp(lp - lp.max())
    return mu_n, mu_w, tau_n, tau_w, (w / w.sum()).reshape(mu_n.size, tau_n.size)


def bayes_pool_proportions(
    events: ArrayLike,
    n: ArrayLike,
    *,
    mu_prior: tuple[float, float] = (0.0, 2.0),
    tau_prior: Literal["halfnormal", "halfcauchy"] = "halfnormal",
    tau_scale: float = 0.5,
    probs: tuple[float, ...] = (0.025, 0.5, 0.975),
) -> BayesPooled:
    """Posterior of the binomial-normal random-effects model by quadrature.

    ``tau_scale`` defaults to 0.5 ("moderate" heterogeneity on the logit scale, Spiegelhalter
    et al. 2004; Friede et al. 2017 for few studies).
    """
    x, nn = np.asarray(events, dtype=float), np.asarray(n, dtype=float)
    if x.size < 2 or x.size != nn.size:
        raise InvalidInputError("events", "needs >= 2 studies and one n each", "too_few_studies")
    if np.any(x < 0) or np.any(nn <= 0) or np.any(x > nn):
        raise InvalidInputError("events", "needs 0 <= events <= n, n > 0", "out_of_range")
    if tau_scale <= 0 or mu_prior[1] <= 0:
        raise InvalidInputError("tau_scale", "prior scales must be > 0", "bad_prior_scale")
    if tau_prior not in ("halfnormal", "halfcauchy"):
        raise InvalidInputError("tau_prior", "halfnormal or halfcauchy", "bad_prior")
    dist = stats.halfnorm if tau_prior == "halfnormal" else stats.halfcauchy
    tau_hi = tau_scale * (5 if tau_prior == "halfnormal" else 400)
    tau_edges = np.concatenate([[0.0], np.geomspace(tau_hi / 1e4, tau_hi, _PANELS)])
    centre = float(special.logit((x.sum() + 0.5) / (nn.sum() + 1)))
    mu_n, _, _, _, w2 = _posterior(
        x, nn, (centre - 8, centre + 8), tau_edges, mu_prior, dist, tau_scale
    )
    m1 = float(w2.sum(axis=1) @ mu_n)
    s1 = math.sqrt(float(w2.sum(axis=1) @ (mu_n - m1) ** 2))  # second pass: where mu lives
    mu_n, mu_w, tau_n, tau_w, w2 = _posterior(
        x, nn, (m1 - 10 * s1, m1 + 10 * s1), tau_edges, mu_prior, dist, tau_scale
    )
    mg, tg = (a.ravel() for a in np.meshgrid(mu_n, tau_n, indexing="ij"))
    w = w2.ravel()
    mean = float(w @ mg)
    sd = math.sqrt(float(w @ (mg - mean) ** 2))

    def pred_cdf(t: float, q: float) -> float:
        return float(special.ndtr((t - mg) / np.maximum(tg, 1e-12)) @ w) - q

    pred = {
        f"{q:g}": 100 * float(special.expit(optimize.brentq(pred_cdf, -40, 40, args=(q,))))
        for q in probs
    }
    mu_q = _marginal_quantiles(mu_n, mu_w, w2.sum(axis=1), probs)
    tau_q = _marginal_quantiles(tau_n, tau_w, w2.sum(axis=0), probs)
    return BayesPooled(
        int(x.size),
        mean,
        sd,
        {f"{q:g}": 100 * float(special.expit(v)) for q, v in zip(probs, mu_q, strict=True)},
        {f"{q:g}": v for q, v in zip(probs, tau_q, strict=True)},
        pred,
        f"mu ~ Normal({mu_prior[0]:g}, {mu_prior[1]:g}^2), tau ~ {tau_prior}({tau_scale:g})",
    )
