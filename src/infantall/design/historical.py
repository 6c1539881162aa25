"""Single-arm trials against a historical control.

Two designs and their analyses:

* the exact binomial test on a landmark proportion (e.g. 2-year EFS known for every patient);
  the smallest ``n`` whose exact one-sided level-``alpha`` test reaches the power, computed
  by enumeration as A'Hern (2001, *Stat Med* 20:859) and gsDesign ``nBinomial1Sample``;
* the one-sample log-rank test (Breslow 1975; Finkelstein, Muzikansky and Schoenfeld 2003,
  *J Natl Cancer Inst* 95:1434), comparing observed events ``O`` with those expected under
  the historical hazard ``E = sum Lambda0(X_i)``, and its sample size from the moments of
  ``O - E`` under proportional hazards (Wu 2015, *Pharm Stat* 14:26). No R or Python package
  offers this design (rpact issue #105), hence the implementation here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from infantall.design.survival import Accrual, PiecewiseExponential, dropout_hazard
from infantall.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BinomialDesign",
    "BinomialTestResult",
    "OneSampleLogrankDesign",
    "OneSampleLogrankResult",
    "exact_binomial_design",
    "exact_binomial_test",
    "one_sample_logrank_design",
    "one_sample_logrank_test",
]

_GL_NODES = 48


@dataclass(frozen=True, slots=True)
class BinomialDesign:
    """Single-stage exact design: treat ``n``; reject H0 (``p <= p0``) if ``>= r`` successes."""

    p0: float
    p1: float
    alpha: float
    power_target: float
    n: int
    r: int
    alpha_actual: float
    power_actual: float

    @property
    def summary(self) -> pd.DataFrame:
        """A one-row table."""
        import pandas as pd

        return pd.DataFrame([{f: getattr(self, f) for f in self.__slots__}])


def _check_prob(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise InvalidInputError(name, "must be strictly between 0 and 1", "out_of_range")


def exact_binomial_design(
    p0: float, p1: float, *, alpha: float = 0.05, power: float = 0.8, n_max: int = 1000
) -> BinomialDesign:
    """Smallest single-stage exact binomial design (one-sided, improvement ``p1 > p0``).

    For each ``n`` the critical value is the smallest ``r`` with ``P(X >= r | p0) <= alpha``;
    the design is the smallest ``n`` with ``P(X >= r | p1) >= power``. Matches an enumeration
    with R ``pbinom`` (``tests/design/reference``) and A'Hern's (2001) tables.
    """
    for name, value in (("p0", p0), ("p1", p1), ("alpha", alpha), ("power", power)):
        _check_prob(name, value)
    if p1 <= p0:
        raise InvalidInputError("p1", "the target must exceed the historical rate p0", "no_effect")
    n = np.arange(1, n_max + 1)
    # r = smallest integer with sf(r - 1; n, p0) <= alpha
    r = stats.binom.isf(alpha, n, p0).astype(int) + 1
    size = stats.binom.sf(r - 1, n, p0)
    over = size > alpha  # isf rounding: move one up where needed
    r = np.where(over, r + 1, r)
    pw = stats.binom.sf(r - 1, n, p1)
    ok = np.nonzero(pw >= power)[0]
    if ok.size == 0:
        raise InvalidInputError(
            "n_max", f"no design up to n = {n_max} reaches the power", "infeasible"
        )
    i = int(ok[0])
    return BinomialDesign(
        p0=p0,
        p1=p1,
        alpha=alpha,
        power_target=power,
        n=int(n[i]),
        r=int(r[i]),
        alpha_actual=float(stats.binom.sf(r[i] - 1, n[i], p0)),
        power_actual=float(pw[i]),
    )


@dataclass(frozen=True, slots=True)
class BinomialTestResult:
    """Exact one-sided test of ``p <= p0`` with a Clopper–Pearson interval."""

    successes: int
    n: int
    p0: float
    estimate: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence: float


def exact_binomial_test(
    successes: int, n: int, p0: float, *, confidence: float = 0.95
) -> BinomialTestResult:
    """Exact binomial test against a historical rate (scipy ``binomtest``, alternative greater).

    The interval is the two-sided Clopper–Pearson interval at ``confidence``.
    """
    _check_prob("p0", p0)
    if n < 1 or not 0 <= successes <= n:
        raise InvalidInputError("successes", "must be between 0 and n (n >= 1)", "out_of_range")
    res = stats.binomtest(successes, n, p0, alternative="greater")
    ci = stats.binomtest(successes, n, p0).proportion_ci(confidence, method="exact")
    return BinomialTestResult(
        successes=successes,
        n=n,
        p0=p0,
        estimate=successes / n,
        p_value=float(res.pvalue),
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        confidence=confidence,
    )


@dataclass(frozen=True, slots=True)
class OneSampleLogrankResult:
    """Observed and expected events against a historical survival curve."""

    observed: int
    expected: float
    ratio: float
    z: float
    p_value_improvement: float
    p_value_two_sided: float


def one_sample_logrank_test(
    time: ArrayLike, event: ArrayLike, null: PiecewiseExponential
) -> OneSampleLogrankResult:
    """One-sample log-rank test of a single-arm cohort against a historical curve.

    ``O = sum(event)``, ``E = sum Lambda0(time)`` and ``Z = (O - E) / sqrt(E)``; a small
    ``Z`` means fewer events than the historical curve predicts. The one-sided p-value for
    improvement is ``Phi(Z)`` (Finkelstein et al. 2003).
    """
    t = np.asarray(time, dtype=float)
    d = np.asarray(event)
    if t.ndim != 1 or t.shape != d.shape or t.size == 0:
        raise InvalidInputError("time", "time and event must be 1-D and of equal length", "shape")
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise InvalidInputError("time", "must be finite and >= 0", "out_of_range")
    if not np.isin(d, (0, 1)).all():
        raise InvalidInputError("event", "must be 0 (censored) or 1 (event)", "invalid_status")
    observed = int(d.sum())
    expected = float(null.cumulative_hazard(t).sum())
    if expected <= 0:
        raise InvalidInputError("time", "no follow-up: the expected number is 0", "no_follow_up")
    z = (observed - expected) / np.sqrt(expected)
    return OneSampleLogrankResult(
        observed=observed,
        expected=expected,
        ratio=observed / expected,
        z=float(z),
        p_value_improvement=float(stats.norm.cdf(z)),
        p_value_two_sided=float(2 * stats.norm.sf(abs(z))),
    )


@dataclass(frozen=True, slots=True)
class OneSampleLogrankDesign:
    """Sample size of a one-sample log-rank design (Wu 2015)."""

    hazard_ratio: float
    alpha: float
    power: float
    patients: float
    expected_events: float
    events_schoenfeld: float
    prob_event: float
    accrual_duration: float
    follow_up: float
    study_duration: float

    @property
    def summary(self) -> pd.DataFrame:
        """A one-row table."""
        import pandas as pd

        return pd.DataFrame([{f: getattr(self, f) for f in self.__slots__}])


def _censoring_survivor(
    s: NDArray[np.float64], accrual: Accrual, duration: float, end: float
) -> NDArray[np.float64]:
    """P(administrative follow-up >= s): share of patients recruited by ``end - s``."""
    total = accrual.patients_by(duration)
    by = np.array(
        [accrual.patients_by(min(max(end - x, 0.0), duration)) if end - x > 0 else 0.0 for x in s]
    )
    return by / total


def _moments(
    null: PiecewiseExponential,
    hr: float,
    accrual: Accrual,
    duration: float,
    follow_up: float,
    gamma: float,
) -> tuple[float, float, float]:
    """Per-patient ``E[Delta]``, ``E[Lambda0(X)]`` and ``Var(Delta - Lambda0(X))`` under H1."""
    end = duration + follow_up
    kinks = {0.0, follow_up, end}
    kinks |= {s for s in null.starts if 0 < s < end}
    kinks |= {end - a for a in accrual.starts if 0 < end - a < end}
    cuts = np.array(sorted(kinks))
    xg, wg = np.polynomial.legendre.leggauss(_GL_NODES)
    s_all, w_all = [], []
    for lo, hi in itertools.pairwise(cuts):
        s_all.append(0.5 * (hi - lo) * xg + 0.5 * (hi + lo))
        w_all.append(0.5 * (hi - lo) * wg)
    s = np.concatenate(s_all)
    w = np.concatenate(w_all)
    starts = np.asarray(null.starts)
    lam0 = np.asarray(null.hazards)[np.searchsorted(starts, s, side="right") - 1]
    big0 = null.cumulative_hazard(s)
    at_risk = np.exp(-hr * big0 - gamma * s) * _censoring_survivor(s, accrual, duration, end)
    p1 = float(np.sum(w * hr * lam0 * at_risk))
    p01 = float(np.sum(w * lam0 * at_risk))
    e_l2 = float(np.sum(w * 2 * big0 * lam0 * at_risk))
    e_dl = float(np.sum(w * big0 * hr * lam0 * at_risk))
    var = p1 - 2 * e_dl + e_l2 - (p1 - p01) ** 2
    return p1, p01, var


def one_sample_logrank_design(
    null: PiecewiseExponential,
    hazard_ratio: float,
    accrual: Accrual,
    follow_up: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    dropout_rate: float = 0.0,
    dropout_time: float = 1.0,
) -> OneSampleLogrankDesign:
    """Patients for a one-sample log-rank test of ``HR = hazard_ratio`` (< 1) against ``null``.

    With ``omega = E[Delta] - E[Lambda0(X)]`` and ``sigma^2 = Var(Delta - Lambda0(X))`` per
    patient under the alternative ``S1 = S0^HR`` (integrated over entry times and drop-out),
    the test ``(O - E)/sqrt(E) < -z_{1-alpha}`` has power ``1 - beta`` when
    ``n = (z_{1-alpha} sqrt(E[Lambda0(X)]) + z_{1-beta} sigma)^2 / omega^2`` (Wu 2015).
    ``events_schoenfeld`` is the cruder ``(z_a + z_b)^2 / log(HR)^2`` for comparison.
    With rates in ``accrual``, the accrual duration is solved for.
    """
    _check_prob("alpha", alpha)
    _check_prob("power", power)
    if not 0.0 < hazard_ratio < 1.0:
        raise InvalidInputError("hazard_ratio", "must be in (0, 1): an improvement", "out_of_range")
    if follow_up < 0:
        raise InvalidInputError("follow_up", "must be >= 0 years", "out_of_range")
    gamma = dropout_hazard(dropout_rate, dropout_time) if dropout_rate > 0 else 0.0
    za, zb = stats.norm.isf(alpha), stats.norm.isf(1 - power)

    def needed(duration: float) -> tuple[float, float]:
        p1, p01, var = _moments(null, hazard_ratio, accrual, duration, follow_up, gamma)
        n = (za * np.sqrt(p01) + zb * np.sqrt(var)) ** 2 / (p1 - p01) ** 2
        return float(n), p1

    if accrual.rates is None:
        assert accrual.duration is not None
        duration = accrual.duration
    else:
        from scipy import optimize

        def gap(d: float) -> float:
            return accrual.patients_by(d) - needed(d)[0]

        hi = 1.0
        while gap(hi) < 0:
            hi *= 2.0
            if hi > 1e3:
                raise InvalidInputError(
                    "accrual", "too slow to ever reach the sample size", "infeasible"
                )
        duration = float(optimize.brentq(gap, 1e-6, hi, xtol=1e-10))
    n, p1 = needed(duration)
    return OneSampleLogrankDesign(
        hazard_ratio=hazard_ratio,
        alpha=alpha,
        power=power,
        patients=n,
        expected_events=n * p1,
        events_schoenfeld=float((za + zb) ** 2 / np.log(hazard_ratio) ** 2),
        prob_event=p1,
        accrual_duration=duration,
        follow_up=follow_up,
        study_duration=duration + follow_up,
    )
