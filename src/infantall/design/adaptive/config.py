"""The specification of an adaptive multi-arm trial, validated once at the boundary.

A YAML file (see ``examples/design/*.yaml``) is read into :class:`TrialSpec`; every error
names its field (``arms[2].p``, ``randomisation.cap``) and says what is allowed.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from infantall.design.adaptive.tte.spec import TteArm, TteSpec, check_arms
from infantall.errors import InvalidInputError

__all__ = [
    "Analyses",
    "ArmSpec",
    "BetaComponent",
    "Decisions",
    "Equivalence",
    "PosteriorSpec",
    "Prior",
    "Randomisation",
    "TrialSpec",
    "load_spec",
    "spec_from_dict",
]

_Prob = Field(ge=0.0, le=1.0)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArmSpec(_Model):
    """One arm and its true outcome under the simulated scenario.

    Binary outcome: ``p`` is the probability of success (e.g. event-free at 2 years; higher
    is better). Time to event: ``hazard`` (per year), ``median_years``, or
    ``survival: {horizon_years, probability}`` for an exponential curve, or
    ``piecewise: {starts, hazards}`` (lower hazard is better).
    """

    name: str = Field(min_length=1)
    control: bool = False
    p: float | None = Field(default=None, ge=0.0, le=1.0)
    hazard: float | None = Field(default=None, gt=0.0)
    median_years: float | None = Field(default=None, gt=0.0)
    survival: dict[str, float] | None = None
    piecewise: dict[str, list[float]] | None = None
    tte: TteArm | None = None

    def hazards(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Piece starts and hazards (years) of a time-to-event arm."""
        import math

        if self.piecewise is not None:
            return tuple(self.piecewise["starts"]), tuple(self.piecewise["hazards"])
        if self.hazard is not None:
            return (0.0,), (self.hazard,)
        if self.median_years is not None:
            return (0.0,), (math.log(2.0) / self.median_years,)
        if self.survival is not None:
            h = -math.log(self.survival["probability"]) / self.survival["horizon_years"]
            return (0.0,), (h,)
        raise ValueError("no time-to-event parameter")

    @model_validator(mode="after")
    def _one_outcome(self) -> ArmSpec:
        tte = [self.hazard, self.median_years, self.survival, self.piecewise]
        if sum(v is not None for v in tte) > 1:
            raise ValueError("give only one of hazard, median_years, survival, piecewise")
        if self.survival is not None:
            keys = set(self.survival)
            if keys != {"horizon_years", "probability"}:
                raise ValueError("survival needs exactly horizon_years and probability")
            if not 0.0 < self.survival["probability"] < 1.0:
                raise ValueError("survival.probability must be strictly between 0 and 1")
            if self.survival["horizon_years"] <= 0:
                raise ValueError("survival.horizon_years must be positive")
        if self.piecewise is not None:
            starts = self.piecewise.get("starts", [])
            hazards = self.piecewise.get("hazards", [])
            if set(self.piecewise) != {"starts", "hazards"} or len(starts) != len(hazards):
                raise ValueError("piecewise needs starts and hazards of equal length")
            if not starts or starts[0] != 0 or any(b <= a for a, b in itertools.pairwise(starts)):
                raise ValueError("piecewise.starts must begin at 0 and increase")
            if any(h <= 0 for h in hazards):
                raise ValueError("piecewise.hazards must be positive")
        return self


class BetaComponent(_Model):
    """One component ``weight x Beta(a, b)`` of a mixture prior."""

    weight: float = Field(gt=0.0, le=1.0)
    a: float = Field(gt=0.0)
    b: float = Field(gt=0.0)


class Prior(_Model):
    """Conjugate priors: Beta(a, b) for a proportion, Gamma(shape, rate) for a hazard.

    ``control_mixture`` (binary outcome only) replaces the control arm's Beta(a, b) by a
    mixture of Betas: the ``mixture`` or ``robust`` list that ``infantall design prior
    --format json`` prints (``[{weight, a, b}, ...]``), e.g. a robust MAP prior. The other
    arms keep Beta(beta_a, beta_b).
    """

    beta_a: float = Field(default=1.0, gt=0.0)
    beta_b: float = Field(default=1.0, gt=0.0)
    gamma_shape: float = Field(default=1.0, gt=0.0)
    gamma_rate: float = Field(default=1.0, gt=0.0)
    control_mixture: list[BetaComponent] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> Prior:
        if self.control_mixture is not None:
            total = sum(c.weight for c in self.control_mixture)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"control_mixture weights must sum to 1, they sum to {total:g}")
        return self


class PosteriorSpec(_Model):
    """How posterior probabilities are computed.

    ``quadrature`` (default) computes P(better than control) in closed form and P(best) by
    quadrature with exact CDFs, in float64 (within 1e-9 of scipy ``quad``); ``grid`` is the
    earlier float32 grid quadrature on ``grid`` points (accurate to about 5e-5, kept as the
    benchmark's as-shipped baseline); ``monte-carlo`` draws ``draws`` samples per arm, as
    adaptr does.
    """

    method: Literal["quadrature", "grid", "monte-carlo"] = "quadrature"
    draws: int = Field(default=2000, ge=100, le=100_000)
    grid: int = Field(default=128, ge=32, le=4096)


class Randomisation(_Model):
    """Allocation: response-adaptive (``adaptive: true``) or fixed equal among active arms.

    Adaptive weights are ``P(best)^softening`` among active arms (Thall and Wathen 2007).
    ``control_floor`` is the least share of the control arm; ``cap`` the largest share of any
    experimental arm. Shares above the cap go to the other arms, to control last.
    """

    adaptive: bool = True
    softening: float = Field(default=0.5, ge=0.0, le=1.0)
    control_floor: float = Field(default=0.0, ge=0.0, lt=1.0)
    cap: float = Field(default=1.0, gt=0.0, le=1.0)


class Equivalence(_Model):
    """Stop for practical equivalence when every active experimental arm is within ``margin``
    of control with posterior probability above ``probability``.

    ``margin`` is an absolute difference in proportions (binary) or a hazard ratio above 1
    (time to event: ``1/margin < HR < margin``).
    """

    margin: float = Field(gt=0.0)
    probability: float = Field(gt=0.0, le=1.0)


class Decisions(_Model):
    """Decision thresholds on posterior probabilities versus control.

    Superiority: stop the trial when an experimental arm is better than control with
    probability above ``superiority``. Futility: drop an experimental arm whose probability
    of being better than control is below ``futility``.
    """

    superiority: float = Field(default=0.99, gt=0.0, le=1.0)
    futility: float | None = Field(default=0.05, ge=0.0, lt=1.0)
    equivalence: Equivalence | None = None


class Analyses(_Model):
    """When the analyses happen.

    ``patients``: numbers of patients with outcome data at each analysis (binary), or numbers
    recruited (time to event). ``years``: calendar times from the first patient (time to event
    only). The last analysis is the final one.
    """

    patients: list[int] | None = None
    years: list[float] | None = None
    final_follow_up_years: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _one_kind(self) -> Analyses:
        if (self.patients is None) == (self.years is None):
            raise ValueError("give either patients or years")
        values: list[float] = list(self.patients or self.years or [])
        if not values:
            raise ValueError("needs at least one analysis")
        if values[0] <= 0 or any(b <= a for a, b in itertools.pairwise(values)):
            raise ValueError("analyses must be positive and strictly increasing")
        return self


class TrialSpec(_Model):
    """An adaptive multi-arm trial: arms, analyses, allocation, decisions, priors."""

    name: str = "adaptive trial"
    outcome: Literal["binary", "time-to-event"] = "binary"
    arms: list[ArmSpec]
    analyses: Analyses
    max_patients: int | None = Field(default=None, gt=0)
    accrual_per_year: float | None = Field(default=None, gt=0.0)
    outcome_lag_years: float = Field(default=0.0, ge=0.0)
    randomisation: Randomisation = Randomisation()
    decisions: Decisions = Decisions()
    prior: Prior = Prior()
    posterior: PosteriorSpec = PosteriorSpec()
    tte: TteSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TrialSpec:
        self._check_arms()
        check_arms(self.tte, self.arms, self.outcome)
        self._check_allocation()
        eq = self.decisions.equivalence
        if eq is not None and self.outcome == "binary" and eq.margin >= 1:
            raise ValueError("decisions.equivalence.margin: a difference of proportions, below 1")
        if eq is not None and self.outcome == "time-to-event" and eq.margin <= 1:
            raise ValueError("decisions.equivalence.margin: a hazard ratio above 1 (e.g. 1.15)")
        self._check_prior()
        if self.outcome == "binary":
            if self.analyses.patients is None:
                raise ValueError("analyses: a binary outcome needs analyses.patients")
            if self.max_patients is not None and self.max_patients != self.analyses.patients[-1]:
                raise ValueError("max_patients must equal the last analysis (binary outcome)")
        else:
            if self.accrual_per_year is None:
                raise ValueError("accrual_per_year: needed for a time-to-event outcome")
            if self.analyses.patients is not None and self.max_patients is None:
                object.__setattr__(self, "max_patients", self.analyses.patients[-1])
            if self.max_patients is None:
                raise ValueError("max_patients: needed with analyses in years")
            if (
                self.analyses.patients is not None
                and self.analyses.patients[-1] > self.max_patients
            ):
                raise ValueError("analyses.patients: cannot exceed max_patients")
        return self

    def _check_prior(self) -> None:
        if self.outcome != "binary" and self.prior.control_mixture is not None:
            raise ValueError("prior.control_mixture: a Beta mixture is for a binary outcome")

    def _check_arms(self) -> None:
        if len(self.arms) < 2:
            raise ValueError("arms: a multi-arm trial needs at least 2 arms")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError("arms: names must be unique")
        if sum(a.control for a in self.arms) != 1:
            raise ValueError("arms: exactly one arm must have control: true")
        for i, arm in enumerate(self.arms):
            if self.outcome == "binary" and arm.p is None:
                raise ValueError(f"arms[{i}].p: a binary outcome needs p in [0, 1]")
            if self.outcome == "time-to-event":
                if arm.p is not None:
                    raise ValueError(f"arms[{i}].p: use hazard/median/survival for time to event")
                if (arm.hazard, arm.median_years, arm.survival, arm.piecewise) == (None,) * 4:
                    raise ValueError(
                        f"arms[{i}]: time to event needs hazard, median_years, survival "
                        "or piecewise"
                    )

    def _check_allocation(self) -> None:
        r = self.randomisation
        n_exp = len(self.arms) - 1
        if r.control_floor + r.cap * n_exp < 1.0 - 1e-12:
            raise ValueError(
                "randomisation: inconsistent cap and control_floor: control_floor + cap x "
                f"{n_exp} experimental arms = {r.control_floor + r.cap * n_exp:g} < 1, so the "
                "first patients could not all be allocated"
            )
        if r.control_floor > 0 and r.cap < (1.0 - r.control_floor) / n_exp - 1e-12:
            raise ValueError("randomisation: cap is below the equal share left after control_floor")

    @property
    def n_arms(self) -> int:
        """Number of arms."""
        return len(self.arms)

    @property
    def control_index(self) -> int:
        """Index of the control arm."""
        return next(i for i, a in enumerate(self.arms) if a.control)

    def with_null(self) -> TrialSpec:
        """The same trial with every arm as the control arm (the null scenario)."""
        ctrl = self.arms[self.control_index]
        arms = [ctrl.model_copy(update={"name": a.name, "control": a.control}) for a in self.arms]
        return self.model_copy(update={"arms": arms})

    def with_threshold(self, superiority: float) -> TrialSpec:
        """The same trial with another superiority threshold (> 1 disables stopping)."""
        decisions = self.decisions.model_copy(update={"superiority": superiority})
        return self.model_copy(update={"decisions": decisions})


def _field_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "config"


def spec_from_dict(data: Any) -> TrialSpec:
    """Validate a mapping into a :class:`TrialSpec`.

    Raises ``InvalidInputError`` naming the offending field (``arms[1].p``).
    """
    if not isinstance(data, dict):
        raise InvalidInputError("config", "must be a mapping (YAML object)", "invalid_config")
    try:
        return TrialSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        field = _field_name(loc)
        if ":" in msg.split(" ")[0]:
            prefix, _, msg = msg.partition(": ")
            field = f"{field}.{prefix}" if loc else prefix
        return _raise(field, msg, str(err["type"]))


def _raise(field: str, msg: str, code: str) -> TrialSpec:
    raise InvalidInputError(field, msg, f"config_{code}")


def load_spec(path: str | Path) -> TrialSpec:
    """Read and validate a YAML trial specification."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError("config", f"cannot read {p}: {exc.strerror}", "unreadable") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError("config", f"{p} is not valid YAML: {exc}", "invalid_yaml") from exc
    return spec_from_dict(data)
