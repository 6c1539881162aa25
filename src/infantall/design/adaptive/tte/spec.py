"""The ``tte:`` block of a trial specification: the piecewise-exponential engine's settings.

A trial that has a ``tte:`` block is simulated by :mod:`infantall.design.adaptive.tte.engine`
instead of the one-rate-per-arm path. The block declares the analysis intervals, the Gamma
priors per interval, the decision quantity (survival at a horizon), an optional early
predictor (MRD negativity at a day after enrolment) with its link model, predictive
probabilities of success, and optional strata with hierarchical borrowing. Each arm's scenario
extras (cure fraction, MRD link) live in the arm's own ``tte:`` entry (:class:`TteArm`), so
that the null scenario (every arm as control) copies them with the control arm.

Every error names its field and reason (pydantic messages turned into ``InvalidInputError`` by
:func:`infantall.design.adaptive.config.spec_from_dict`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

__all__ = [
    "CureAnalysis",
    "GammaComponent",
    "HistoricalPrior",
    "MixturePrior",
    "MrdLink",
    "Predictive",
    "Predictor",
    "Strata",
    "TteArm",
    "TteSpec",
    "arm_hazards",
    "check_arms",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _positive_list(values: list[float], name: str) -> None:
    if any(not v > 0 for v in values):
        raise ValueError(f"{name}: every value must be positive")


class MrdLink(_Model):
    """Scenario of an arm with the MRD predictor: P(MRD negative) and EFS hazards by status.

    ``hazards_negative`` and ``hazards_positive`` give one hazard (per year) per analysis
    interval; before the predictor's day the two must be equal (MRD is measured at that day,
    so it cannot change the hazard before it).
    """

    p_negative: float = Field(ge=0.0, le=1.0)
    hazards_negative: list[float]
    hazards_positive: list[float]

    @model_validator(mode="after")
    def _check(self) -> MrdLink:
        if len(self.hazards_negative) != len(self.hazards_positive):
            raise ValueError("hazards_positive: needs as many hazards as hazards_negative")
        _positive_list(self.hazards_negative, "hazards_negative")
        _positive_list(self.hazards_positive, "hazards_positive")
        return self


class TteArm(_Model):
    """Scenario extras of one arm: a cure fraction (mixture cure) and an MRD link.

    Cured patients (probability ``cure_fraction``) never have an event; the others follow the
    arm's piecewise-exponential hazards (``piecewise``/``hazard`` of the arm, or the MRD link).
    """

    cure_fraction: float = 0.0
    mrd: MrdLink | None = None

    @model_validator(mode="after")
    def _check(self) -> TteArm:
        if not 0.0 <= self.cure_fraction < 1.0:
            raise ValueError("cure_fraction: must be in [0, 1) (1 would mean no events at all)")
        return self


class HistoricalPrior(_Model):
    """A Gamma prior per interval for the control arm from historical data.

    ``hazards`` are the historical hazards per interval and ``events`` the effective sample
    size of each interval in events: the prior is Gamma(shape = events, rate = events /
    hazard), whose mean is the historical hazard and whose weight is that many events.
    """

    hazards: list[float]
    events: list[float]

    @model_validator(mode="after")
    def _check(self) -> HistoricalPrior:
        if len(self.hazards) != len(self.events):
            raise ValueError("events: needs one effective sample size per hazard")
        _positive_list(self.hazards, "hazards")
        _positive_list(self.events, "events")
        return self


class GammaComponent(_Model):
    """One component ``weight * Gamma(shape, rate)`` of an interval's mixture prior."""

    weight: float = Field(gt=0.0, le=1.0)
    shape: float = Field(gt=0.0)
    rate: float = Field(gt=0.0)


def _read_prior_file(path: str) -> tuple[list[Any], Any]:
    """Per interval the ``robust`` (else ``mixture``) components of a ``design prior
    --endpoint-type tte --format json`` file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"file: cannot read {path} as JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("endpoint_type") != "tte":
        raise ValueError("file: not a time-to-event prior (endpoint_type: tte)")
    rows = data.get("intervals") or []
    comps = [r.get("robust", r.get("mixture")) for r in rows if isinstance(r, dict)]
    return comps, data.get("cuts")


class MixturePrior(_Model):
    """A Gamma-mixture prior per interval for the control arm (a robust MAP prior).

    ``intervals``: one list of ``{weight, shape, rate}`` per analysis interval, as
    ``infantall design prior --endpoint-type tte --format json`` prints them (``robust``, or
    ``mixture`` for the non-robust MAP prior); or ``file``: that JSON file (a path absolute or
    relative to the working directory), whose ``robust`` lists are used when present. The
    engine updates each component conjugately (:mod:`.mixture`).
    """

    file: str | None = None
    cuts: list[float] | None = None
    intervals: list[list[GammaComponent]]

    @model_validator(mode="before")
    @classmethod
    def _load(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("file") is not None and "intervals" not in data:
            comps, cuts = _read_prior_file(str(data["file"]))
            return {**data, "intervals": comps, "cuts": cuts}
        return data

    @model_validator(mode="after")
    def _check(self) -> MixturePrior:
        if not self.intervals or any(not comps for comps in self.intervals):
            raise ValueError("intervals: one non-empty mixture per interval")
        for j, comps in enumerate(self.intervals):
            if abs(sum(c.weight for c in comps) - 1.0) > 1e-6:
                raise ValueError(f"intervals[{j}]: weights must add up to 1")
        return self

    @property
    def components(self) -> list[list[tuple[float, float, float]]]:
        """``(weight, shape, rate)`` per component and interval."""
        return [[(c.weight, c.shape, c.rate) for c in comps] for comps in self.intervals]


def _prior_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "gamma" if "hazards" in value or "events" in value else "mixture"
    return "gamma" if isinstance(value, HistoricalPrior) else "mixture"


#: ``{hazards, events}`` (one Gamma per interval) or a Gamma mixture per interval.
ControlPrior = Annotated[
    Annotated[HistoricalPrior, Tag("gamma")] | Annotated[MixturePrior, Tag("mixture")],
    Discriminator(_prior_kind),
]


class Predictor(_Model):
    """An early binary predictor (MRD negativity) measured ``day_years`` after enrolment.

    At an interim, patients without full follow-up get their EFS imputed ``imputations``
    times from a link model fitted within the trial (piecewise exponential per arm and MRD
    status, conjugate Gamma; P(MRD negative) per arm, conjugate Beta(1, 1)).
    """

    day_years: float = Field(gt=0.0)
    imputations: int = Field(default=8, ge=1, le=200)
    impute: bool = True
    link: Literal["pooled", "per-arm"] = "pooled"


class Predictive(_Model):
    """Predictive probability of success at the final analysis.

    ``draws`` completions of the trial (remaining patients and follow-up) are simulated from
    the posterior predictive; success for an arm is P(better than control) above
    ``success`` at the final analysis. An arm whose predictive probability falls below
    ``futility`` is dropped.
    """

    draws: int = Field(default=16, ge=1, le=1000)
    success: float = Field(default=0.975, gt=0.0, lt=1.0)
    futility: float = Field(default=0.05, ge=0.0, lt=1.0)


class Strata(_Model):
    """Strata (e.g. age < 6 months and >= 6 months) with hierarchical borrowing.

    ``proportions`` of the patients fall in each stratum; in the scenario every hazard of a
    stratum is multiplied by its ``hazard_multipliers`` entry. In the analysis each stratum's
    log hazard ratio (of cumulative hazards at the horizon) versus control has a normal prior
    around an arm-level mean with standard deviation ``log_hr_sd``; the decision uses that
    mean.
    """

    names: list[str]
    proportions: list[float]
    hazard_multipliers: list[float]
    log_hr_sd: float = Field(default=0.5, gt=0.0)
    mean_prior_sd: float = Field(default=10.0, gt=0.0)

    @model_validator(mode="after")
    def _check(self) -> Strata:
        k = len(self.names)
        if k < 2 or len(set(self.names)) != k:
            raise ValueError("names: at least two distinct strata")
        if len(self.proportions) != k or len(self.hazard_multipliers) != k:
            raise ValueError("proportions: one proportion and one hazard multiplier per stratum")
        _positive_list(self.proportions, "proportions")
        _positive_list(self.hazard_multipliers, "hazard_multipliers")
        if abs(sum(self.proportions) - 1.0) > 1e-9:
            raise ValueError("proportions: must add up to 1")
        return self


class CureAnalysis(_Model):
    """Analyse each arm with a mixture-cure model (Gibbs sampler, :mod:`.cure`).

    ``beta_a, beta_b``: Beta prior of the cure fraction; ``iterations`` kept draws after
    ``burn`` per arm and analysis. Decisions then use the draws of S(horizon).
    """

    beta_a: float = Field(default=1.0, gt=0.0)
    beta_b: float = Field(default=1.0, gt=0.0)
    iterations: int = Field(default=200, ge=20, le=100_000)
    burn: int = Field(default=50, ge=0, le=100_000)


class TteSpec(_Model):
    """Settings of the piecewise-exponential adaptive engine (the ``tte:`` block)."""

    intervals: list[float]
    horizon_years: float = Field(gt=0.0)
    delta: float = Field(default=0.0, ge=0.0, lt=1.0)
    prior_shape: float = Field(default=0.1, gt=0.0)
    prior_rate: float = Field(default=0.1, gt=0.0)
    control_prior: ControlPrior | None = None
    predictor: Predictor | None = None
    predictive: Predictive | None = None
    strata: Strata | None = None
    cure_analysis: CureAnalysis | None = None
    best_draws: int = Field(default=128, ge=16, le=100_000)

    @model_validator(mode="after")
    def _check(self) -> TteSpec:
        c = self.intervals
        if not c or c[0] != 0:
            raise ValueError("intervals: the first interval must start at 0")
        if any(b <= a for a, b in itertools.pairwise(c)):
            raise ValueError("intervals: interval starts must be strictly increasing")
        self._check_control_prior()
        if self.predictor is not None and self.predictor.day_years not in c:
            raise ValueError(
                "predictor.day_years: must be one of the interval starts (the link model "
                "changes hazards from that day on)"
            )
        if self.cure_analysis is not None and (
            self.strata is not None
            or self.predictive is not None
            or (self.predictor is not None and self.predictor.impute)
        ):
            raise ValueError(
                "cure_analysis: not available with strata, predictive probabilities or an "
                "imputing predictor (each would need a sampler per completion)"
            )
        if self.delta > 0 and self.strata is not None:
            raise ValueError("delta: a survival difference cannot be used with strata")
        return self

    def _check_control_prior(self) -> None:
        prior, n = self.control_prior, len(self.intervals)
        if isinstance(prior, HistoricalPrior) and len(prior.hazards) != n:
            raise ValueError("control_prior.hazards: needs one hazard per interval")
        if not isinstance(prior, MixturePrior):
            return
        if len(prior.intervals) != n:
            raise ValueError(
                f"control_prior.intervals: needs one mixture per interval ({n}), "
                f"got {len(prior.intervals)}"
            )
        if prior.cuts is not None and [float(v) for v in prior.cuts] != list(self.intervals):
            raise ValueError(
                f"control_prior.cuts: the prior's intervals {prior.cuts} differ from "
                f"tte.intervals {list(self.intervals)}"
            )
        if self.strata is not None or self.cure_analysis is not None:
            raise ValueError(
                "control_prior: a Gamma-mixture prior is not available with strata or "
                "cure_analysis (both pool or sample plain Gamma posteriors)"
            )

    @property
    def n_intervals(self) -> int:
        """Number of analysis intervals."""
        return len(self.intervals)

    @property
    def day_index(self) -> int:
        """Index of the first interval from the predictor's day on (0 without predictor)."""
        if self.predictor is None:
            return 0  # pragma: no cover - only called with a predictor
        return self.intervals.index(self.predictor.day_years)


def check_arms(tte: TteSpec | None, arms: Sequence[Any], outcome: str) -> None:
    """Cross-checks between the ``tte:`` block and the arms (called by ``TrialSpec``).

    Nothing to check without a block. Raises ``ValueError("field: reason")``, turned into
    ``InvalidInputError`` at the boundary.
    """
    if tte is None:
        return
    if outcome != "time-to-event":
        raise ValueError("tte: needs outcome: time-to-event")
    n = tte.n_intervals
    for i, arm in enumerate(arms):
        starts, hazards = arm.hazards()
        if len(hazards) != 1 and list(starts) != list(tte.intervals):
            raise ValueError(
                f"arms[{i}].piecewise.starts: must equal tte.intervals (or give one hazard)"
            )
        extra = arm.tte
        mrd = None if extra is None else extra.mrd
        if tte.predictor is not None and mrd is None:
            raise ValueError(
                f"arms[{i}].tte.mrd: the predictor needs a link model for every arm "
                "(p_negative, hazards_negative, hazards_positive)"
            )
        if mrd is None:
            continue
        if tte.predictor is None:
            raise ValueError(f"arms[{i}].tte.mrd: an MRD link needs tte.predictor")
        if len(mrd.hazards_negative) != n:
            raise ValueError(f"arms[{i}].tte.mrd.hazards_negative: needs one hazard per interval")
        day = tte.day_index
        if mrd.hazards_negative[:day] != mrd.hazards_positive[:day]:
            raise ValueError(
                f"arms[{i}].tte.mrd.hazards_positive: must equal hazards_negative before "
                "the predictor's day"
            )


def arm_hazards(tte: TteSpec, arm: Any) -> tuple[list[float], list[float], float]:
    """Scenario hazards per interval (MRD negative, MRD positive) and P(MRD negative).

    Without an MRD link both hazard lists are the arm's own hazards and P = 1.
    """
    extra = arm.tte
    if extra is not None and extra.mrd is not None:
        m = extra.mrd
        return list(m.hazards_negative), list(m.hazards_positive), m.p_negative
    _starts, hazards = arm.hazards()
    h = list(hazards) * tte.n_intervals if len(hazards) == 1 else list(hazards)
    return h, h, 1.0
