"""Gamma mixtures for a hazard: the conjugate form of a time-to-event MAP prior.

A piecewise-exponential arm with ``d`` events over exposure ``E`` in an interval has the
likelihood ``lambda^d exp(-lambda E)``, so a mixture of ``Gamma(shape a_k, rate b_k)`` stays a
mixture of Gammas: ``Gamma(a_k + d, b_k + E)`` with weights proportional to
``w_k b_k^a_k Gamma(a_k + d) / (Gamma(a_k) (b_k + E)^(a_k + d))``.

* :func:`fit_gamma_mixture` approximates a density of the log hazard ``t = log lambda`` by EM
  on a fine grid weighted by that density (as :func:`~.mixture.fit_beta_mixture` does for
  proportions). M-step for each component: ``b = a / E[lambda]`` and
  ``log a - digamma(a) = log E[lambda] - E[log lambda]`` (Newton in ``log a``). The number of
  components is the smallest ``K`` in ``1..max`` with total-variation distance ``<= 0.01``.
* ESS in **events**: ``moment`` is the shape ``m^2 / v`` of the single Gamma with the
  mixture's mean and variance (RBesT ``ess(method = "moment")`` for the exponential
  likelihood); ``elir`` is the expected local-information ratio (Neuenschwander et al. 2020)
  on the log-hazard scale, where one event carries Fisher information 1 for ``log lambda``:
  ``E_prior[-d^2/dt^2 log g(t)]``, which is ``a`` for a single ``Gamma(a, b)`` (tested).
* :func:`robustify_gamma` adds a weakly informative ``Gamma(events, events / mean)``
  (mean ``mean``, worth ``events`` events; default one event at the MAP mean).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from infantall.errors import InvalidInputError

__all__ = [
    "GammaMixture",
    "GammaMixtureFit",
    "fit_gamma_mixture",
    "gamma_ess_elir",
    "gamma_ess_moment",
    "robustify_gamma",
]

FloatArray = NDArray[np.float64]
_GRID = 800
_EM_STEPS = 400


@dataclass(frozen=True, slots=True)
class GammaMixture:
    """``sum_k weight_k Gamma(shape_k, rate_k)`` on a hazard (events per unit of time)."""

    weight: tuple[float, ...]
    shape: tuple[float, ...]
    rate: tuple[float, ...]

    def __post_init__(self) -> None:
        w = np.asarray(self.weight, dtype=float)
        if not (len(self.weight) == len(self.shape) == len(self.rate)) or w.size == 0:
            raise InvalidInputError(
                "mixture", "weight, shape and rate differ in length", "bad_shape"
            )
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-9):
            raise InvalidInputError("mixture.weight", "must be >= 0 and sum to 1", "out_of_range")
        pars = np.asarray(self.shape + self.rate, dtype=float)
        if not np.all(np.isfinite(pars)) or np.any(pars <= 0):
            raise InvalidInputError(
                "mixture", "Gamma shape and rate must be finite and > 0", "out_of_range"
            )

    def _arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        return (
            np.asarray(self.weight, dtype=float),
            np.asarray(self.shape, dtype=float),
            np.asarray(self.rate, dtype=float),
        )

    def log_density_log_hazard(self, t: ArrayLike) -> FloatArray:
        """Per component: log density of ``t = log lambda`` plus log weight, shape ``(..., K)``."""
        w, a, b = self._arrays()
        tt = np.asarray(t, dtype=float)[..., None]
        with np.errstate(divide="ignore"):
            lw = np.log(w)
        out: FloatArray = lw + a * np.log(b) - special.gammaln(a) + a * tt - b * np.exp(tt)
        return out

    def pdf_log_hazard(self, t: ArrayLike) -> FloatArray:
        """Density of ``log lambda``."""
        return np.asarray(np.exp(self.log_density_log_hazard(t)).sum(axis=-1), dtype=float)

    def pdf(self, lam: ArrayLike) -> FloatArray:
        """Density of the hazard ``lambda``."""
        x = np.asarray(lam, dtype=float)
        return np.asarray(self.pdf_log_hazard(np.log(x)) / x, dtype=float)

    def cdf(self, lam: ArrayLike) -> FloatArray:
        w, a, b = self._arrays()
        x = np.asarray(lam, dtype=float)[..., None]
        return np.asarray(special.gammainc(a, b * x) @ w, dtype=float)

    def mean(self) -> float:
        w, a, b = self._arrays()
        return float(w @ (a / b))

    def sd(self) -> float:
        w, a, b = self._arrays()
        second = a * (a + 1) / b**2
        return float(np.sqrt(max(float(w @ second) - self.mean() ** 2, 0.0)))

    def quantile(self, q: float) -> float:
        if not 0 < q < 1:
            raise InvalidInputError("q", "must be strictly between 0 and 1", "out_of_range")
        hi = self.mean() + 60 * self.sd() + 1.0
        return float(optimize.brentq(lambda x: float(self.cdf(x)) - q, 0.0, hi, xtol=1e-14))

    def posterior(self, events: float, exposure: float) -> GammaMixture:
        """Conjugate update with ``events`` over ``exposure`` (weights by marginal likelihood)."""
        if events < 0 or exposure < 0:
            raise InvalidInputError(
                "events", "events and exposure must not be negative", "negative_count"
            )
        w, a, b = self._arrays()
        with np.errstate(divide="ignore"):
            lw = (
                np.log(w)
                + a * np.log(b)
                - (a + events) * np.log(b + exposure)
                + special.gammaln(a + events)
                - special.gammaln(a)
            )
        lw = np.exp(lw - lw.max())
        return GammaMixture(tuple(lw / lw.sum()), tuple(a + events), tuple(b + exposure))

    def laplace(self, s: float) -> float:
        """``E[exp(-s lambda)]``: ``sum_k w_k (b_k / (b_k + s))^a_k``."""
        w, a, b = self._arrays()
        return float(w @ np.exp(a * (np.log(b) - np.log(b + s))))

    def sample(self, size: int, rng: np.random.Generator) -> FloatArray:
        w, a, b = self._arrays()
        k = rng.choice(w.size, size=size, p=w)
        return np.asarray(rng.gamma(a[k], 1.0 / b[k]), dtype=float)

    def components(self) -> list[dict[str, float]]:
        """``[{weight, shape, rate}, ...]`` (the CLI's JSON shape)."""
        return [
            {"weight": float(w), "shape": float(a), "rate": float(b)}
            for w, a, b in zip(self.weight, self.shape, self.rate, strict=True)
        ]

    @classmethod
    def from_components(cls, rows: list[dict[str, Any]], field: str = "prior") -> GammaMixture:
        """From ``[{weight, shape, rate}, ...]`` (the JSON :meth:`components` writes)."""
        try:
            return cls(
                tuple(float(r["weight"]) for r in rows),
                tuple(float(r["shape"]) for r in rows),
                tuple(float(r["rate"]) for r in rows),
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidInputError(
                field, "need a list of {weight, shape, rate} objects", "bad_prior"
            ) from None


def gamma_ess_moment(mix: GammaMixture) -> float:
    """Events worth of the moment-matched Gamma: ``mean^2 / variance``."""
    return float(mix.mean() ** 2 / mix.sd() ** 2)


def gamma_ess_elir(mix: GammaMixture) -> float:
    """ELIR ESS in events: ``E[-d^2/dt^2 log g(t)]`` on ``t = log lambda`` (module docstring).

    With component log densities ``l_k(t) = a_k t - b_k e^t + c_k``: ``l_k' = a_k - b_k e^t``,
    ``l_k'' = -b_k e^t``; for the mixture ``-(log g)'' = -(sum r_k (l_k'' + l_k'^2) - h^2)``
    with ``r_k`` the component responsibilities and ``h = sum r_k l_k'``.
    """
    lo, hi = _log_range(mix)
    edges = np.linspace(lo, hi, 40_001)
    t = (edges[:-1] + edges[1:]) / 2
    logd = mix.log_density_log_hazard(t)
    top = logd.max(axis=1, keepdims=True)
    dens = np.exp(logd - top)
    resp = dens / dens.sum(axis=1, keepdims=True)
    _, a, b = mix._arrays()
    d1 = a - b * np.exp(t)[:, None]
    d2 = -b * np.exp(t)[:, None]
    h = (resp * d1).sum(axis=1)
    info = -((resp * (d2 + d1**2)).sum(axis=1) - h**2)
    mass = np.exp(top[:, 0]) * dens.sum(axis=1)
    return float(np.sum(mass * info) / np.sum(mass))


def _log_range(mix: GammaMixture) -> tuple[float, float]:
    """A ``log lambda`` range holding all but ~1e-12 of every component."""
    _, a, b = mix._arrays()
    lo = np.log(special.gammaincinv(a, 1e-12) / b)
    hi = np.log(special.gammainccinv(a, 1e-12) / b)
    return float(lo.min()), float(hi.max())


def _shape_mle(s: FloatArray, a: FloatArray) -> FloatArray:
    """Solve ``log a - digamma(a) = s`` (``s > 0``) by Newton in ``log a``."""
    la = np.log(a)
    for _ in range(60):
        a = np.exp(la)
        f = np.log(a) - special.digamma(a) - s
        df = (1.0 / a - special.zeta(2.0, a)) * a  # trigamma(a) = zeta(2, a)
        step = np.clip(f / df, -1.0, 1.0)
        la = la - step
        if np.max(np.abs(step)) < 1e-12:
            break
    return np.asarray(np.exp(la), dtype=float)


def _em(t: FloatArray, mass: FloatArray, k: int) -> GammaMixture:
    """EM for a ``k``-component Gamma mixture on log-hazard grid points ``t`` with ``mass``."""
    lam = np.exp(t)
    cum = np.cumsum(mass)
    resp = np.zeros((t.size, k))
    for j in range(k):
        resp[:, j] = (cum > j / k) & (cum <= (j + 1) / k + 1e-12)
    resp[resp.sum(axis=1) == 0, -1] = 1.0
    a = np.ones(k)
    b = np.ones(k)
    for j in range(k):
        r = mass * resp[:, j]
        m = np.sum(r * lam) / r.sum()
        v = np.sum(r * (lam - m) ** 2) / r.sum()
        a[j] = max(m**2 / max(v, 1e-300), 0.5)
        b[j] = a[j] / m
    w = np.full(k, 1.0 / k)
    prev = -np.inf
    for _ in range(_EM_STEPS):
        logd = np.log(w) + a * np.log(b) - special.gammaln(a) + a * t[:, None] - b * lam[:, None]
        top = logd.max(axis=1, keepdims=True)
        dens = np.exp(logd - top)
        resp = dens / dens.sum(axis=1, keepdims=True)
        ll = float(np.sum(mass * (top[:, 0] + np.log(dens.sum(axis=1)))))
        rw = resp * mass[:, None]
        tot = rw.sum(axis=0)
        w = np.maximum(tot / tot.sum(), 1e-300)
        e_lam = (rw * lam[:, None]).sum(axis=0) / tot
        e_log = (rw * t[:, None]).sum(axis=0) / tot
        a = _shape_mle(np.maximum(np.log(e_lam) - e_log, 1e-12), a)
        b = a / e_lam
        if ll - prev < 1e-9:
            break
        prev = ll
    order = np.argsort(-w)
    return GammaMixture(tuple(w[order] / w.sum()), tuple(a[order]), tuple(b[order]))


@dataclass(frozen=True, slots=True)
class GammaMixtureFit:
    """The chosen Gamma mixture, its total-variation distance, and the distance for each K."""

    mixture: GammaMixture
    total_variation: float
    tv_by_components: dict[int, float]


def fit_gamma_mixture(
    pdf_log_hazard: Callable[[FloatArray], FloatArray],
    lo: float,
    hi: float,
    *,
    max_components: int = 4,
    tv_target: float = 0.01,
) -> GammaMixtureFit:
    """Approximate a density of ``log lambda`` supported (numerically) on ``[lo, hi]``."""
    if max_components < 1:
        raise InvalidInputError("max_components", "must be >= 1", "out_of_range")
    edges = np.linspace(lo, hi, _GRID + 1)
    t = (edges[:-1] + edges[1:]) / 2
    dt = edges[1] - edges[0]
    target = pdf_log_hazard(t)
    mass = target * dt
    mass = mass / mass.sum()
    keep = mass > 1e-14
    fits: dict[int, tuple[GammaMixture, float]] = {}
    for k in range(1, max_components + 1):
        mix = _em(t[keep], mass[keep] / mass[keep].sum(), k)
        tv = float(0.5 * np.sum(np.abs(target - mix.pdf_log_hazard(t)) * dt))
        fits[k] = (mix, tv)
        if tv <= tv_target:
            break
    good = [k for k, (_, tv) in fits.items() if tv <= tv_target]
    best = min(good) if good else min(fits, key=lambda k: fits[k][1])
    return GammaMixtureFit(fits[best][0], fits[best][1], {k: v[1] for k, v in fits.items()})


def robustify_gamma(
    mixture: GammaMixture, weight: float, *, mean: float | None = None, events: float = 1.0
) -> GammaMixture:
    """``weight * mixture + (1 - weight) * Gamma(events, events / mean)``.

    The vague component has mean ``mean`` (default: the mixture's mean) and is worth
    ``events`` events (default 1, a unit-information prior).
    """
    if not 0 < weight < 1:
        raise InvalidInputError("robust_weight", "must be strictly between 0 and 1", "out_of_range")
    m = mixture.mean() if mean is None else mean
    if not (np.isfinite(m) and m > 0) or not events > 0:
        raise InvalidInputError(
            "robust_component", "needs a mean hazard > 0 and events > 0", "out_of_range"
        )
    return GammaMixture(
        (*(weight * w for w in mixture.weight), 1 - weight),
        (*mixture.shape, events),
        (*mixture.rate, events / m),
    )
