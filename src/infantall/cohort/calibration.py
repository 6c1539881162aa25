"""Calibration of the synthetic outcomes to published results by risk group.

The outcome model (:mod:`infantall.cohort.outcomes`) gives each patient one *first-event
fate* — induction death, induction failure (no CR), relapse, death in CR, second malignancy
or none — with a timing distribution per fate, then death after relapse, after induction
failure or after a second malignancy with given probabilities. Because the fates are
exclusive and censoring is independent, event-free survival at a horizon ``h`` is linear in
the relapse probability ``r`` and overall survival linear in the probability ``q`` of
dying after relapse:

    EFS(h) = 1 − a − b − c · (d·F_D(h) + s·F_S(h) + r·F_R(h)),   c = 1 − a − b
    OS(h)  = 1 − a − b·q_if·G_IF(h) − c · (d·F_D(h) + s·q_s·H_S(h) + r·q·H_R(h))

(a induction death, b induction failure, d death in CR, s second malignancy; F, G, H are
the timing CDFs, H the convolution of the time to relapse with the time from relapse to
death, all averaged over the end-of-induction day). :func:`calibrate` solves these
equations for ``r`` and ``q`` of every group so that the model's expected EFS and OS equal
the published targets (:data:`~infantall.cohort.targets.CALIBRATION_TARGETS`) exactly;
pooled targets (e.g. "KMT2A-r" = MR + HR) are solved with the expected group shares of the
feature model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import integrate, special

from infantall.cohort.features import FeatureModel
from infantall.cohort.risk import GROUPS, expected_group_shares
from infantall.cohort.targets import CALIBRATION_TARGETS, CalibrationTarget, targets_frame

__all__ = [
    "CALIBRATION_TARGETS",
    "DEFAULT_GROUP_RATES",
    "CalibratedModel",
    "CalibrationTarget",
    "GroupRates",
    "Timing",
    "calibrate",
    "targets_frame",
]

_YEAR = 365.25


@dataclass(frozen=True, slots=True)
class GroupRates:
    """Fixed event probabilities of one risk group (the rest is solved by calibration).

    Attributes
    ----------
    induction_death, induction_failure
        P(death before the end of induction), P(alive without CR at the end of induction).
    death_in_cr, second_malignancy
        P(death in first CR), P(second malignancy as first event), over all follow-up.
    death_after_relapse
        P(death after relapse) used only when no OS target covers the group.
    hsct_eligible
        Whether the protocol allocates the group to HSCT in CR1.
    source
        Where the numbers come from.
    """

    induction_death: float
    induction_failure: float
    death_in_cr: float
    second_malignancy: float
    death_after_relapse: float
    hsct_eligible: bool
    source: str


_I06_RATES = (
    "Interfant-06 overall: induction death 3.7%, CR 92.9%, death in remission 7.1% "
    "(domain-facts.md §4.2); KMT2A-germline TRM 3.6%. The split across groups (more in HR, "
    "which is transplanted) is an assumption; second malignancies 'rare' (assumption 0.4%)."
)
_MLL10_RATES = (
    "MLL-10: no early death, 3/90 no CR, death in remission 2.2% (domain-facts.md §4.3); "
    "split across groups is an assumption; second malignancies assumption 0.4%."
)

#: Fixed rates per protocol and group (sources in ``GroupRates.source``).
DEFAULT_GROUP_RATES: dict[str, dict[str, GroupRates]] = {
    "interfant-06": {
        "LR": GroupRates(0.020, 0.015, 0.036, 0.004, 0.35, False, _I06_RATES),
        "MR": GroupRates(0.035, 0.030, 0.065, 0.004, 0.80, False, _I06_RATES),
        "HR": GroupRates(0.060, 0.060, 0.110, 0.004, 0.85, True, _I06_RATES),
    },
    "mll-10": {
        "LR": GroupRates(0.0, 0.020, 0.010, 0.004, 0.35, False, _MLL10_RATES),
        "IR": GroupRates(0.0, 0.020, 0.015, 0.004, 0.60, False, _MLL10_RATES),
        "HR": GroupRates(0.0, 0.045, 0.030, 0.004, 0.60, True, _MLL10_RATES),
    },
}


@dataclass(frozen=True, slots=True)
class Timing:
    """Timing distributions of the outcome model (days; log-normal = (median, sigma)).

    Attributes
    ----------
    end_of_induction
        Inclusive range of the end-of-induction day (Interfant induction ends about day 33;
        assumption ± 3 days).
    relapse
        Time from CR to relapse: median 8 months (Interfant-99, median CR1 → relapse
        8 months, domain-facts.md §4.1); sigma 1.17 puts 90% within 3 years (Interfant-06
        KMT2A-germline: 28/31 relapses within 36 months, §4.2).
    death_in_cr
        Time from CR to death in CR (assumption: mostly in the first year of therapy).
    death_after_relapse
        Time from relapse to death for those who die (assumption; with the calibrated
        probabilities, 3-year OS after relapse is near Interfant-06's 20.9%, §4.2).
    death_after_failure, failure_death_probability
        Time from induction failure to death and its probability (assumption).
    second_malignancy
        Uniform range of time from CR to a second malignancy (assumption).
    death_after_second_malignancy, second_malignancy_death_probability
        Time to and probability of death after a second malignancy (assumption).
    hsct_delay
        Time from CR to HSCT in CR1: about 4.5 months (MLL03 "within 4 months of initial
        induction", Interfant-06 SCT after consolidation; domain-facts.md §1.11, §1.2).
    consolidation_mrd
        Inclusive range of days after CR of the second MRD time point: the start of OCTADAD
        for Interfant-06 (the MR-HSCT decision point, after MARMA; domain-facts.md §1.2) or
        the end of early consolidation for MLL-10 (its prognostic point, §1.4). Assumption.
    """

    end_of_induction: tuple[int, int] = (30, 36)
    relapse: tuple[float, float] = (243.0, 1.17)
    death_in_cr: tuple[float, float] = (180.0, 0.9)
    death_after_relapse: tuple[float, float] = (210.0, 0.9)
    death_after_failure: tuple[float, float] = (180.0, 0.8)
    failure_death_probability: float = 0.75
    second_malignancy: tuple[float, float] = (365.0, 2920.0)
    death_after_second_malignancy: tuple[float, float] = (365.0, 0.8)
    second_malignancy_death_probability: float = 0.5
    hsct_delay: tuple[float, float] = (135.0, 0.35)
    consolidation_mrd: tuple[int, int] = (90, 130)


@dataclass(frozen=True, slots=True)
class CalibratedModel:
    """Per-group probabilities of the outcome model after calibration.

    ``relapse`` and ``death_after_relapse`` are the solved ``r`` and ``q``; ``shares`` the
    expected group shares used for pooled targets.
    """

    protocol: str
    groups: tuple[str, ...]
    rates: Mapping[str, GroupRates]
    relapse: Mapping[str, float]
    death_after_relapse: Mapping[str, float]
    shares: Mapping[str, float]
    timing: Timing
    targets: tuple[CalibrationTarget, ...] = field(default=())

    @property
    def summary(self) -> pd.DataFrame:
        """One row per group: fixed rates, solved probabilities, expected share."""
        rows = []
        for g in self.groups:
            r = self.rates[g]
            rows.append(
                {
                    "protocol": self.protocol,
                    "group": g,
                    "expected_share": self.shares[g],
                    "induction_death": r.induction_death,
                    "induction_failure": r.induction_failure,
                    "death_in_cr": r.death_in_cr,
                    "second_malignancy": r.second_malignancy,
                    "relapse": self.relapse[g],
                    "death_after_relapse": self.death_after_relapse[g],
                    "hsct_eligible": r.hsct_eligible,
                }
            )
        return pd.DataFrame(rows)

    def expected(self, group: str, endpoint: str, horizon_years: float) -> float:
        """Model-expected EFS or OS (fraction) of ``group`` at the horizon."""
        curves = _Curves(self.timing, horizon_years)
        rates = self.rates[group]
        c_efs, d_efs = _efs_line(rates, curves)
        r = self.relapse[group]
        if endpoint == "EFS":
            return c_efs - d_efs * r
        a_os, b_os = _os_line(rates, curves, r, self.timing)
        return a_os - b_os * self.death_after_relapse[group]


def _lognorm_cdf(median_sigma: tuple[float, float], x: np.ndarray) -> np.ndarray:
    median, sigma = median_sigma
    safe = np.maximum(x, 1e-12)
    return np.where(x > 0, special.ndtr(np.log(safe / median) / sigma), 0.0)


def _lognorm_pdf(median_sigma: tuple[float, float], x: np.ndarray) -> np.ndarray:
    median, sigma = median_sigma
    safe = np.maximum(x, 1e-12)
    z = np.log(safe / median) / sigma
    return np.where(x > 0, np.exp(-0.5 * z * z) / (safe * sigma * np.sqrt(2.0 * np.pi)), 0.0)


#: Grid points per convolution integral (trapezoid rule; the densities are smooth, so the
#: error is far below the 0.1-percentage-point rounding of the published targets).
_GRID = 20_001


class _Curves:
    """Timing CDFs at a horizon, averaged over the end-of-induction day (vectorised)."""

    def __init__(self, timing: Timing, horizon_years: float) -> None:
        lo, hi = timing.end_of_induction
        days = np.arange(lo, hi + 1, dtype=float)
        self.x = horizon_years * _YEAR - days  # time since CR (= end of induction)
        self.timing = timing

    def relapse(self) -> float:
        return float(_lognorm_cdf(self.timing.relapse, self.x).mean())

    def death_in_cr(self) -> float:
        return float(_lognorm_cdf(self.timing.death_in_cr, self.x).mean())

    def second_malignancy(self) -> float:
        lo, hi = self.timing.second_malignancy
        return float(np.clip((self.x - lo) / (hi - lo), 0.0, 1.0).mean())

    def death_after_failure(self) -> float:
        return float(_lognorm_cdf(self.timing.death_after_failure, self.x).mean())

    def relapse_then_death(self) -> float:
        """P(T_relapse + T_relapse→death ≤ x), the convolution, by the trapezoid rule."""
        values = []
        for x in self.x:
            u = np.linspace(0.0, x, _GRID)
            y = _lognorm_pdf(self.timing.relapse, u) * _lognorm_cdf(
                self.timing.death_after_relapse, x - u
            )
            values.append(integrate.trapezoid(y, u))
        return float(np.mean(values))

    def second_malignancy_then_death(self) -> float:
        lo, hi = self.timing.second_malignancy
        values = []
        for x in self.x:
            upper = min(hi, x)
            if upper <= lo:
                values.append(0.0)
                continue
            u = np.linspace(lo, upper, _GRID)
            y = _lognorm_cdf(self.timing.death_after_second_malignancy, x - u)
            values.append(integrate.trapezoid(y, u) / (hi - lo))
        return float(np.mean(values))


def _efs_line(rates: GroupRates, curves: _Curves) -> tuple[float, float]:
    """(C, D) with EFS(h) = C − D·r."""
    c_cr = 1.0 - rates.induction_death - rates.induction_failure
    fixed = rates.death_in_cr * curves.death_in_cr() + (
        rates.second_malignancy * curves.second_malignancy()
    )
    return 1.0 - rates.induction_death - rates.induction_failure - c_cr * fixed, (
        c_cr * curves.relapse()
    )


def _os_line(rates: GroupRates, curves: _Curves, r: float, timing: Timing) -> tuple[float, float]:
    """(A, B) with OS(h) = A − B·q for relapse probability ``r``."""
    c_cr = 1.0 - rates.induction_death - rates.induction_failure
    failure_deaths = (
        rates.induction_failure * timing.failure_death_probability * curves.death_after_failure()
    )
    cr_deaths = rates.death_in_cr * curves.death_in_cr() + (
        rates.second_malignancy
        * timing.second_malignancy_death_probability
        * curves.second_malignancy_then_death()
    )
    a = 1.0 - rates.induction_death - failure_deaths - c_cr * cr_deaths
    return a, c_cr * r * curves.relapse_then_death()


def _solve_pooled(
    lines: Mapping[str, tuple[float, float]],
    solved: dict[str, float],
    target: CalibrationTarget,
    shares: Mapping[str, float],
) -> None:
    """Solve value = Σ w_g (C_g − D_g x_g) for one common x of the unsolved groups."""
    total = sum(shares[g] for g in target.groups)
    known = 0.0
    slope = 0.0
    constant = 0.0
    for g in target.groups:
        w = shares[g] / total
        c, d = lines[g]
        if g in solved:
            known += w * (c - d * solved[g])
        else:
            constant += w * c
            slope += w * d
    x = (constant + known - target.estimate_pct / 100.0) / slope
    for g in target.groups:
        solved.setdefault(g, x)


def _solve(
    lines: Mapping[str, tuple[float, float]],
    targets: list[CalibrationTarget],
    shares: Mapping[str, float],
) -> dict[str, float]:
    """Per-group solutions of the linear target equations, own targets first."""
    solved: dict[str, float] = {}
    for t in sorted(targets, key=lambda t: len(t.groups)):
        if any(g not in solved for g in t.groups):
            _solve_pooled(lines, solved, t, shares)
    return solved


def _check_range(name: str, values: Mapping[str, float], upper: Mapping[str, float]) -> None:
    for g, v in values.items():
        if not 0.0 <= v <= upper[g]:
            raise ValueError(
                f"calibration infeasible: {name} probability {v:.3f} for group {g} "
                f"is outside [0, {upper[g]:.3f}]"
            )


def calibrate(
    protocol: str = "interfant-06",
    *,
    features: FeatureModel | None = None,
    timing: Timing | None = None,
    rates: Mapping[str, GroupRates] | None = None,
) -> CalibratedModel:
    """Solve the relapse and post-relapse death probabilities of every group.

    Each group's EFS target (or a pooled target covering groups without their own) fixes
    its relapse probability; OS targets then fix the probability of death after relapse
    (a common value for the unsolved groups of a pooled target); groups no OS target
    covers keep ``GroupRates.death_after_relapse``. Targets are those of
    :data:`CALIBRATION_TARGETS` for the protocol that are not marked "check only".

    Raises
    ------
    ValueError
        For an unknown protocol, or when a target cannot be met with probabilities in
        [0, 1] under the fixed rates.
    """
    if protocol not in GROUPS:
        raise ValueError(f"no calibration for protocol {protocol!r}; choose {sorted(GROUPS)}")
    features = features or FeatureModel()
    timing = timing or Timing()
    group_rates = dict(rates or DEFAULT_GROUP_RATES[protocol])
    groups = GROUPS[protocol]
    shares = expected_group_shares(features, protocol)
    used = [
        t
        for t in CALIBRATION_TARGETS
        if t.protocol == protocol and not t.note.startswith("check only")
    ]
    relapse: dict[str, float] = {}
    for endpoint_targets in _by_horizon([t for t in used if t.endpoint == "EFS"]):
        curves = _Curves(timing, endpoint_targets[0].horizon_years)
        lines = {g: _efs_line(group_rates[g], curves) for g in groups}
        relapse.update(_solve(lines, endpoint_targets, shares))
    missing = [g for g in groups if g not in relapse]
    if missing:
        raise ValueError(f"no EFS target covers group(s) {missing} of {protocol}")
    _check_range("relapse", relapse, {g: _max_relapse(group_rates[g]) for g in groups})
    death: dict[str, float] = {}
    for endpoint_targets in _by_horizon([t for t in used if t.endpoint == "OS"]):
        curves = _Curves(timing, endpoint_targets[0].horizon_years)
        lines = {g: _os_line(group_rates[g], curves, relapse[g], timing) for g in groups}
        death.update(_solve(lines, endpoint_targets, shares))
    for g in groups:
        death.setdefault(g, group_rates[g].death_after_relapse)
    _check_range("death-after-relapse", death, dict.fromkeys(groups, 1.0))
    return CalibratedModel(
        protocol=protocol,
        groups=groups,
        rates=group_rates,
        relapse=relapse,
        death_after_relapse=death,
        shares=shares,
        timing=timing,
        targets=tuple(t for t in CALIBRATION_TARGETS if t.protocol == protocol),
    )


def _max_relapse(rates: GroupRates) -> float:
    return 1.0 - rates.death_in_cr - rates.second_malignancy


def _by_horizon(targets: list[CalibrationTarget]) -> list[list[CalibrationTarget]]:
    horizons = sorted({t.horizon_years for t in targets})
    return [[t for t in targets if t.horizon_years == h] for h in horizons]


def cr_event_cdfs(model: CalibratedModel, days: np.ndarray) -> np.ndarray:
    """Per group, P(first event in CR of each type by ``days`` after CR), shape (G, 3, D).

    Types: relapse, death in CR, second malignancy (the exclusive fates of
    :mod:`infantall.cohort.outcomes`); the day of each is the rounded draw of that module
    (at least day 1), so these are the exact distributions of the integer days.
    """
    t = model.timing
    d = np.asarray(days, dtype=float)
    upper = np.where(d >= 1, d + 0.5, 0.0)
    lo, hi = t.second_malignancy
    shapes = np.stack(
        [
            _lognorm_cdf(t.relapse, upper),
            _lognorm_cdf(t.death_in_cr, upper),
            np.clip((d + 0.5 - lo) / (hi - lo), 0.0, 1.0),
        ]
    )
    probs = np.asarray(
        [
            [model.relapse[g], model.rates[g].death_in_cr, model.rates[g].second_malignancy]
            for g in model.groups
        ]
    )
    out: np.ndarray = probs[:, :, None] * shapes[None, :, :]
    return out
