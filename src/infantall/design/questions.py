"""Single-arm designs against a historical control: one function per question.

:func:`historical_control_designs` answers "how many infants does a single-arm trial need to
show an improvement over a historical trial's landmark rate?": the historical rate from the
evidence base (:func:`~infantall.design.accrual.historical_rate`, with its provenance), then
for each target rate the exact binomial design on the landmark proportion and the one-sample
log-rank design (:mod:`infantall.design.historical`). :func:`single_arm_designs` does the
same from a given rate ``p0``. The CLI (``infantall design historical``) and the report's
design section both format the one result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from infantall.design.accrual import Conversion, HistoricalRate, historical_rate
from infantall.design.historical import (
    BinomialDesign,
    OneSampleLogrankDesign,
    exact_binomial_design,
    one_sample_logrank_design,
)
from infantall.design.survival import Accrual, PiecewiseExponential
from infantall.errors import InvalidInputError

__all__ = [
    "HistoricalControlDesigns",
    "SingleArmDesign",
    "historical_control_designs",
    "single_arm_designs",
]


def _json_safe(value: Any) -> Any:
    """NaN and infinities become None; mappings and sequences are converted recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class SingleArmDesign:
    """The two single-arm designs for one target landmark rate.

    ``hazard_ratio`` is ``log(target) / log(p0)``: the proportional-hazards effect that
    turns the historical landmark rate into the target.
    """

    target: float
    hazard_ratio: float
    binomial: BinomialDesign
    logrank: OneSampleLogrankDesign
    accrual_per_year: float
    horizon_years: float

    def records(self) -> list[dict[str, Any]]:
        """One mapping per design: patients, critical value, events, size, power, years."""
        binom, lr = self.binomial, self.logrank
        return [
            {
                "design": "exact binomial (landmark)",
                "patients": binom.n,
                "reject_if_at_least": binom.r,
                "events": None,
                "alpha_actual": binom.alpha_actual,
                "power_actual": binom.power_actual,
                "accrual_years": binom.n / self.accrual_per_year,
                "study_years": binom.n / self.accrual_per_year + self.horizon_years,
            },
            {
                "design": "one-sample log-rank",
                "patients": lr.patients,
                "reject_if_at_least": None,
                "events": lr.expected_events,
                "alpha_actual": lr.alpha,
                "power_actual": lr.power,
                "accrual_years": lr.accrual_duration,
                "study_years": lr.study_duration,
            },
        ]


@dataclass(frozen=True, slots=True)
class HistoricalControlDesigns:
    """Single-arm designs against a historical rate, one :class:`SingleArmDesign` per target.

    Attributes
    ----------
    p0
        The historical landmark rate at ``horizon_years`` (a fraction).
    historical
        Where ``p0`` came from (trial, population, reported value, conversion, source and
        quote), or None when ``p0`` was given.
    designs
        One entry per target, in the order given.
    """

    p0: float
    horizon_years: float
    accrual_per_year: float
    follow_up_years: float
    alpha: float
    power: float
    designs: tuple[SingleArmDesign, ...]
    historical: HistoricalRate | None = None

    @property
    def bound_note(self) -> str | None:
        """Why the historical rate is a lower bound, when a later horizon's value was used."""
        hist = self.historical
        if hist is None or hist.conversion != "bound":
            return None
        return (
            f"{self.horizon_years:g}-year value not reported: the "
            f"{hist.reported_horizon_years:g}-year value is used, a lower bound (survival "
            "cannot rise); --conversion constant-hazard gives the exponential alternative"
        )

    def records(self) -> list[dict[str, Any]]:
        """One mapping per target and design (``target`` first)."""
        return [
            {"target": d.target, "hazard_ratio": d.hazard_ratio, **rec}
            for d in self.designs
            for rec in d.records()
        ]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per target and design."""
        return pd.DataFrame(self.records())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the inputs, the historical rate and every design (NaN as None)."""
        out: dict[str, Any] = _json_safe(
            {
                "p0": self.p0,
                "horizon_years": self.horizon_years,
                "accrual_per_year": self.accrual_per_year,
                "follow_up_years": self.follow_up_years,
                "alpha": self.alpha,
                "power": self.power,
                "historical": None if self.historical is None else asdict(self.historical),
                "note": self.bound_note,
                "designs": self.records(),
            }
        )
        return out


def single_arm_designs(
    p0: float,
    targets: Sequence[float],
    *,
    horizon_years: float,
    accrual_per_year: float,
    follow_up_years: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    historical: HistoricalRate | None = None,
) -> HistoricalControlDesigns:
    """Exact binomial and one-sample log-rank designs of each target against ``p0``.

    The log-rank design takes the historical curve as exponential through
    ``(horizon_years, p0)`` and the target as ``S1 = S0 ** HR``; patients accrue at
    ``accrual_per_year`` and are followed ``follow_up_years`` (default: the horizon) after
    accrual ends. One-sided ``alpha``.

    Raises
    ------
    InvalidInputError
        A target not above ``p0`` (``no_effect``), rates or levels out of range.
    """
    if not targets:
        raise InvalidInputError("target", "give at least one target rate", "missing")
    if not (math.isfinite(accrual_per_year) and accrual_per_year > 0):
        raise InvalidInputError("accrual", "must be positive patients per year", "out_of_range")
    follow_up = horizon_years if follow_up_years is None else follow_up_years
    designs = []
    for target in targets:
        binom = exact_binomial_design(p0, target, alpha=alpha, power=power)
        null = PiecewiseExponential.from_landmark(p0, horizon_years)
        hr = math.log(target) / math.log(p0)
        lr = one_sample_logrank_design(
            null, hr, Accrual.per_year(accrual_per_year), follow_up, alpha=alpha, power=power
        )
        designs.append(
            SingleArmDesign(
                target=float(target),
                hazard_ratio=hr,
                binomial=binom,
                logrank=lr,
                accrual_per_year=accrual_per_year,
                horizon_years=horizon_years,
            )
        )
    return HistoricalControlDesigns(
        p0=p0,
        horizon_years=horizon_years,
        accrual_per_year=accrual_per_year,
        follow_up_years=follow_up,
        alpha=alpha,
        power=power,
        designs=tuple(designs),
        historical=historical,
    )


def historical_control_designs(
    frame: pd.DataFrame,
    trial_id: str,
    targets: Sequence[float],
    *,
    population: str = "kmt2a-r",
    endpoint: str = "efs",
    horizon_years: float = 2.0,
    conversion: Conversion = "bound",
    accrual_per_year: float | None = None,
    follow_up_years: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> HistoricalControlDesigns:
    """Single-arm designs against a historical trial of the evidence base.

    ``p0`` is :func:`~infantall.design.accrual.historical_rate` of ``trial_id`` (named in
    the result, with the conversion used); accrual defaults to that trial's patients a year
    (N over accrual years). Then as :func:`single_arm_designs`.

    Raises
    ------
    InvalidInputError
        Unknown trial, population, endpoint or horizon (from ``historical_rate``); an
        unknown ``conversion`` (``unknown``); no accrual given and none derivable
        (``missing``); and the errors of :func:`single_arm_designs`.
    """
    if conversion not in ("bound", "constant-hazard"):
        raise InvalidInputError("--conversion", "must be bound or constant-hazard", "unknown")
    hist = historical_rate(
        frame, trial_id, population, endpoint, horizon_years, conversion=conversion
    )
    per_year = accrual_per_year if accrual_per_year is not None else hist.per_year
    if per_year is None:
        raise InvalidInputError(
            "--accrual",
            f"{hist.study} reports no accrual years: give a rate (e.g. 40/y)",
            "missing",
        )
    return single_arm_designs(
        hist.rate,
        targets,
        horizon_years=horizon_years,
        accrual_per_year=per_year,
        follow_up_years=follow_up_years,
        alpha=alpha,
        power=power,
        historical=hist,
    )
