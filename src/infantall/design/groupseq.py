"""Group-sequential boundaries by Lan–DeMets alpha spending.

Reproduces rpact ``getDesignGroupSequential(typeOfDesign = "asOF" | "asP")``: efficacy
boundaries only (no futility), one-sided or symmetric two-sided, at given information rates.

The crossing probabilities are computed with the recursive numerical integration of
Armitage, McPherson and Rowe (1969) in the form of Jennison and Turnbull (2000,
*Group Sequential Methods with Applications to Clinical Trials*, chapter 19): the density of
the score statistic among trials that have not stopped is carried from look to look on a
Simpson grid. No maintained Python library offers this (the ``gsdesign`` package on PyPI is
an early port with integration only), hence the hand-written recursion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from infantall.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GroupSequentialDesign",
    "alpha_spending",
    "crossing_probabilities",
    "group_sequential_design",
]

SpendingType = Literal["obrien-fleming", "pocock"]

#: Number of Simpson intervals per look; the integrand is smooth, so 600 intervals over
#: +-10 standard deviations give crossing probabilities accurate to about 1e-10.
_GRID_INTERVALS = 600
#: Width of the integration range in standard deviations of the score at a look.
_TAIL_SD = 10.0


def alpha_spending(
    t: NDArray[np.float64] | float, alpha: float, kind: SpendingType
) -> NDArray[np.float64]:
    """Cumulative alpha spent at information fraction ``t`` (Lan and DeMets, 1983).

    ``obrien-fleming``: ``2 - 2 Phi(z_{1-alpha/2} / sqrt(t))``; ``pocock``:
    ``alpha log(1 + (e - 1) t)``, as rpact's ``asOF`` and ``asP``.
    """
    tt = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if kind == "obrien-fleming":
        z = stats.norm.isf(alpha / 2.0)
        with np.errstate(divide="ignore"):
            out = 2.0 * stats.norm.sf(z / np.sqrt(tt))
        return np.asarray(np.where(tt > 0, out, 0.0), dtype=float)
    if kind == "pocock":
        return np.asarray(alpha * np.log1p((np.e - 1.0) * tt), dtype=float)
    raise InvalidInputError("spending", f"unknown spending function {kind!r}", "unknown_spending")


def _simpson_grid(lo: float, hi: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.linspace(lo, hi, _GRID_INTERVALS + 1)
    h = (hi - lo) / _GRID_INTERVALS
    w = np.full(x.size, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * h / 3.0


class _Recursion:
    """Density of the score among continuing trials, carried from look to look."""

    def __init__(self, info: NDArray[np.float64], drift: float) -> None:
        self.info = info
        self.drift = drift
        self.x: NDArray[np.float64] | None = None
        self.dens: NDArray[np.float64] | None = None
        self.w: NDArray[np.float64] | None = None

    def _mass_beyond(self, k: int, upper: float, lower: float | None) -> float:
        """P(continue to look k and score/sqrt(I_k) >= upper, or <= lower when given)."""
        sd_k = np.sqrt(self.info[k])
        mean_inc = self.drift * (self.info[k] - (self.info[k - 1] if k else 0.0))
        if k == 0:
            p = float(stats.norm.sf(upper - self.drift * sd_k))
            if lower is not None:
                p += float(stats.norm.cdf(lower - self.drift * sd_k))
            return p
        assert self.x is not None and self.dens is not None and self.w is not None
        sd_inc = np.sqrt(self.info[k] - self.info[k - 1])
        up = stats.norm.sf((upper * sd_k - self.x - mean_inc) / sd_inc)
        if lower is not None:
            up = up + stats.norm.cdf((lower * sd_k - self.x - mean_inc) / sd_inc)
        return float(np.sum(self.w * self.dens * up))

    def advance(self, k: int, upper: float, lower: float | None) -> None:
        """Move the continuation density to look ``k`` with region (lower, upper)."""
        sd_k = np.sqrt(self.info[k])
        mean_k = self.drift * self.info[k]
        lo = (lower * sd_k) if lower is not None else mean_k - _TAIL_SD * sd_k
        hi = upper * sd_k
        if hi <= lo:
            lo = hi - 1e-9
        x, w = _simpson_grid(lo, hi)
        if k == 0:
            dens = stats.norm.pdf((x - mean_k) / sd_k) / sd_k
        else:
            assert self.x is not None and self.dens is not None and self.w is not None
            sd_inc = np.sqrt(self.info[k] - self.info[k - 1])
            mean_inc = self.drift * (self.info[k] - self.info[k - 1])
            u = (x[:, None] - self.x[None, :] - mean_inc) / sd_inc
            kern = np.exp(-0.5 * u * u) / (sd_inc * np.sqrt(2.0 * np.pi))
            dens = kern @ (self.w * self.dens)
        self.x, self.dens, self.w = x, dens, w


def crossing_probabilities(
    critical: Sequence[float],
    info_rates: Sequence[float],
    drift: float = 0.0,
    sided: int = 1,
    *,
    upper_only: bool = False,
) -> NDArray[np.float64]:
    """Probability of first crossing the efficacy boundary at each look.

    Parameters
    ----------
    critical
        Critical values ``c_k`` on the Z scale (upper; two-sided designs use ``+-c_k``).
    info_rates
        Information at each look (any scale; usually fractions ending at 1).
    drift
        Mean of ``Z_k`` is ``drift * sqrt(I_k)``; 0 under the null hypothesis.
    sided
        1 (upper boundary) or 2 (symmetric; crossing either side).
    upper_only
        Count only crossings of the upper boundary (power against a positive drift, as
        rpact's two-sided power); the continuation region stays two-sided.
    """
    info = np.asarray(info_rates, dtype=float)
    rec = _Recursion(info, drift)
    out = np.empty(info.size)
    for k, c in enumerate(critical):
        lower = -float(c) if sided == 2 else None
        out[k] = rec._mass_beyond(k, float(c), None if upper_only else lower)
        rec.advance(k, float(c), lower)
    return out


@dataclass(frozen=True, slots=True)
class GroupSequentialDesign:
    """Efficacy boundaries of a Lan–DeMets group-sequential design.

    Attributes
    ----------
    information_rates
        Information fraction at each look (last = 1).
    critical_values
        Z-scale critical values ``c_k`` (two-sided designs reject when ``|Z_k| >= c_k``).
    stage_levels
        Nominal one-sided significance level at each look, ``1 - Phi(c_k)`` (rpact
        ``stageLevels``).
    alpha_spent
        Cumulative alpha spent at each look (rpact ``alphaSpent``).
    """

    alpha: float
    sided: int
    spending: str
    information_rates: tuple[float, ...]
    critical_values: tuple[float, ...]
    stage_levels: tuple[float, ...]
    alpha_spent: tuple[float, ...]

    @property
    def kmax(self) -> int:
        """Number of looks."""
        return len(self.information_rates)

    def rejection_probabilities(
        self, drift: float, *, upper_only: bool = False
    ) -> NDArray[np.float64]:
        """P(first rejection at each look) when ``E[Z_k] = drift * sqrt(t_k)``."""
        return crossing_probabilities(
            self.critical_values, self.information_rates, drift, self.sided, upper_only=upper_only
        )

    def inflation_factor(self, power: float) -> float:
        """Maximum information relative to a fixed design with the same alpha and power.

        Matches rpact ``getDesignCharacteristics(design)$inflationFactor``.
        """
        if not 0.0 < power < 1.0:
            raise InvalidInputError("power", "must be strictly between 0 and 1", "out_of_range")
        z_fixed = stats.norm.isf(self.alpha / self.sided) + stats.norm.isf(1.0 - power)
        drift = optimize.brentq(
            lambda d: float(self.rejection_probabilities(d, upper_only=True).sum()) - power,
            0.0,
            3.0 * z_fixed + 5.0,
            xtol=1e-12,
        )
        return float((drift / z_fixed) ** 2)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per look."""
        import pandas as pd

        return pd.DataFrame(
            {
                "look": np.arange(1, self.kmax + 1),
                "information_rate": self.information_rates,
                "critical_value": self.critical_values,
                "stage_level": self.stage_levels,
                "alpha_spent": self.alpha_spent,
            }
        )


def group_sequential_design(
    kmax: int | None = None,
    *,
    alpha: float = 0.025,
    sided: int = 1,
    spending: SpendingType = "obrien-fleming",
    information_rates: Sequence[float] | None = None,
) -> GroupSequentialDesign:
    """Lan–DeMets alpha-spending boundaries (efficacy only).

    Reproduces rpact ``getDesignGroupSequential(kMax, alpha, sided, typeOfDesign = "asOF" or
    "asP", informationRates)`` (rpact 3.3, verified in ``tests/design/reference``). For
    ``sided = 2`` ``alpha`` is the two-sided level and the boundaries are symmetric.

    Parameters
    ----------
    kmax
        Number of looks, equally spaced in information when ``information_rates`` is absent.
    alpha
        Overall significance level (one-sided when ``sided = 1``).
    sided
        1 or 2.
    spending
        ``"obrien-fleming"`` (rpact ``asOF``) or ``"pocock"`` (rpact ``asP``).
    information_rates
        Increasing information fractions ending at 1.
    """
    rates = _information_rates(kmax, information_rates)
    if not 0.0 < alpha < 0.5:
        raise InvalidInputError("alpha", "must be strictly between 0 and 0.5", "out_of_range")
    if sided not in (1, 2):
        raise InvalidInputError("sided", "must be 1 or 2", "invalid_sided")
    # rpact spends alpha/2 per side for two-sided designs: sided * f(t; alpha / sided)
    spent = sided * alpha_spending(rates, alpha / sided, spending)
    rec = _Recursion(rates, 0.0)
    crit: list[float] = []
    previous = 0.0
    for k in range(rates.size):
        target = float(spent[k] - previous)
        previous = float(spent[k])

        def excess(c: float, k: int = k, target: float = target) -> float:
            lower = -c if sided == 2 else None
            return rec._mass_beyond(k, c, lower) - target

        c_k = float(optimize.brentq(excess, 0.0, 40.0, xtol=1e-12)) if target > 0 else 40.0
        crit.append(c_k)
        rec.advance(k, c_k, -c_k if sided == 2 else None)
    levels = tuple(float(v) for v in stats.norm.sf(np.asarray(crit)))
    return GroupSequentialDesign(
        alpha=alpha,
        sided=sided,
        spending=spending,
        information_rates=tuple(float(r) for r in rates),
        critical_values=tuple(crit),
        stage_levels=levels,
        alpha_spent=tuple(float(s) for s in spent),
    )


def _information_rates(
    kmax: int | None, information_rates: Sequence[float] | None
) -> NDArray[np.float64]:
    if information_rates is None:
        if kmax is None or kmax < 1:
            raise InvalidInputError("kmax", "give kmax >= 1 or information_rates", "out_of_range")
        return np.arange(1, kmax + 1, dtype=float) / kmax
    rates = np.asarray(information_rates, dtype=float)
    if kmax is not None and kmax != rates.size:
        raise InvalidInputError(
            "information_rates", f"has {rates.size} values but kmax is {kmax}", "inconsistent"
        )
    if rates.size < 1 or np.any(np.diff(rates) <= 0) or rates[0] <= 0 or abs(rates[-1] - 1) > 1e-12:
        raise InvalidInputError(
            "information_rates",
            "must be strictly increasing, positive and end at 1",
            "invalid_information_rates",
        )
    return rates
