"""Piecewise-exponential posteriors for time-to-event arms, with a mixture-cure scenario.

Each arm has a constant hazard ``lambda_j`` on user intervals ``[c_j, c_{j+1})`` (the last one
open), with independent conjugate priors ``Gamma(a_j, rate b_j)``; with ``d_j`` events and
``E_j`` exposure in interval ``j`` the posterior is ``Gamma(a_j + d_j, b_j + E_j)`` (e.g.
Ibrahim, Chen and Sinha, *Bayesian Survival Analysis*, 2001, section 3.1). Decision
quantities, exact where a closed form exists:

* ``P(HR_j < r)`` for the hazard ratio of two arms in interval ``j``:
  ``I_{r b_k / (b_c + r b_k)}(a_k, a_c)`` (``X / (X + Y)`` is Beta for standard Gammas);
* the posterior mean of survival at a horizon ``t``: ``E[exp(-sum_j w_j lambda_j)] =
  prod_j (b_j / (b_j + w_j))^{a_j}`` (the Gamma Laplace transform; ``w_j`` is the time spent
  in interval ``j`` before ``t``);
* ``P(S(t) > s)`` and ``P(S_k(t) > S_c(t))``: exact (Gamma CDF) when ``t`` lies in the first
  interval, otherwise Monte Carlo from the posterior Gammas with a caller's generator.

A control arm may instead carry a **Gamma-mixture prior per interval** (the time-to-event MAP
prior of :mod:`infantall.design.borrowing`, robust or not): :func:`piecewise_mixture_posterior`
updates each component conjugately (weights by marginal likelihood), the mean survival is
``prod_j sum_k pi_jk (b_jk / (b_jk + w_j))^{a_jk}`` and ``P(HR_j < r)`` against it is the
weighted sum of the incomplete-beta terms above, both exact.

Scenarios may carry a cure fraction (mixture cure: ``S(t) = pi + (1 - pi) S_u(t)``),
sampled by :func:`sample_mixture_cure`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special, stats

from infantall.design.borrowing.gamma_mixture import GammaMixture
from infantall.errors import InvalidInputError

__all__ = [
    "PiecewiseGammaPosterior",
    "PiecewiseMixturePosterior",
    "exposure_by_interval",
    "piecewise_mixture_posterior",
    "piecewise_posterior",
    "prob_hazard_ratio_below",
    "prob_hazard_ratio_below_mixture",
    "prob_survival_above",
    "sample_mixture_cure",
]

FloatArray = NDArray[np.float64]


def _check_cuts(cuts: Sequence[float]) -> FloatArray:
    c = np.asarray(cuts, dtype=float)
    if c.ndim != 1 or c.size < 1 or c[0] != 0.0:
        raise InvalidInputError("cuts", "must start at 0 (interval start times)", "invalid_cuts")
    if not np.all(np.isfinite(c)) or np.any(np.diff(c) <= 0):
        raise InvalidInputError(
            "cuts", "interval starts must be strictly increasing", "invalid_cuts"
        )
    return c


def exposure_by_interval(
    times: Sequence[float], events: Sequence[int], cuts: Sequence[float]
) -> tuple[FloatArray, FloatArray]:
    """Events ``d_j`` and exposure ``E_j`` per interval from follow-up times and event flags."""
    c = _check_cuts(cuts)
    t = np.asarray(times, dtype=float)
    e = np.asarray(events)
    if t.shape != e.shape or t.ndim != 1:
        raise InvalidInputError("events", "must have one flag per time", "inconsistent")
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise InvalidInputError("times", "must be finite and non-negative", "out_of_range")
    if not np.all(np.isin(e, (0, 1))):
        raise InvalidInputError("events", "must be 0 (censored) or 1 (event)", "invalid_events")
    ends = np.append(c[1:], np.inf)
    exposure = np.clip(np.minimum(t[:, None], ends[None, :]) - c[None, :], 0.0, None).sum(axis=0)
    piece = np.searchsorted(c, t, side="right") - 1
    d = np.bincount(piece[e == 1], minlength=c.size).astype(float)
    return d, np.asarray(exposure, dtype=float)


@dataclass(frozen=True, slots=True)
class PiecewiseGammaPosterior:
    """Posterior Gamma(shape, rate) of the hazard in each interval of one arm."""

    cuts: tuple[float, ...]
    shape: tuple[float, ...]
    rate: tuple[float, ...]

    def weights(self, horizon: float) -> FloatArray:
        """Time spent in each interval before ``horizon``."""
        if not (math.isfinite(horizon) and horizon >= 0):
            raise InvalidInputError("horizon", "must be a non-negative time", "out_of_range")
        c = np.asarray(self.cuts)
        ends = np.append(c[1:], np.inf)
        return np.asarray(np.clip(np.minimum(horizon, ends) - c, 0.0, None), dtype=float)

    def mean_survival(self, horizon: float) -> float:
        """Exact posterior mean of ``S(horizon)`` (product of Gamma Laplace transforms)."""
        w = self.weights(horizon)
        a, b = np.asarray(self.shape), np.asarray(self.rate)
        return float(np.exp(np.sum(a * (np.log(b) - np.log(b + w)))))

    def sample_survival(self, horizon: float, draws: int, rng: np.random.Generator) -> FloatArray:
        """Posterior draws of ``S(horizon)``."""
        w = self.weights(horizon)
        lam = rng.gamma(np.asarray(self.shape), 1.0 / np.asarray(self.rate), (draws, w.size))
        return np.asarray(np.exp(-(lam @ w)), dtype=float)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per interval: posterior shape, rate and mean hazard."""
        return pd.DataFrame(
            {
                "start": self.cuts,
                "shape": self.shape,
                "rate": self.rate,
                "mean_hazard": np.asarray(self.shape) / np.asarray(self.rate),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return {"cuts": list(self.cuts), "shape": list(self.shape), "rate": list(self.rate)}


def piecewise_posterior(
    times: Sequence[float],
    events: Sequence[int],
    cuts: Sequence[float],
    *,
    prior_shape: float | Sequence[float] = 0.1,
    prior_rate: float | Sequence[float] = 0.1,
) -> PiecewiseGammaPosterior:
    """Conjugate posterior of a piecewise-exponential hazard (one Gamma per interval)."""
    c = _check_cuts(cuts)
    d, e = exposure_by_interval(times, events, c.tolist())
    a0 = np.broadcast_to(np.asarray(prior_shape, dtype=float), c.shape)
    b0 = np.broadcast_to(np.asarray(prior_rate, dtype=float), c.shape)
    if np.any(a0 <= 0) or np.any(b0 <= 0) or not np.all(np.isfinite(a0 + b0)):
        raise InvalidInputError(
            "prior_shape", "Gamma prior parameters must be positive", "out_of_range"
        )
    return PiecewiseGammaPosterior(
        cuts=tuple(float(v) for v in c),
        shape=tuple(float(v) for v in a0 + d),
        rate=tuple(float(v) for v in b0 + e),
    )


def prob_hazard_ratio_below(
    arm: PiecewiseGammaPosterior, control: PiecewiseGammaPosterior, ratio: float = 1.0
) -> FloatArray:
    """Per interval ``P(lambda_arm / lambda_control < ratio)``, exact (incomplete beta)."""
    if not (math.isfinite(ratio) and ratio > 0):
        raise InvalidInputError("ratio", "must be a positive hazard ratio", "out_of_range")
    if arm.cuts != control.cuts:
        raise InvalidInputError("cuts", "both arms need the same intervals", "inconsistent")
    ak, bk = np.asarray(arm.shape), np.asarray(arm.rate)
    ac, bc = np.asarray(control.shape), np.asarray(control.rate)
    return np.asarray(special.betainc(ak, ac, ratio * bk / (bc + ratio * bk)), dtype=float)


def prob_survival_above(
    arm: PiecewiseGammaPosterior,
    horizon: float,
    threshold: float,
    *,
    rng: np.random.Generator | None = None,
    draws: int = 100_000,
) -> float:
    """``P(S(horizon) > threshold)``: exact Gamma CDF when ``horizon`` is in the first interval,
    else Monte Carlo (``rng`` required)."""
    if not 0.0 < threshold < 1.0:
        raise InvalidInputError("threshold", "must be strictly between 0 and 1", "out_of_range")
    w = arm.weights(horizon)
    if np.count_nonzero(w) <= 1:
        j = int(np.flatnonzero(w)[0]) if w.any() else 0
        if not w.any():
            return 1.0
        # S > s  <=>  lambda_j < -log(s) / w_j
        return float(
            stats.gamma.cdf(-math.log(threshold) / w[j], arm.shape[j], scale=1 / arm.rate[j])
        )
    if rng is None:
        raise InvalidInputError(
            "rng", "a horizon beyond the first interval needs a generator", "missing"
        )
    return float(np.mean(arm.sample_survival(horizon, draws, rng) > threshold))


@dataclass(frozen=True, slots=True)
class PiecewiseMixturePosterior:
    """Posterior Gamma mixture of the hazard in each interval of one arm (a MAP-prior arm)."""

    cuts: tuple[float, ...]
    intervals: tuple[GammaMixture, ...]

    def weights(self, horizon: float) -> FloatArray:
        """Time spent in each interval before ``horizon``."""
        return PiecewiseGammaPosterior(
            self.cuts, (1.0,) * len(self.cuts), (1.0,) * len(self.cuts)
        ).weights(horizon)

    def mean_survival(self, horizon: float) -> float:
        """Exact posterior mean of ``S(horizon)`` (intervals independent a posteriori)."""
        w = self.weights(horizon)
        return float(
            np.prod([mix.laplace(float(wj)) for mix, wj in zip(self.intervals, w, strict=True)])
        )

    def sample_survival(self, horizon: float, draws: int, rng: np.random.Generator) -> FloatArray:
        """Posterior draws of ``S(horizon)``."""
        w = self.weights(horizon)
        lam = np.column_stack([mix.sample(draws, rng) for mix in self.intervals])
        return np.asarray(np.exp(-(lam @ w)), dtype=float)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: cuts and one list of ``{weight, shape, rate}`` per interval."""
        return {"cuts": list(self.cuts), "intervals": [m.components() for m in self.intervals]}


def piecewise_mixture_posterior(
    times: Sequence[float],
    events: Sequence[int],
    cuts: Sequence[float],
    prior: Sequence[GammaMixture],
) -> PiecewiseMixturePosterior:
    """Conjugate posterior of a piecewise-exponential hazard with a Gamma-mixture prior per
    interval (e.g. ``TteBorrowingPrior.prior``, whose cuts must be ``cuts``)."""
    c = _check_cuts(cuts)
    if len(prior) != c.size:
        raise InvalidInputError(
            "prior",
            f"needs one Gamma mixture per interval ({c.size}), got {len(prior)}",
            "bad_shape",
        )
    d, e = exposure_by_interval(times, events, c.tolist())
    post = tuple(
        mix.posterior(float(dj), float(ej)) for mix, dj, ej in zip(prior, d, e, strict=True)
    )
    return PiecewiseMixturePosterior(tuple(float(v) for v in c), post)


def prob_hazard_ratio_below_mixture(
    arm: PiecewiseGammaPosterior, control: PiecewiseMixturePosterior, ratio: float = 1.0
) -> FloatArray:
    """Per interval ``P(lambda_arm / lambda_control < ratio)`` against a mixture control, exact:
    ``sum_k pi_k I_{r b / (b_k + r b)}(a, a_k)``."""
    if not (math.isfinite(ratio) and ratio > 0):
        raise InvalidInputError("ratio", "must be a positive hazard ratio", "out_of_range")
    if arm.cuts != control.cuts:
        raise InvalidInputError("cuts", "both arms need the same intervals", "inconsistent")
    out = []
    for a, b, mix in zip(arm.shape, arm.rate, control.intervals, strict=True):
        ac, bc, pc = (np.asarray(v, dtype=float) for v in (mix.shape, mix.rate, mix.weight))
        out.append(float(pc @ special.betainc(a, ac, ratio * b / (bc + ratio * b))))
    return np.asarray(out, dtype=float)


def sample_mixture_cure(
    n: int,
    *,
    cure_fraction: float,
    cuts: Sequence[float],
    hazards: Sequence[float],
    rng: np.random.Generator,
) -> FloatArray:
    """Event times under ``S(t) = pi + (1 - pi) S_u(t)`` (``inf`` for the cured).

    ``S_u`` is piecewise exponential with ``hazards`` on ``cuts``.
    """
    if not 0.0 <= cure_fraction < 1.0:
        raise InvalidInputError("cure_fraction", "must be in [0, 1)", "out_of_range")
    c = _check_cuts(cuts)
    h = np.asarray(hazards, dtype=float)
    if h.shape != c.shape or np.any(h < 0) or h[-1] <= 0:
        raise InvalidInputError(
            "hazards",
            "need one non-negative hazard per interval, the last positive",
            "invalid_hazards",
        )
    cum = np.concatenate([[0.0], np.cumsum(h[:-1] * np.diff(c))])
    unit = rng.exponential(1.0, n)
    piece = np.searchsorted(cum, unit, side="right") - 1
    with np.errstate(divide="ignore"):
        t = c[piece] + (unit - cum[piece]) / h[piece]
    cured = rng.random(n) < cure_fraction
    return np.asarray(np.where(cured, np.inf, t), dtype=float)
