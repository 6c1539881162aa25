"""Mixed-effects meta-regression of proportions on study-level moderators.

Reproduces metafor ``rma(yi, vi, mods = ~ ..., method=, test=)``: coefficients with SEs,
z or Knapp-Hartung t tests, the omnibus moderator test Q_M (χ², or F with Knapp-Hartung),
the residual heterogeneity test Q_E, residual τ², I², H², and the pseudo-R² of Raudenbush
(2009) that metafor reports: max(0, (τ²₀ − τ²)/τ²₀) with τ²₀ from the model without
moderators, same estimator, and the Q-profile CIs of the residual τ² and I² (``confint``).
Numeric moderators enter as they are; text moderators are dummy-coded against their first
level in sorted order (R's treatment contrasts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infantall.errors import InvalidInputError
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

__all__ = ["MetaRegression", "design_matrix", "meta_regression"]


def design_matrix(moderators: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """Intercept plus moderators; text columns become treatment-coded dummies.

    Raises
    ------
    InvalidInputError
        No moderator, or a moderator with missing values (``moderator_missing``).
    """
    if moderators.shape[1] == 0:
        raise InvalidInputError("moderators", "at least one moderator is needed", "no_moderator")
    columns: list[np.ndarray] = [np.ones(len(moderators))]
    names: list[str] = ["intercept"]
    for name in moderators.columns:
        col = moderators[name]
        if col.isna().any():
            raise InvalidInputError(
                f"moderators.{name}",
                f"missing for {int(col.isna().sum())} studies; filter them out first",
                "moderator_missing",
            )
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            columns.append(col.to_numpy(dtype=float))
            names.append(str(name))
            continue
        levels = sorted(col.astype(str).unique())
        for level in levels[1:]:
            columns.append((col.astype(str) == level).to_numpy(dtype=float))
            names.append(f"{name}[{level}]")
    return np.column_stack(columns), tuple(names)


@dataclass(frozen=True, slots=True, eq=False)
class MetaRegression:
    """A fitted meta-regression on the pooling scale, with back-transformed predictions."""

    effects: EffectSizes
    fit: ModelFit
    terms: tuple[str, ...]
    moderators: pd.DataFrame
    tau2_no_moderators: float
    r2_pct: float
    tau2_ci: tuple[float, float]
    i2_ci: tuple[float, float]
    notes: tuple[str, ...]

    @property
    def coefficients(self) -> pd.DataFrame:
        """One row per term: estimate, SE, test statistic (z or t), p-value and CI."""
        f = self.fit
        return pd.DataFrame(
            {
                "term": list(self.terms),
                "estimate": f.beta,
                "se": f.se,
                "statistic": f.beta / f.se,
                "p": f.pvalues,
                "ci_low": f.ci_low,
                "ci_high": f.ci_high,
            }
        )

    summary = coefficients

    def as_record(self) -> dict[str, Any]:
        """Model-level statistics as one flat mapping (JSON-ready)."""
        f = self.fit
        return {
            "k": f.k,
            "tau2": f.tau2,
            "tau2_ci_low": self.tau2_ci[0],
            "tau2_ci_high": self.tau2_ci[1],
            "i2_ci_low": self.i2_ci[0],
            "i2_ci_high": self.i2_ci[1],
            "tau2_no_moderators": self.tau2_no_moderators,
            "r2_pct": self.r2_pct,
            "i2_pct": f.i2,
            "h2": f.h2,
            "qe": f.qe,
            "qe_df": f.qe_df,
            "qe_p": f.qe_p,
            "qm": f.qm,
            "qm_df": f.qm_df,
            "qm_p": f.qm_p,
            "qm_test": "F" if f.knha else "chi2",
            "method": f.method.value,
            "transform": self.effects.transform.value,
            "knapp_hartung": f.knha,
        }

    def predict_percent(self, x_new: np.ndarray) -> pd.DataFrame:
        """Back-transformed fitted percentages with CI and PI at design rows ``x_new``."""
        pred, _se, ci, pi = self.fit.predict(x_new)
        n = (
            harmonic_mean(self.effects.effective_n)
            if self.effects.transform is Transform.freeman_tukey
            else None
        )

        def bt(values: np.ndarray) -> np.ndarray:
            return back_transform(values, self.effects.transform, n) * 100.0

        return pd.DataFrame(
            {
                "pred_pct": bt(pred),
                "ci_low_pct": bt(ci[:, 0]),
                "ci_high_pct": bt(ci[:, 1]),
                "pi_low_pct": bt(pi[:, 0]),
                "pi_high_pct": bt(pi[:, 1]),
            }
        )


def _pseudo_r2(fit: ModelFit, tau2_0: float) -> float:
    """metafor's R²: proportional reduction of τ² (random effects), else the adjusted R² of
    the weighted least-squares fit (fixed effect); 0 when there is no τ² to explain."""
    if fit.method is Method.FE:
        w = 1.0 / fit.v
        ybar = float(np.sum(w * fit.y) / np.sum(w))
        tss = float(np.sum(w * (fit.y - ybar) ** 2))
        if tss == 0.0:
            return 0.0
        r2 = 1.0 - fit.qe / tss
        k, p = (int(d) for d in fit.x.shape)
        return max(0.0, 100.0 * (1.0 - (1.0 - r2) * (k - 1) / (k - p)))
    if tau2_0 == 0.0:
        return 0.0
    return max(0.0, 100.0 * (tau2_0 - fit.tau2) / tau2_0)


def meta_regression(
    inputs: ProportionInputs,
    moderators: pd.DataFrame,
    *,
    transform: Transform | str = Transform.logit,
    method: Method | str = Method.REML,
    knha: bool = False,
    level: float = 0.95,
) -> MetaRegression:
    """Meta-regression of transformed proportions on ``moderators`` (one row per study).

    Raises
    ------
    InvalidInputError
        Moderators not one row per study, missing moderator values, collinear moderators,
        or too few studies for the number of coefficients.
    """
    if len(moderators) != inputs.k:
        raise InvalidInputError(
            "moderators", f"need one row per study ({inputs.k}), got {len(moderators)}", "shape"
        )
    m = Method(method)
    effects = effect_sizes(inputs, transform)
    x, terms = design_matrix(moderators.reset_index(drop=True))
    fit = fit_model(effects.yi, effects.vi, x, method=m, knha=knha, level=level)
    tau2_0 = fit_model(effects.yi, effects.vi, method=m).tau2 if m is not Method.FE else 0.0
    r2 = _pseudo_r2(fit, tau2_0)
    if m is Method.FE:
        tau2_ci = i2_ci = (math.nan, math.nan)
    else:
        tau2_ci = q_profile_tau2_ci(effects.yi, effects.vi, x, level)
        s2 = typical_variance(effects.vi, x)
        i2_ci = (100.0 * tau2_ci[0] / (s2 + tau2_ci[0]), 100.0 * tau2_ci[1] / (s2 + tau2_ci[1]))
    notes = (
        *effects.notes,
        f"Meta-regression on the {effects.transform.value} scale; residual τ² by {m.label}"
        + ("; Knapp-Hartung t and F tests." if knha else "; Wald z and χ² tests."),
    )
    return MetaRegression(
        effects=effects,
        fit=fit,
        terms=terms,
        moderators=moderators.reset_index(drop=True),
        tau2_no_moderators=tau2_0,
        r2_pct=r2,
        tau2_ci=tau2_ci,
        i2_ci=i2_ci,
        notes=notes,
    )
