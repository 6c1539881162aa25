"""Single-arm Bayesian design against a (robust) MAP prior, and its final analysis.

The new regimen's landmark proportion ``p_t`` (e.g. 2-year EFS) gets a vague Beta prior
updated with the trial's ``y`` successes out of ``N``; the historical control ``p_c`` keeps
its MAP prior (a single-arm trial has no concurrent control). Success is declared when

    P(p_t - p_c > delta | y) >= c.

``P(p_t - p_c > delta | y) = int f_c(p) S_t(p + delta | y) dp`` is computed by quadrature for
every ``y = 0..N`` once, which gives the critical number of successes ``y*``. Operating
characteristics are then *simulated*, vectorised (``Binomial(N, p_t)`` draws, 10,000 per
scenario by default, Monte-Carlo SE printed), and also given exactly (``P(Y >= y*)``) as a
check of the simulation. Scenarios cover true control rates at, below and above the MAP mean
(prior-data conflict) crossed with no, the targeted and a larger improvement.
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

from infantall.design.borrowing.mixture import BetaMixture
from infantall.errors import InvalidInputError

__all__ = [
    "SingleArmAnalysis",
    "SingleArmBayesDesign",
    "single_arm_analysis",
    "single_arm_bayes_design",
]

_GRID = 4000


def _prob_exceeds(
    prior_c: BetaMixture, a_t: NDArray[np.float64], b_t: NDArray[np.float64], delta: float
) -> NDArray[np.float64]:
    """``P(p_t - p_c > delta)`` for ``p_t ~ Beta(a_t, b_t)`` (vector) and ``p_c ~ prior_c``."""
    edges = np.linspace(-25.0, 25.0, _GRID + 1)
    x = (edges[:-1] + edges[1:]) / 2
    p = special.expit(x)
    mass = prior_c.pdf(p) * p * (1 - p) * (edges[1] - edges[0])
    mass = mass / mass.sum()
    surv = special.betaincc(a_t[:, None], b_t[:, None], np.clip(p + delta, 0.0, 1.0)[None, :])
    out: NDArray[np.float64] = surv @ mass
    return out


def _check(name: str, ok: bool, reason: str, code: str = "out_of_range") -> None:
    if not ok:
        raise InvalidInputError(name, reason, code)


@dataclass(frozen=True, slots=True)
class SingleArmBayesDesign:
    """Decision rule and operating characteristics of a single-arm Bayesian design.

    ``scenarios`` holds one row per truth: ``p_control``, ``p_new``, ``kind`` (null or
    alternative, conflict or not), simulated ``p_success`` with its Monte-Carlo SE and the
    exact ``p_success_exact``.
    """

    n: int
    delta: float
    threshold: float
    critical_successes: int | None
    prior_mean: float
    new_prior: tuple[float, float]
    trials_per_scenario: int
    seed: int
    accrual_per_year: float | None
    horizon_years: float | None
    scenarios: tuple[dict[str, Any], ...]

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.scenarios))

    @property
    def study_years(self) -> float | None:
        if self.accrual_per_year is None or self.horizon_years is None:
            return None
        return self.n / self.accrual_per_year + self.horizon_years

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "delta": self.delta,
            "threshold": self.threshold,
            "critical_successes": self.critical_successes,
            "prior_mean": self.prior_mean,
            "new_prior": {"a": self.new_prior[0], "b": self.new_prior[1]},
            "trials_per_scenario": self.trials_per_scenario,
            "seed": self.seed,
            "accrual_per_year": self.accrual_per_year,
            "horizon_years": self.horizon_years,
            "study_years": self.study_years,
            "scenarios": [dict(s) for s in self.scenarios],
        }


def _default_scenarios(mean: float, delta: float) -> list[tuple[float, float, str]]:
    """Control at the prior mean and 0.10 below/above (conflict) x gains 0, +0.10, +0.20."""
    base = max(delta, 0.0)
    out = []
    shifts = ((0.0, "historical"), (-0.10, "-0.10 (conflict)"), (0.10, "+0.10 (conflict)"))
    for shift, label in shifts:
        pc = min(max(mean + shift, 0.01), 0.99)
        for gain in (0.0, base + 0.10, base + 0.20):
            out.append((pc, min(pc + gain, 0.99), f"control {label}, gain {gain:+.2f}"))
    return out


def single_arm_bayes_design(
    prior_control: BetaMixture,
    n: int,
    *,
    delta: float = 0.0,
    threshold: float = 0.975,
    new_prior: tuple[float, float] = (1.0, 1.0),
    scenarios: Sequence[tuple[float, float]] | None = None,
    trials: int = 10_000,
    seed: int = 2026,
    accrual_per_year: float | None = None,
    horizon_years: float | None = None,
) -> SingleArmBayesDesign:
    """Operating characteristics of "success if ``P(p_t - p_c > delta | y) >= threshold``".

    Parameters
    ----------
    prior_control
        The (robust) MAP prior of the historical control rate.
    n
        Infants treated with the new regimen.
    scenarios
        ``(p_control, p_new)`` truths; default nine (control at the MAP mean and 0.10
        below/above it, each with no gain, ``delta`` and ``delta + 0.10``).
    trials
        Simulated trials per scenario (``numpy.random.Generator`` seeded with ``seed``).
    """
    _check("n", isinstance(n, int) and n >= 1, "must be an integer >= 1")
    _check("threshold", 0 < threshold < 1, "must be strictly between 0 and 1")
    _check("delta", -1 < delta < 1, "must be between -1 and 1")
    _check("trials", trials >= 1, "must be >= 1")
    _check("new_prior", min(new_prior) > 0, "Beta parameters must be > 0")
    y = np.arange(n + 1, dtype=float)
    post = _prob_exceeds(prior_control, new_prior[0] + y, new_prior[1] + n - y, delta)
    success = post >= threshold
    crit = int(np.argmax(success)) if success.any() else None
    mean = prior_control.mean()
    if scenarios is None:
        truths = _default_scenarios(mean, delta)
    else:
        truths = []
        for i, (pc, pt) in enumerate(scenarios):
            _check(f"scenarios[{i}]", 0 <= pc <= 1 and 0 <= pt <= 1, "rates must be in [0, 1]")
            truths.append((pc, pt, "given"))
    rng = np.random.default_rng(seed)
    rows = []
    for pc, pt, label in truths:
        draws = rng.binomial(n, pt, size=trials)
        rate = float(success[draws].mean())
        exact = float(stats.binom.sf(crit - 1, n, pt)) if crit is not None else 0.0
        rows.append(
            {
                "scenario": label,
                "p_control": pc,
                "p_new": pt,
                "conflict": abs(pc - mean) >= 0.05,
                "hypothesis": "null" if pt <= pc + 1e-12 else "alternative",
                "p_success": rate,
                "mc_se": math.sqrt(rate * (1 - rate) / trials),
                "p_success_exact": exact,
            }
        )
    return SingleArmBayesDesign(
        n,
        delta,
        threshold,
        crit,
        mean,
        new_prior,
        trials,
        seed,
        accrual_per_year,
        horizon_years,
        tuple(rows),
    )


@dataclass(frozen=True, slots=True)
class SingleArmAnalysis:
    """Final analysis of a single-arm trial against the (robust) MAP prior."""

    events: int
    n: int
    delta: float
    threshold: float
    probability: float
    success: bool
    posterior_new: tuple[float, float]
    posterior_new_quantiles: dict[str, float]
    prior_mean: float

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "n": self.n,
            "delta": self.delta,
            "threshold": self.threshold,
            "probability": self.probability,
            "success": self.success,
            "posterior_new": {"a": self.posterior_new[0], "b": self.posterior_new[1]},
            "posterior_new_quantiles": dict(self.posterior_new_quantiles),
            "prior_control_mean": self.prior_mean,
        }


def single_arm_analysis(
    prior_control: BetaMixture,
    events: int,
    n: int,
    *,
    delta: float = 0.0,
    threshold: float = 0.975,
    new_prior: tuple[float, float] = (1.0, 1.0),
) -> SingleArmAnalysis:
    """``P(p_t - p_c > delta | events of n)`` for the observed trial, and the decision.

    ``events`` counts infants event-free at the horizon (successes).
    """
    _check("n", n >= 1, "must be >= 1")
    _check("events", events >= 0, "must not be negative", "negative_count")
    _check("events", events <= n, f"{events} exceed n = {n}", "events_exceed_n")
    _check("threshold", 0 < threshold < 1, "must be strictly between 0 and 1")
    a, b = new_prior[0] + events, new_prior[1] + n - events
    prob = float(_prob_exceeds(prior_control, np.array([a]), np.array([b]), delta)[0])
    q = {f"{p:g}": float(stats.beta.ppf(p, a, b)) for p in (0.025, 0.5, 0.975)}
    return SingleArmAnalysis(
        events, n, delta, threshold, prob, prob >= threshold, (a, b), q, prior_control.mean()
    )
