"""Beta-mixture approximation of a MAP prior, by EM, and its robustification.

RBesT's ``automixfit`` fits a Beta mixture to MCMC draws by EM and picks the number of
components by AIC. Here the target is the exact MAP density (no draws): EM runs on a fine
logit-spaced grid weighted by the MAP density (the continuous analogue of EM on samples;
M-step: weighted maximum likelihood of each Beta from its sufficient statistics
``E[log p]``, ``E[log(1 - p)]``, solved by Newton with digamma/trigamma), and the number of
components is **the smallest K in 1..4 whose total-variation distance from the MAP density is
at most** ``tv_target`` (default 0.01), else the K with the smallest distance; the distance is
reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from infantall.errors import InvalidInputError

__all__ = ["BetaMixture", "MixtureFit", "fit_beta_mixture", "robustify", "total_variation"]

_GRID = 3000
_EM_STEPS = 400


@dataclass(frozen=True, slots=True)
class BetaMixture:
    """``sum_j weight_j Beta(a_j, b_j)`` on a proportion."""

    weight: tuple[float, ...]
    a: tuple[float, ...]
    b: tuple[float, ...]

    def __post_init__(self) -> None:
        w = np.asarray(self.weight)
        if not (len(self.weight) == len(self.a) == len(self.b)) or w.size == 0:
            raise InvalidInputError("mixture", "weight, a and b differ in length", "bad_shape")
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-9):
            raise InvalidInputError("mixture.weight", "must be >= 0 and sum to 1", "out_of_range")
        if min(self.a) <= 0 or min(self.b) <= 0:
            raise InvalidInputError("mixture", "Beta parameters must be > 0", "out_of_range")

    def pdf(self, p: ArrayLike) -> NDArray[np.float64]:
        pp = np.asarray(p, dtype=float)
        out: NDArray[np.float64] = stats.beta.pdf(pp[..., None], self.a, self.b) @ np.asarray(
            self.weight
        )
        return out

    def cdf(self, p: ArrayLike) -> NDArray[np.float64]:
        pp = np.asarray(p, dtype=float)
        out: NDArray[np.float64] = stats.beta.cdf(pp[..., None], self.a, self.b) @ np.asarray(
            self.weight
        )
        return out

    def mean(self) -> float:
        a, b, w = (np.asarray(v) for v in (self.a, self.b, self.weight))
        return float(w @ (a / (a + b)))

    def sd(self) -> float:
        a, b, w = (np.asarray(v) for v in (self.a, self.b, self.weight))
        m = a / (a + b)
        second = m * (a + 1) / (a + b + 1)
        return float(np.sqrt(w @ second - self.mean() ** 2))

    def quantile(self, q: float) -> float:
        from scipy import optimize

        return float(optimize.brentq(lambda p: float(self.cdf(p)) - q, 1e-12, 1 - 1e-12))

    def posterior(self, events: float, n: float) -> BetaMixture:
        """Conjugate update with ``events`` out of ``n`` (weights by marginal likelihood)."""
        a, b, w = (np.asarray(v, dtype=float) for v in (self.a, self.b, self.weight))
        lw = np.log(w) + special.betaln(a + events, b + n - events) - special.betaln(a, b)
        lw = np.exp(lw - lw.max())
        return BetaMixture(tuple(lw / lw.sum()), tuple(a + events), tuple(b + n - events))

    def components(self) -> list[dict[str, float]]:
        """``[{weight, a, b}, ...]`` (the CLI's JSON shape)."""
        return [
            {"weight": float(w), "a": float(a), "b": float(b)}
            for w, a, b in zip(self.weight, self.a, self.b, strict=True)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"components": self.components(), "mean": self.mean(), "sd": self.sd()}


def _grid(cdf_lo: float, cdf_hi: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Logit-spaced midpoints on ``[cdf_lo, cdf_hi]`` (proportions) and their widths ``dp``."""
    edges = np.linspace(special.logit(cdf_lo), special.logit(cdf_hi), _GRID + 1)
    x = (edges[:-1] + edges[1:]) / 2
    p = special.expit(x)
    dp = p * (1 - p) * (edges[1] - edges[0])
    return p, dp


def total_variation(
    f: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    g: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    lo: float = 1e-7,
    hi: float = 1 - 1e-7,
) -> float:
    """``0.5 * int |f - g| dp`` on a fine logit-spaced grid."""
    p, dp = _grid(lo, hi)
    return float(0.5 * np.sum(np.abs(f(p) - g(p)) * dp))


def _beta_mle(
    s1: NDArray[np.float64], s2: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve ``psi(a) - psi(a+b) = s1``, ``psi(b) - psi(a+b) = s2`` by Newton in (log a, log b)."""
    la, lb = np.log(a), np.log(b)
    for _ in range(50):
        a, b = np.exp(la), np.exp(lb)
        f1 = special.digamma(a) - special.digamma(a + b) - s1
        f2 = special.digamma(b) - special.digamma(a + b) - s2
        t0 = special.polygamma(1, a + b)
        j11 = (special.polygamma(1, a) - t0) * a
        j12 = -t0 * b
        j21 = -t0 * a
        j22 = (special.polygamma(1, b) - t0) * b
        det = j11 * j22 - j12 * j21
        da = (j22 * f1 - j12 * f2) / det
        db = (-j21 * f1 + j11 * f2) / det
        la = la - np.clip(da, -1, 1)
        lb = lb - np.clip(db, -1, 1)
        if max(np.max(np.abs(da)), np.max(np.abs(db))) < 1e-10:
            break
    return np.exp(la), np.exp(lb)


def _em(p: NDArray[np.float64], mass: NDArray[np.float64], k: int) -> BetaMixture:
    """EM for a ``k``-component Beta mixture on grid points ``p`` with masses ``mass``."""
    cum = np.cumsum(mass)
    # start: split the distribution into k equal-mass slices, moment-matched Betas
    resp = np.zeros((p.size, k))
    for j in range(k):
        resp[:, j] = (cum > j / k) & (cum <= (j + 1) / k + 1e-12)
    resp[resp.sum(axis=1) == 0, -1] = 1.0
    lp, l1p = np.log(p), np.log1p(-p)
    a = np.ones(k)
    b = np.ones(k)
    for j in range(k):
        m = np.sum(mass * resp[:, j] * p) / np.sum(mass * resp[:, j])
        v = np.sum(mass * resp[:, j] * (p - m) ** 2) / np.sum(mass * resp[:, j])
        s = max(m * (1 - m) / max(v, 1e-12) - 1, 0.5)
        a[j], b[j] = m * s, (1 - m) * s
    w = np.full(k, 1.0 / k)
    prev = -np.inf
    for _ in range(_EM_STEPS):
        logd = (a - 1) * lp[:, None] + (b - 1) * l1p[:, None] - special.betaln(a, b) + np.log(w)
        top = logd.max(axis=1, keepdims=True)
        dens = np.exp(logd - top)
        resp = dens / dens.sum(axis=1, keepdims=True)
        ll = float(np.sum(mass * (top[:, 0] + np.log(dens.sum(axis=1)))))
        rw = resp * mass[:, None]
        tot = rw.sum(axis=0)
        w = np.maximum(tot / tot.sum(), 1e-300)
        a, b = _beta_mle((rw * lp[:, None]).sum(0) / tot, (rw * l1p[:, None]).sum(0) / tot, a, b)
        if ll - prev < 1e-10:
            break
        prev = ll
    order = np.argsort(-w)
    return BetaMixture(tuple(w[order] / w.sum()), tuple(a[order]), tuple(b[order]))


@dataclass(frozen=True, slots=True)
class MixtureFit:
    """The chosen mixture, its total-variation distance, and the distance for each ``K``."""

    mixture: BetaMixture
    total_variation: float
    tv_by_components: dict[int, float]


def fit_beta_mixture(
    pdf: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    *,
    max_components: int = 4,
    tv_target: float = 0.01,
    lo: float = 1e-7,
    hi: float = 1 - 1e-7,
) -> MixtureFit:
    """Approximate a density on (0, 1) by a Beta mixture (EM; component rule in the module)."""
    if max_components < 1:
        raise InvalidInputError("max_components", "must be >= 1", "out_of_range")
    p, dp = _grid(lo, hi)
    target = pdf(p)
    mass = target * dp
    mass = mass / mass.sum()
    keep = mass > 1e-14
    fits: dict[int, tuple[BetaMixture, float]] = {}
    for k in range(1, max_components + 1):
        mix = _em(p[keep], mass[keep] / mass[keep].sum(), k)
        tv = float(0.5 * np.sum(np.abs(target - mix.pdf(p)) * dp))
        fits[k] = (mix, tv)
        if tv <= tv_target:
            break
    good = [k for k, (_, tv) in fits.items() if tv <= tv_target]
    best = min(good) if good else min(fits, key=lambda k: fits[k][1])
    return MixtureFit(fits[best][0], fits[best][1], {k: v[1] for k, v in fits.items()})


def robustify(
    mixture: BetaMixture, weight: float, *, mean: float = 0.5, n: float = 2.0
) -> BetaMixture:
    """``weight * mixture + (1 - weight) * Beta(mean * n, (1 - mean) * n)`` (RBesT ``robustify``).

    The default vague component is the uniform Beta(1, 1) (mean 0.5 worth two observations;
    Schmidli et al. 2014). RBesT's default ``n = 1`` gives Beta(0.5, 0.5), whose ELIR ESS
    is not defined (its local information is not integrable at 0 and 1).
    """
    if not 0 < weight < 1:
        raise InvalidInputError("robust_weight", "must be strictly between 0 and 1", "out_of_range")
    if not 0 < mean < 1 or n <= 0:
        raise InvalidInputError("robust_component", "needs 0 < mean < 1 and n > 0", "out_of_range")
    return BetaMixture(
        (*(weight * w for w in mixture.weight), 1 - weight),
        (*mixture.a, mean * n),
        (*mixture.b, (1 - mean) * n),
    )
