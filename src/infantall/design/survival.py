"""Sample size for comparing two survival curves (log-rank test).

Reproduces rpact ``getSampleSizeSurvival`` (fixed design or a group-sequential design):
the number of events from Schoenfeld's (1981) or Freedman's (1982) formula, and the number of
patients from the probability that a patient's event is observed given uniform or piecewise
accrual, a follow-up period after the end of accrual, exponential or piecewise-exponential
survival with proportional hazards, and exponential drop-out (Lachin and Foulkes, 1986).
Time is in years throughout.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from infantall.design.groupseq import GroupSequentialDesign
from infantall.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Accrual",
    "PiecewiseExponential",
    "SurvivalSampleSize",
    "dropout_hazard",
    "events_required",
    "probability_of_event",
    "sample_size_survival",
]

EventsMethod = Literal["schoenfeld", "freedman"]

#: Gauss–Legendre nodes per smooth piece of the entry-time integral (exact to rounding for
#: the exponential integrands met here).
_GL_NODES = 32


@dataclass(frozen=True, slots=True)
class PiecewiseExponential:
    """Piecewise-constant hazards ``hazards[j]`` on ``[starts[j], starts[j+1])`` (years).

    ``starts[0]`` must be 0; the last hazard applies for ever.
    """

    starts: tuple[float, ...]
    hazards: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.starts) != len(self.hazards) or not self.starts:
            raise InvalidInputError(
                "hazards", "needs one hazard per piece start", "inconsistent_pieces"
            )
        if self.starts[0] != 0 or any(
            b <= a for a, b in zip(self.starts, self.starts[1:], strict=False)
        ):
            raise InvalidInputError(
                "starts", "must start at 0 and increase strictly", "invalid_pieces"
            )
        if any(not np.isfinite(h) or h <= 0 for h in self.hazards):
            raise InvalidInputError("hazards", "must be positive and finite", "out_of_range")

    @classmethod
    def exponential(cls, hazard: float) -> PiecewiseExponential:
        """Constant hazard."""
        return cls((0.0,), (float(hazard),))

    @classmethod
    def from_median(cls, median_years: float) -> PiecewiseExponential:
        """Exponential survival with the given median."""
        if median_years <= 0:
            raise InvalidInputError("median", "must be positive", "out_of_range")
        return cls.exponential(np.log(2.0) / median_years)

    @classmethod
    def from_landmark(cls, survival: float, horizon_years: float) -> PiecewiseExponential:
        """Exponential survival with ``S(horizon) = survival`` (e.g. 2-year EFS 0.40)."""
        if not 0.0 < survival < 1.0:
            raise InvalidInputError("survival", "must be strictly between 0 and 1", "out_of_range")
        if horizon_years <= 0:
            raise InvalidInputError("horizon", "must be positive", "out_of_range")
        return cls.exponential(-np.log(survival) / horizon_years)

    def scaled(self, hazard_ratio: float) -> PiecewiseExponential:
        """Proportional hazards: every hazard times ``hazard_ratio``."""
        return PiecewiseExponential(self.starts, tuple(h * hazard_ratio for h in self.hazards))

    def cumulative_hazard(self, t: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """``Lambda(t)``."""
        tt = np.asarray(t, dtype=float)
        starts = np.asarray(self.starts)
        ends = np.append(starts[1:], np.inf)
        haz = np.asarray(self.hazards)
        length = np.clip(tt[..., None] - starts, 0.0, ends - starts)
        return np.asarray(length @ haz, dtype=float)

    def survival(self, t: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """``S(t) = exp(-Lambda(t))``."""
        return np.exp(-self.cumulative_hazard(t))

    def median(self) -> float:
        """Median survival time."""
        return float(optimize.brentq(lambda t: float(self.survival(t)) - 0.5, 0.0, 1e4))


@dataclass(frozen=True, slots=True)
class Accrual:
    """Piecewise-constant accrual intensity (patients per year).

    ``rates[j]`` applies from ``starts[j]``; when ``duration`` is ``None`` the last rate goes
    on until enough patients are recruited (the duration is then solved for), as rpact's
    ``accrualTime = c(0, ...)`` with one intensity more than end points. A uniform accrual of
    fixed length is ``Accrual.uniform(duration)``: then the intensity is solved for.
    """

    starts: tuple[float, ...] = (0.0,)
    rates: tuple[float, ...] | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        if self.starts[0] != 0 or any(
            b <= a for a, b in zip(self.starts, self.starts[1:], strict=False)
        ):
            raise InvalidInputError(
                "accrual.starts", "must start at 0 and increase strictly", "invalid_pieces"
            )
        if self.rates is None:
            if self.duration is None or len(self.starts) != 1:
                raise InvalidInputError(
                    "accrual", "give rates, or a duration for uniform accrual", "missing_field"
                )
        else:
            if len(self.rates) != len(self.starts):
                raise InvalidInputError(
                    "accrual.rates", "needs one rate per start", "inconsistent_pieces"
                )
            if any(not np.isfinite(r) or r <= 0 for r in self.rates):
                raise InvalidInputError(
                    "accrual.rates", "must be positive patients per year", "out_of_range"
                )
        if self.duration is not None and self.duration <= self.starts[-1]:
            raise InvalidInputError(
                "accrual.duration", "must end after the last rate change", "out_of_range"
            )

    @classmethod
    def uniform(cls, duration: float) -> Accrual:
        """Uniform accrual over ``duration`` years (intensity solved from the sample size)."""
        return cls(duration=duration)

    @classmethod
    def per_year(cls, rate: float) -> Accrual:
        """A constant ``rate`` patients per year until the sample size is reached."""
        return cls(rates=(rate,))

    def _pieces(self, end: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        starts = np.asarray(self.starts)
        keep = starts < end
        edges = np.append(starts[keep], end)
        rates = np.ones(keep.sum()) if self.rates is None else np.asarray(self.rates)[keep]
        return edges, rates

    def patients_by(self, end: float) -> float:
        """Patients recruited between 0 and ``end`` (rates given)."""
        edges, rates = self._pieces(end)
        return float(np.sum(np.diff(edges) * rates))

    def duration_for(self, n: float) -> float:
        """Time needed to recruit ``n`` patients at the given rates."""
        if self.rates is None:
            raise InvalidInputError(
                "accrual.rates", "needed to solve the duration", "missing_field"
            )
        total = 0.0
        starts = [*list(self.starts), np.inf]
        for j, rate in enumerate(self.rates):
            span = starts[j + 1] - starts[j]
            if total + rate * span >= n:
                return float(starts[j] + (n - total) / rate)
            total += rate * span
        raise AssertionError("unreachable: the last piece is open-ended")


def dropout_hazard(rate: float, time: float) -> float:
    """Exponential drop-out hazard from ``rate`` = P(drop out by ``time``) (rpact convention)."""
    if not 0.0 <= rate < 1.0:
        raise InvalidInputError("dropout_rate", "must be in [0, 1)", "out_of_range")
    if time <= 0:
        raise InvalidInputError("dropout_time", "must be positive", "out_of_range")
    return float(-np.log1p(-rate) / time)


def _event_by(
    surv: PiecewiseExponential, dropout: float, u: NDArray[np.float64]
) -> NDArray[np.float64]:
    """P(event observed within follow-up ``u``) with competing exponential drop-out."""
    starts = np.asarray(surv.starts)
    ends = np.append(starts[1:], np.inf)
    haz = np.asarray(surv.hazards)
    tot = haz + dropout
    uu = np.asarray(u, dtype=float)[..., None]
    length = np.clip(uu - starts, 0.0, ends - starts)
    # survival from every cause at the start of each piece
    cum_at_start = np.concatenate([[0.0], np.cumsum(tot[:-1] * (ends[:-1] - starts[:-1]))])
    contrib = haz / tot * np.exp(-cum_at_start) * -np.expm1(-tot * length)
    return np.asarray(contrib.sum(axis=-1), dtype=float)


def probability_of_event(
    surv: PiecewiseExponential,
    accrual: Accrual,
    accrual_duration: float,
    follow_up: float,
    dropout: float = 0.0,
) -> float:
    """Probability that a recruited patient's event is observed by the end of the study.

    The study ends ``follow_up`` years after the end of accrual (at ``accrual_duration``);
    entry times follow the accrual intensity. The integral over entry time is split where the
    follow-up crosses a hazard change, and each smooth piece uses Gauss–Legendre nodes.
    """
    end = accrual_duration + follow_up
    edges, rates = accrual._pieces(accrual_duration)
    xg, wg = np.polynomial.legendre.leggauss(_GL_NODES)
    total, mass = 0.0, 0.0
    for (a, b), rate in zip(itertools.pairwise(edges), rates, strict=False):
        kinks = [end - s for s in surv.starts[1:] if a < end - s < b]
        cuts = np.array(sorted([a, *kinks, b]))
        for lo, hi in itertools.pairwise(cuts):
            e = 0.5 * (hi - lo) * xg + 0.5 * (hi + lo)
            total += rate * 0.5 * (hi - lo) * float(np.sum(wg * _event_by(surv, dropout, end - e)))
        mass += rate * (b - a)
    return total / mass


@dataclass(frozen=True, slots=True)
class SurvivalSampleSize:
    """Events and patients needed for a log-rank comparison (rpact ``getSampleSizeSurvival``)."""

    method: str
    hazard_ratio: float
    alpha: float
    power: float
    sided: int
    allocation_ratio: float
    events: float
    events_fixed: float
    inflation_factor: float
    prob_event_control: float
    prob_event_treatment: float
    patients: float
    patients_control: float
    patients_treatment: float
    accrual_duration: float
    follow_up: float
    study_duration: float
    accrual_rate: float

    @property
    def summary(self) -> pd.DataFrame:
        """A one-row table of the design."""
        import pandas as pd

        return pd.DataFrame([{f: getattr(self, f) for f in self.__slots__}])


def events_required(
    hazard_ratio: float,
    *,
    alpha: float = 0.025,
    power: float = 0.8,
    sided: int = 1,
    allocation_ratio: float = 1.0,
    method: EventsMethod = "schoenfeld",
) -> float:
    """Number of events for a fixed-sample log-rank test.

    Schoenfeld (1981): ``(z_a + z_b)^2 (1 + r)^2 / (r log(HR)^2)``; Freedman (1982):
    ``(z_a + z_b)^2 (1 + r HR)^2 / (r (1 - HR)^2)``, with ``r`` = treatment:control allocation
    and ``z_a = z_{1 - alpha/sided}``. Matches rpact ``typeOfComputation = "Schoenfeld" |
    "Freedman"``.
    """
    _check_common(hazard_ratio, alpha, power, sided, allocation_ratio)
    z = stats.norm.isf(alpha / sided) + stats.norm.isf(1.0 - power)
    r = allocation_ratio
    if method == "schoenfeld":
        return float(z**2 * (1 + r) ** 2 / (r * np.log(hazard_ratio) ** 2))
    if method == "freedman":
        return float(z**2 * (1 + r * hazard_ratio) ** 2 / (r * (1 - hazard_ratio) ** 2))
    raise InvalidInputError("method", "must be 'schoenfeld' or 'freedman'", "unknown_method")


def _check_common(hr: float, alpha: float, power: float, sided: int, r: float) -> None:
    if not (np.isfinite(hr) and hr > 0 and hr != 1):
        raise InvalidInputError("hazard_ratio", "must be positive and not 1", "out_of_range")
    if not 0.0 < alpha < 0.5:
        raise InvalidInputError("alpha", "must be strictly between 0 and 0.5", "out_of_range")
    if not 0.0 < power < 1.0:
        raise InvalidInputError("power", "must be strictly between 0 and 1", "out_of_range")
    if sided not in (1, 2):
        raise InvalidInputError("sided", "must be 1 or 2", "invalid_sided")
    if not (np.isfinite(r) and r > 0):
        raise InvalidInputError("allocation_ratio", "must be positive", "out_of_range")


def sample_size_survival(
    hazard_ratio: float,
    control: PiecewiseExponential,
    accrual: Accrual,
    follow_up: float,
    *,
    alpha: float = 0.025,
    power: float = 0.8,
    sided: int = 1,
    allocation_ratio: float = 1.0,
    method: EventsMethod = "schoenfeld",
    dropout_rate: float = 0.0,
    dropout_time: float = 1.0,
    design: GroupSequentialDesign | None = None,
) -> SurvivalSampleSize:
    """Events and patients for a two-arm log-rank comparison.

    Reproduces rpact ``getSampleSizeSurvival(design, hazardRatio, lambda2 /
    piecewiseSurvivalTime, accrualTime, accrualIntensity, followUpTime, dropoutRate1,
    dropoutRate2, dropoutTime, allocationRatioPlanned, typeOfComputation)`` for the maximum
    number of events and subjects (rpact 3.3; values in ``tests/design/reference``).

    Parameters
    ----------
    hazard_ratio
        Treatment over control hazard ratio under the alternative.
    control
        Survival of the control arm; the treatment arm has hazards ``hazard_ratio`` times.
    accrual
        ``Accrual.uniform(duration)`` (patients then follow from the event probability) or
        rates per year (the accrual duration is then solved for).
    follow_up
        Minimum follow-up: years from the end of accrual to the final analysis.
    design
        A group-sequential design; its inflation factor multiplies the events. ``alpha`` and
        ``sided`` are then taken from it.
    """
    if design is not None:
        alpha, sided = design.alpha, design.sided
    fixed = events_required(
        hazard_ratio,
        alpha=alpha,
        power=power,
        sided=sided,
        allocation_ratio=allocation_ratio,
        method=method,
    )
    if follow_up < 0:
        raise InvalidInputError("follow_up", "must be >= 0 years", "out_of_range")
    inflation = design.inflation_factor(power) if design is not None else 1.0
    events = fixed * inflation
    gamma = dropout_hazard(dropout_rate, dropout_time) if dropout_rate > 0 else 0.0
    treat = control.scaled(hazard_ratio)
    r = allocation_ratio

    def overall(duration: float) -> tuple[float, float, float]:
        pc = float(probability_of_event(control, accrual, duration, follow_up, gamma))
        pt = float(probability_of_event(treat, accrual, duration, follow_up, gamma))
        return pc, pt, (pc + r * pt) / (1 + r)

    if accrual.rates is None:
        assert accrual.duration is not None
        duration = accrual.duration
        pc, pt, p = overall(duration)
        n = float(events / p)
        rate = n / duration
    else:

        def gap(d: float) -> float:
            return accrual.patients_by(d) * overall(d)[2] - events

        hi = 1.0
        while gap(hi) < 0:
            hi *= 2.0
            if hi > 1e4:
                raise InvalidInputError(
                    "accrual", "too slow to ever reach the events", "infeasible"
                )
        duration = float(optimize.brentq(gap, 1e-9, hi, xtol=1e-12))
        pc, pt, _ = overall(duration)
        n = accrual.patients_by(duration)
        rate = n / duration
    return SurvivalSampleSize(
        method=method,
        hazard_ratio=hazard_ratio,
        alpha=alpha,
        power=power,
        sided=sided,
        allocation_ratio=r,
        events=events,
        events_fixed=fixed,
        inflation_factor=inflation,
        prob_event_control=pc,
        prob_event_treatment=pt,
        patients=n,
        patients_control=n / (1 + r),
        patients_treatment=n * r / (1 + r),
        accrual_duration=duration,
        follow_up=follow_up,
        study_duration=duration + follow_up,
        accrual_rate=rate,
    )
