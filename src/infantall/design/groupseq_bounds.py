"""Group-sequential designs beyond Lan–DeMets efficacy bounds.

* classic boundary families: O'Brien–Fleming (1979), Pocock (1977), Wang–Tsiatis (1987)
  and Haybittle–Peto (Haybittle 1971; Peto et al. 1976) — rpact
  ``getDesignGroupSequential(typeOfDesign = "OF" | "P" | "WT" | "HP")``;
* futility bounds by beta spending (Pampallona, Tsiatis and Kim, 2001), binding or not —
  rpact ``typeBetaSpending = "bsOF" | "bsP"``, ``bindingFutility = TRUE | FALSE``;
* power, expected sample size and stopping probabilities for a given maximum sample size —
  rpact ``getPowerAndAverageSampleNumber(design, theta, nMax)``.

All values reproduce rpact 3.3.4 to 1e-6 (``tests/design/reference/make_reference_gs.R``).
Crossing probabilities come from :mod:`infantall.design.gs_recursion`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, stats

from infantall.design.groupseq import _information_rates, alpha_spending
from infantall.design.gs_recursion import ScoreRecursion, boundary_crossings
from infantall.errors import InvalidInputError

__all__ = [
    "BoundedDesign",
    "DesignPower",
    "beta_spending_design",
    "classic_design",
]

ClassicFamily = Literal["obrien-fleming", "pocock", "wang-tsiatis", "haybittle-peto"]
SpendingType = Literal["obrien-fleming", "pocock"]
_NO_BOUND = 40.0  # a Z value never reached (stage with nothing to spend)


def _finite(values: Sequence[float]) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


@dataclass(frozen=True, slots=True)
class DesignPower:
    """Operating characteristics of a design at one standardized effect and maximum N."""

    theta: float
    n_max: float
    reject_per_stage: tuple[float, ...]
    futility_per_stage: tuple[float, ...]
    overall_reject: float
    expected_n: float
    early_stop: float

    @property
    def summary(self) -> pd.DataFrame:
        """One row per look: rejection and futility-stop probabilities."""
        return pd.DataFrame(
            {
                "look": np.arange(1, len(self.reject_per_stage) + 1),
                "reject": self.reject_per_stage,
                "futility_stop": self.futility_per_stage,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return {
            "theta": self.theta,
            "n_max": self.n_max,
            "reject_per_stage": list(self.reject_per_stage),
            "futility_per_stage": list(self.futility_per_stage),
            "overall_reject": self.overall_reject,
            "expected_n": self.expected_n,
            "early_stop": self.early_stop,
        }


@dataclass(frozen=True, slots=True)
class BoundedDesign:
    """One-sided group-sequential design with efficacy and (optional) futility bounds.

    ``futility_bounds`` holds ``-inf`` where there is none (``None`` in ``to_dict``).
    ``binding``: whether the efficacy bounds were computed assuming futility stops are
    obeyed. ``shift``: for beta-spending designs, the squared drift at maximum information
    giving power ``1 - beta`` (rpact ``getDesignCharacteristics(design)$shift``).
    """

    family: str
    alpha: float
    beta: float | None
    binding: bool
    information_rates: tuple[float, ...]
    critical_values: tuple[float, ...]
    futility_bounds: tuple[float, ...]
    shift: float | None

    @property
    def kmax(self) -> int:
        """Number of looks."""
        return len(self.information_rates)

    def crossings(self, drift: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per-look probabilities of stopping for efficacy and for futility.

        ``drift``: ``E[Z_k] = drift * sqrt(t_k)`` (drift = theta * sqrt(n_max)).
        """
        return boundary_crossings(
            self.critical_values, self.futility_bounds, self.information_rates, drift
        )

    def power(self, theta: float, n_max: float) -> DesignPower:
        """Power and expected N at standardized effect ``theta`` for maximum size ``n_max``.

        Matches rpact ``getPowerAndAverageSampleNumber(design, theta, nMax)``: the mean of
        ``Z_k`` is ``theta * sqrt(t_k * n_max)``; futility bounds are applied.
        """
        if not (math.isfinite(n_max) and n_max > 0):
            raise InvalidInputError("n_max", "must be a positive number", "out_of_range")
        if not math.isfinite(theta):
            raise InvalidInputError("theta", "must be a finite number", "out_of_range")
        up, low = self.crossings(theta * math.sqrt(n_max))
        rates = np.asarray(self.information_rates)
        stop = up + low
        stop_last = stop.copy()
        stop_last[-1] = 1.0 - float(stop[:-1].sum())
        return DesignPower(
            theta=float(theta),
            n_max=float(n_max),
            reject_per_stage=tuple(float(v) for v in up),
            futility_per_stage=tuple(float(v) for v in low),
            overall_reject=float(up.sum()),
            expected_n=float(n_max * np.sum(stop_last * rates)),
            early_stop=float(stop[:-1].sum()),
        )

    @property
    def summary(self) -> pd.DataFrame:
        """One row per look."""
        return pd.DataFrame(
            {
                "look": np.arange(1, self.kmax + 1),
                "information_rate": self.information_rates,
                "critical_value": self.critical_values,
                "futility_bound": _finite(self.futility_bounds),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record (``None`` where there is no futility bound)."""
        return {
            "family": self.family,
            "alpha": self.alpha,
            "beta": self.beta,
            "binding": self.binding,
            "information_rates": list(self.information_rates),
            "critical_values": list(self.critical_values),
            "futility_bounds": _finite(self.futility_bounds),
            "shift": self.shift,
        }


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 0.5:
        raise InvalidInputError("alpha", "must be strictly between 0 and 0.5", "out_of_range")


def _classic_shape(family: ClassicFamily, rates: NDArray[np.float64], delta: float) -> Any:
    if family == "obrien-fleming":
        return lambda c: c / np.sqrt(rates)
    if family == "pocock":
        return lambda c: np.full(rates.size, c)
    if family == "wang-tsiatis":
        return lambda c: c * rates ** (delta - 0.5)
    raise InvalidInputError("family", f"unknown boundary family {family!r}", "unknown_family")


def classic_design(
    kmax: int | None = None,
    *,
    family: ClassicFamily = "obrien-fleming",
    alpha: float = 0.025,
    information_rates: Sequence[float] | None = None,
    delta_wt: float = 0.0,
    haybittle_peto_bound: float = 3.0,
) -> BoundedDesign:
    """Classic one-sided efficacy boundaries with exact overall level ``alpha``.

    ``obrien-fleming``: ``c_k = C / sqrt(t_k)``; ``pocock``: ``c_k = C``;
    ``wang-tsiatis``: ``c_k = C t_k^(delta_wt - 1/2)``; ``haybittle-peto``:
    ``c_k = haybittle_peto_bound`` before the last look, the last bound solved for ``alpha``.
    Matches rpact ``getDesignGroupSequential(typeOfDesign = "OF" | "P" | "WT" | "HP",
    deltaWT, constantBoundsHP)``.
    """
    rates = _information_rates(kmax, information_rates)
    _check_alpha(alpha)
    no_futility = np.full(rates.size, -np.inf)

    def level(bounds: NDArray[np.float64]) -> float:
        return float(boundary_crossings(bounds, no_futility, rates, 0.0)[0].sum())

    if family == "haybittle-peto":
        if not haybittle_peto_bound > 0:
            raise InvalidInputError(
                "haybittle_peto_bound", "must be a positive Z value", "out_of_range"
            )

        def hp(c: float) -> NDArray[np.float64]:
            out = np.full(rates.size, float(haybittle_peto_bound))
            out[-1] = c
            return out

        spent_early = level(np.append(hp(0.0)[:-1], np.inf))
        if spent_early >= alpha:
            raise InvalidInputError(
                "haybittle_peto_bound", "the interim bounds alone spend all of alpha", "impossible"
            )
        c = optimize.brentq(lambda c: level(hp(c)) - alpha, 0.0, 40.0, xtol=1e-13)
        crit = hp(c)
    else:
        shape = _classic_shape(family, rates, delta_wt)
        c = optimize.brentq(lambda c: level(shape(c)) - alpha, 0.1, 40.0, xtol=1e-13)
        crit = shape(c)
    return BoundedDesign(
        family=family,
        alpha=alpha,
        beta=None,
        binding=False,
        information_rates=tuple(float(r) for r in rates),
        critical_values=tuple(float(v) for v in crit),
        futility_bounds=tuple(float(v) for v in no_futility),
        shift=None,
    )


def _beta_spent(rates: NDArray[np.float64], beta: float, kind: SpendingType) -> Any:
    return alpha_spending(rates, beta, kind)


class _BetaSpendingSolver:
    """Bounds for one drift; the drift is then solved so the last bounds meet."""

    def __init__(
        self,
        rates: NDArray[np.float64],
        alpha_cum: NDArray[np.float64],
        beta_cum: NDArray[np.float64],
        binding: bool,
    ) -> None:
        self.rates, self.alpha_cum, self.beta_cum, self.binding = (
            rates,
            alpha_cum,
            beta_cum,
            binding,
        )
        self._nonbinding_upper: NDArray[np.float64] | None = None

    def _upper(self, lower: NDArray[np.float64]) -> NDArray[np.float64]:
        """Efficacy bounds under H0 given the futility bounds (ignored when non-binding)."""
        rates, k_n = self.rates, self.rates.size
        rec = ScoreRecursion(rates, 0.0)
        out = np.empty(k_n)
        prev = 0.0
        for k in range(k_n):
            target = float(self.alpha_cum[k] - prev)
            prev = float(self.alpha_cum[k])
            sd = math.sqrt(rates[k])
            lo = lower[k] * sd if self.binding else -np.inf

            def excess(
                c: float, k: int = k, lo: float = lo, sd: float = sd, target: float = target
            ) -> float:
                return rec.masses(k, c * sd, lo)[0] - target

            out[k] = optimize.brentq(excess, -10.0, 40.0, xtol=1e-13) if target > 0 else _NO_BOUND
            if k + 1 < k_n:
                rec.advance(k, out[k] * sd, lo)
        return out

    def bounds(self, drift: float) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
        """(upper, lower, beta excess at the last look) for ``E[Z_k] = drift sqrt(t_k)``."""
        k_n = self.rates.size
        lower = np.full(k_n, -np.inf)
        if not self.binding and self._nonbinding_upper is None:
            self._nonbinding_upper = self._upper(lower)
        upper = (
            self._nonbinding_upper.copy() if self._nonbinding_upper is not None else np.zeros(k_n)
        )
        rec = ScoreRecursion(self.rates, drift)  # information rates are the information scale
        arec = ScoreRecursion(self.rates, 0.0)
        prev_a = prev_b = 0.0
        for k in range(k_n):
            sd = math.sqrt(self.rates[k])
            if self.binding:
                upper[k] = self._binding_upper_k(arec, k, sd, float(self.alpha_cum[k] - prev_a))
                prev_a = float(self.alpha_cum[k])
            u_s = upper[k] * sd
            if k == k_n - 1:
                lower[k] = upper[k]
                excess = rec.masses(k, u_s, u_s)[1] - float(self.beta_cum[-1] - prev_b)
                return upper, lower, excess
            target = float(self.beta_cum[k] - prev_b)
            prev_b = float(self.beta_cum[k])
            if rec.masses(k, u_s, u_s)[1] <= target:
                lower[k] = upper[k]
            else:
                lower[k] = optimize.brentq(
                    lambda lz, k=k, sd=sd, u_s=u_s, t=target: rec.masses(k, u_s, lz * sd)[1] - t,
                    -40.0,
                    upper[k],
                    xtol=1e-13,
                )
            rec.advance(k, u_s, lower[k] * sd)
            if self.binding:
                arec.advance(k, u_s, lower[k] * sd)
        raise AssertionError("unreachable: the last look returns")

    @staticmethod
    def _binding_upper_k(arec: ScoreRecursion, k: int, sd: float, target: float) -> float:
        if target <= 0:
            return _NO_BOUND
        if arec.masses(k, -10.0 * sd, -np.inf)[0] <= target:  # futility stops left no room
            return -10.0
        return float(
            optimize.brentq(
                lambda c: arec.masses(k, c * sd, -np.inf)[0] - target, -10.0, 40.0, xtol=1e-13
            )
        )


def beta_spending_design(
    kmax: int | None = None,
    *,
    alpha: float = 0.025,
    beta: float = 0.2,
    spending: SpendingType = "obrien-fleming",
    beta_spending: SpendingType = "obrien-fleming",
    binding: bool = False,
    information_rates: Sequence[float] | None = None,
) -> BoundedDesign:
    """Efficacy bounds by alpha spending and futility bounds by beta spending.

    The drift is found so that the last futility bound meets the last efficacy bound with
    power ``1 - beta`` (Pampallona, Tsiatis and Kim, 2001). Non-binding: the efficacy bounds
    ignore the futility bounds (the type-I error stays ``<= alpha`` whether or not the trial
    stops for futility); binding: they assume futility stops are obeyed. Reproduces rpact
    ``getDesignGroupSequential(typeOfDesign = "asOF"|"asP", typeBetaSpending = "bsOF"|"bsP",
    bindingFutility)`` and ``getDesignCharacteristics(design)$shift``.
    """
    rates = _information_rates(kmax, information_rates)
    _check_alpha(alpha)
    if not 0.0 < beta < 0.5:
        raise InvalidInputError("beta", "must be strictly between 0 and 0.5", "out_of_range")
    if rates.size < 2:
        raise InvalidInputError("kmax", "futility bounds need at least two looks", "out_of_range")
    solver = _BetaSpendingSolver(
        rates,
        alpha_spending(rates, alpha, spending),
        _beta_spent(rates, beta, beta_spending),
        binding,
    )
    z_fixed = stats.norm.isf(alpha) + stats.norm.isf(beta)
    drift = optimize.brentq(
        lambda d: solver.bounds(d)[2], 0.9 * z_fixed, 2.0 * z_fixed + 2.0, xtol=1e-12
    )
    upper, lower, _ = solver.bounds(drift)
    return BoundedDesign(
        family=f"alpha:{spending}/beta:{beta_spending}",
        alpha=alpha,
        beta=beta,
        binding=binding,
        information_rates=tuple(float(r) for r in rates),
        critical_values=tuple(float(v) for v in upper),
        futility_bounds=tuple(float(v) for v in lower),
        shift=float(drift**2),
    )
