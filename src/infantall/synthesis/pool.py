"""Pooling single-arm proportions (EFS, OS, DFS, CR at a horizon) across studies.

The friendly face over :mod:`infantall.synthesis.transforms` and
:mod:`infantall.synthesis.model`: transform, fit, back-transform, state every choice.
Reproduces metafor ``rma(measure=..., xi, ni, method=, test=)`` followed by
``predict(..., transf=)`` and ``confint(...)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from infantall.synthesis.inputs import ProportionInputs
from infantall.synthesis.model import (
    Method,
    ModelFit,
    fit_model,
    q_profile_tau2_ci,
    typical_variance,
)
from infantall.synthesis.transforms import (
    EffectSizes,
    Transform,
    back_transform,
    effect_sizes,
    harmonic_mean,
)

__all__ = ["PooledProportion", "back_transform_pooled", "pool_proportions", "study_intervals"]


@dataclass(frozen=True, slots=True, eq=False)
class PooledProportion:
    """A pooled proportion with its heterogeneity statistics; percentages are 0-100.

    ``tau2_ci``, ``i2_ci`` and ``h2_ci`` are Q-profile intervals (NaN for the fixed-effect
    model, where τ² is 0 by assumption). ``notes`` states the variance source, continuity
    correction, back-transformation and any horizon mixing.
    """

    inputs: ProportionInputs
    effects: EffectSizes
    fit: ModelFit
    estimate_pct: float
    ci_low_pct: float
    ci_high_pct: float
    pi_low_pct: float
    pi_high_pct: float
    tau2_ci: tuple[float, float]
    i2_ci: tuple[float, float]
    h2_ci: tuple[float, float]
    notes: tuple[str, ...]

    @property
    def method(self) -> Method:
        """The τ² estimator."""
        return self.fit.method

    @property
    def transform(self) -> Transform:
        """The pooling scale."""
        return self.effects.transform

    @property
    def k(self) -> int:
        """Number of studies."""
        return self.inputs.k

    @property
    def n_total(self) -> float:
        """Total number of patients."""
        return float(np.sum(self.inputs.n))

    @property
    def study_table(self) -> pd.DataFrame:
        """One row per study: percentage, its Clopper-Pearson CI and its weight in the model."""
        low, high = study_intervals(self.effects, self.fit.level)
        w = self.fit.weights
        return pd.DataFrame(
            {
                "study": list(self.inputs.study),
                "percent": self.inputs.proportion * 100.0,
                "n": self.inputs.n,
                "ci_low_pct": low * 100.0,
                "ci_high_pct": high * 100.0,
                "weight_pct": 100.0 * w / w.sum(),
                "variance_source": list(self.inputs.variance_source),
            }
        )

    def as_record(self) -> dict[str, Any]:
        """The pooled result as one flat mapping (JSON-ready)."""
        return {
            "k": self.k,
            "n_total": self.n_total,
            "estimate_pct": self.estimate_pct,
            "ci_low_pct": self.ci_low_pct,
            "ci_high_pct": self.ci_high_pct,
            "pi_low_pct": self.pi_low_pct,
            "pi_high_pct": self.pi_high_pct,
            "tau2": self.fit.tau2,
            "tau2_ci_low": self.tau2_ci[0],
            "tau2_ci_high": self.tau2_ci[1],
            "i2_pct": self.fit.i2,
            "i2_ci_low": self.i2_ci[0],
            "i2_ci_high": self.i2_ci[1],
            "h2": self.fit.h2,
            "q": self.fit.qe,
            "q_df": self.fit.qe_df,
            "q_p": self.fit.qe_p,
            "method": self.method.value,
            "transform": self.transform.value,
            "knapp_hartung": self.fit.knha,
        }

    @property
    def summary(self) -> pd.DataFrame:
        """The pooled result as a one-row table."""
        return pd.DataFrame([self.as_record()])


def study_intervals(effects: EffectSizes, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Per-study Clopper-Pearson CIs (0-1) on the effective counts, uncorrected.

    The default of R meta's ``metaprop`` (``method.ci = "CP"``): the interval always holds
    the reported proportion, also at 0% or 100% where the pooling scale needed a continuity
    correction. Non-integer effective counts enter the beta quantiles as they are.
    """
    alpha = 1.0 - level
    n = effects.effective_n
    x = effects.proportion * n
    with np.errstate(invalid="ignore"):
        low = np.where(x > 0, stats.beta.ppf(alpha / 2.0, x, n - x + 1.0), 0.0)
        high = np.where(x < n, stats.beta.ppf(1.0 - alpha / 2.0, x + 1.0, n - x), 1.0)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def back_transform_pooled(values: np.ndarray, effects: EffectSizes) -> np.ndarray:
    """Back-transform pooled values (Freeman-Tukey at the harmonic-mean N)."""
    n = harmonic_mean(effects.effective_n) if effects.transform is Transform.freeman_tukey else None
    return back_transform(values, effects.transform, n)


def _notes(effects: EffectSizes, method: Method, knha: bool) -> tuple[str, ...]:
    notes = list(effects.notes)
    notes.append(
        f"Pooled on the {effects.transform.value} scale; τ² by {method.label}"
        + ("; Knapp-Hartung t-based intervals." if knha else "; Wald (z) intervals.")
    )
    if effects.transform is Transform.freeman_tukey:
        notes.append(
            "Freeman-Tukey back-transformation of Miller (1978) at the harmonic mean N "
            f"({harmonic_mean(effects.effective_n):.1f})."
        )
    return tuple(notes)


def pool_proportions(
    inputs: ProportionInputs,
    *,
    transform: Transform | str = Transform.logit,
    method: Method | str = Method.REML,
    knha: bool = False,
    level: float = 0.95,
) -> PooledProportion:
    """Pool single-arm proportions (random effects by default, REML on the logit scale).

    Reproduces metafor: ``dat <- escalc(measure, xi, ni)``; ``res <- rma(yi, vi, method=,
    test=)``; ``predict(res, transf=)`` for the pooled value, CI and prediction interval;
    ``confint(res)`` for the Q-profile CIs of τ², I² and H².

    Raises
    ------
    InvalidInputError
        Fewer than 2 studies (``too_few_studies``).
    """
    m = Method(method)
    effects = effect_sizes(inputs, transform)
    fit = fit_model(effects.yi, effects.vi, method=m, knha=knha, level=level)
    pred, _se, ci, pi = fit.predict(np.ones((1, 1)))
    est = back_transform_pooled(pred, effects)[0]
    ci_bt = back_transform_pooled(ci[0], effects)
    pi_bt = back_transform_pooled(pi[0], effects)
    nan2 = (math.nan, math.nan)
    if m is Method.FE:
        tau2_ci, i2_ci, h2_ci = nan2, nan2, nan2
    else:
        tau2_ci = q_profile_tau2_ci(effects.yi, effects.vi, fit.x, level)
        s2 = typical_variance(fit.v, fit.x)
        i2_ci = (100.0 * tau2_ci[0] / (s2 + tau2_ci[0]), 100.0 * tau2_ci[1] / (s2 + tau2_ci[1]))
        h2_ci = (1.0 + tau2_ci[0] / s2, 1.0 + tau2_ci[1] / s2)
    return PooledProportion(
        inputs=inputs,
        effects=effects,
        fit=fit,
        estimate_pct=float(est) * 100.0,
        ci_low_pct=float(ci_bt[0]) * 100.0,
        ci_high_pct=float(ci_bt[1]) * 100.0,
        pi_low_pct=float(pi_bt[0]) * 100.0,
        pi_high_pct=float(pi_bt[1]) * 100.0,
        tau2_ci=tau2_ci,
        i2_ci=i2_ci,
        h2_ci=h2_ci,
        notes=_notes(effects, m, knha),
    )
