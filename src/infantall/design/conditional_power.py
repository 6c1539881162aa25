"""Conditional power and promising-zone sample-size re-estimation.

* :func:`conditional_power` — the probability of crossing a later efficacy bound given the
  Z statistic observed at an interim, for an assumed standardized effect. Reproduces rpact
  ``getConditionalPower(getStageResults(design, ...), nPlanned, thetaH1, assumedStDev)``
  for a group-sequential design (cumulative Z statistic).
* :func:`promising_zone` — Mehta and Pocock (2011, *Stat Med* 30:3267): at the interim of a
  two-stage design, when the conditional power at the observed trend lies in the
  "promising" zone, enlarge the second stage so the conditional power reaches a target, up to
  a cap. The final test is the Cui–Hung–Wang (1999) weighted inverse-normal statistic with
  the pre-planned weights, so the type-I error stays exactly ``alpha`` whatever the
  re-estimation (rpact ``getDesignInverseNormal``; the conditional power of the new stage 2
  equals rpact ``getConditionalPower`` with ``nPlanned`` = the new size).

Effects are *standardized per unit of sample size*: ``E[Z_k] = theta * sqrt(n_k)`` (for two
groups 1:1 with total size n and mean difference delta, ``theta = delta / (2 sigma)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from infantall.design.gs_recursion import boundary_crossings
from infantall.errors import InvalidInputError

__all__ = [
    "ConditionalPower",
    "PromisingZoneDecision",
    "chw_conditional_power",
    "conditional_power",
    "promising_zone",
]


@dataclass(frozen=True, slots=True)
class ConditionalPower:
    """Probability of rejecting at each remaining look, and cumulatively."""

    stage: int
    z: float
    theta: float
    per_look: tuple[float, ...]
    cumulative: tuple[float, ...]

    @property
    def overall(self) -> float:
        """Conditional probability of rejecting at any remaining look."""
        return self.cumulative[-1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return {
            "stage": self.stage,
            "z": self.z,
            "theta": self.theta,
            "per_look": list(self.per_look),
            "cumulative": list(self.cumulative),
            "overall": self.overall,
        }


def _check_sizes(sample_sizes: Sequence[float], stage: int) -> NDArray[np.float64]:
    n = np.asarray(sample_sizes, dtype=float)
    if n.ndim != 1 or n.size < 2 or not np.all(np.isfinite(n)) or np.any(np.diff(n) <= 0):
        raise InvalidInputError(
            "sample_sizes", "must be strictly increasing cumulative sizes", "invalid_sizes"
        )
    if n[0] <= 0:
        raise InvalidInputError("sample_sizes", "must be positive", "invalid_sizes")
    if not 1 <= stage < n.size:
        raise InvalidInputError(
            "stage", f"must be an interim look between 1 and {n.size - 1}", "out_of_range"
        )
    return n


def conditional_power(
    critical_values: Sequence[float],
    sample_sizes: Sequence[float],
    *,
    stage: int,
    z: float,
    theta: float,
    futility_bounds: Sequence[float] | None = None,
) -> ConditionalPower:
    """Conditional power of a group-sequential design after look ``stage`` (1-based).

    Parameters
    ----------
    critical_values
        Z-scale efficacy bounds at every look.
    sample_sizes
        Cumulative (planned) sample size at every look.
    stage, z
        The interim look and the cumulative Z statistic observed there.
    theta
        Standardized effect per unit of sample size assumed for the rest of the trial.
    futility_bounds
        Binding futility bounds to respect in later looks (``None``: ignored, as rpact).

    The bounds apply to the cumulative Z at the given sizes; rpact's value coincides when the
    sizes follow the design's information rates (the validated case).
    """
    n = _check_sizes(sample_sizes, stage)
    crit = np.asarray(critical_values, dtype=float)
    if crit.size != n.size:
        raise InvalidInputError(
            "critical_values", f"has {crit.size} values for {n.size} looks", "inconsistent"
        )
    if not (math.isfinite(z) and math.isfinite(theta)):
        raise InvalidInputError("z", "z and theta must be finite", "out_of_range")
    low = (
        np.full(n.size, -np.inf)
        if futility_bounds is None
        else np.asarray(futility_bounds, dtype=float)
    )
    up, _ = boundary_crossings(
        crit[stage:],
        low[stage:],
        n[stage:],
        theta,
        start_score=z * math.sqrt(n[stage - 1]),
        start_info=float(n[stage - 1]),
    )
    return ConditionalPower(
        stage=stage,
        z=float(z),
        theta=float(theta),
        per_look=tuple(float(v) for v in up),
        cumulative=tuple(float(v) for v in np.cumsum(up)),
    )


@dataclass(frozen=True, slots=True)
class PromisingZoneDecision:
    """Interim decision of a promising-zone design (Mehta and Pocock, 2011)."""

    zone: str  # "unfavourable", "promising" or "favourable"
    theta_hat: float
    conditional_power_planned: float
    n2_planned: float
    n2_new: float
    conditional_power_new: float
    w1: float
    w2: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return {
            "zone": self.zone,
            "theta_hat": self.theta_hat,
            "conditional_power_planned": self.conditional_power_planned,
            "n2_planned": self.n2_planned,
            "n2_new": self.n2_new,
            "conditional_power_new": self.conditional_power_new,
            "w1": self.w1,
            "w2": self.w2,
        }


def chw_conditional_power(
    z1: float, n2: float, theta: float, critical_value: float, w1: float, w2: float
) -> float:
    """P(w1 Z1 + w2 Z2 >= c | Z1 = z1) when stage 2 has size n2 and effect theta."""
    return float(stats.norm.sf((critical_value - w1 * z1) / w2 - theta * math.sqrt(n2)))


def promising_zone(
    z1: float,
    *,
    n1: float,
    n2_planned: float,
    n2_max: float,
    critical_value: float,
    cp_min: float = 0.36,
    cp_target: float = 0.8,
    theta: float | None = None,
) -> PromisingZoneDecision:
    """Second-stage size after an interim at ``n1`` with stage-1 statistic ``z1``.

    The conditional power is computed at ``theta`` (default: the observed trend
    ``z1 / sqrt(n1)``). In the promising zone ``cp_min <= CP < cp_target`` the second stage is
    enlarged to reach ``cp_target`` (never shrunk, capped at ``n2_max``). The final test
    rejects when ``w1 Z1 + w2 Z2 >= critical_value`` with the pre-planned weights
    ``w1 = sqrt(n1 / (n1 + n2_planned))``, ``w2 = sqrt(1 - w1^2)`` (Cui, Hung and Wang, 1999),
    so the level is the design's whatever ``n2_new``.
    """
    for name, v in (("n1", n1), ("n2_planned", n2_planned)):
        if not (math.isfinite(v) and v > 0):
            raise InvalidInputError(name, "must be a positive number", "out_of_range")
    if not (math.isfinite(n2_max) and n2_max >= n2_planned):
        raise InvalidInputError("n2_max", "must be at least n2_planned", "out_of_range")
    if not 0.0 < cp_min < cp_target < 1.0:
        raise InvalidInputError(
            "cp_min", "need 0 < cp_min < cp_target < 1", "invalid_promising_zone"
        )
    if not math.isfinite(z1):
        raise InvalidInputError("z1", "must be finite", "out_of_range")
    w1 = math.sqrt(n1 / (n1 + n2_planned))
    w2 = math.sqrt(1.0 - w1 * w1)
    th = z1 / math.sqrt(n1) if theta is None else float(theta)
    cp_planned = chw_conditional_power(z1, n2_planned, th, critical_value, w1, w2)
    if cp_planned >= cp_target:
        zone, n2_new = "favourable", n2_planned
    elif cp_planned < cp_min or th <= 0:
        zone, n2_new = "unfavourable", n2_planned
    else:
        zone = "promising"
        needed = (((critical_value - w1 * z1) / w2 - stats.norm.isf(cp_target)) / th) ** 2
        n2_new = float(min(max(needed, n2_planned), n2_max))
    return PromisingZoneDecision(
        zone=zone,
        theta_hat=float(th),
        conditional_power_planned=cp_planned,
        n2_planned=float(n2_planned),
        n2_new=float(n2_new),
        conditional_power_new=chw_conditional_power(z1, n2_new, th, critical_value, w1, w2),
        w1=w1,
        w2=w2,
    )
