"""The random- and fixed-effects model behind every pooling in infantall (metafor ``rma.uni``).

For effect sizes ``y`` with sampling variances ``v`` and a design matrix ``X`` (a column of
ones for plain pooling, moderators for meta-regression) this module estimates τ² by
DerSimonian-Laird, REML, Paule-Mandel or ML (or sets it to 0 for the fixed-effect model),
the coefficients by weighted least squares with weights 1/(v + τ²), the Knapp-Hartung
adjustment, Cochran's Q, I² and H² (with the "typical within-study variance" of Higgins &
Thompson 2002, generalised to moderators as metafor does), the Q-profile CI of τ²
(Viechtbauer 2007, Stat Med 26:37) and the prediction interval (Riley et al. 2011, BMJ 342).

What comes from a library and what is written here
--------------------------------------------------
statsmodels' ``combine_effects`` agrees with metafor for the DerSimonian-Laird and
Paule-Mandel estimates without moderators, but it does not truncate the DL τ² at 0 (when
Q < k − 1 it pools with a negative τ², and warns on the square root of a negative variance),
has no REML or ML, no meta-regression, no prediction interval and no Q-profile CI, reports
I²/H² with the DL formula whatever the estimator, and its Paule-Mandel stops at τ² = 0 in
some cases where the exact root is positive (tolerance-driven). So ``combine_effects`` gives
the DL τ² without moderators when Q > k − 1 (where it is right); the truncation at 0, DL with
moderators, Paule-Mandel, REML and ML are written here, each as the exact root of its
estimating equation (``scipy.optimize.brentq``). ``tests/synthesis`` also uses
``combine_effects`` as an independent cross-check where it is right (DL and PM pooled means,
τ² and the Hartung-Knapp variance when τ² > 0), and pins agreement with metafor 3.8-1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import optimize, stats

from infantall.errors import InvalidInputError

__all__ = [
    "Method",
    "ModelFit",
    "estimate_tau2",
    "fit_model",
    "generalized_q",
    "q_profile_tau2_ci",
    "typical_variance",
]

_ROOT_XTOL = 1e-14
"""Absolute tolerance of the root finders on τ² (far below the 1e-6 relative agreement
required with metafor)."""


_KNHA_EPS = 100 * float(np.finfo(float).eps)
"""Below this weighted residual variance Knapp-Hartung is refused (metafor sets it to 0 and
returns zero-width intervals)."""


class Method(StrEnum):
    """Estimator of the between-study variance τ²."""

    FE = "fe"
    DL = "dl"
    REML = "reml"
    PM = "pm"
    ML = "ml"

    @property
    def metafor_name(self) -> str:
        """The name of the same estimator in metafor's ``rma(method=)``."""
        return self.value.upper()

    @property
    def label(self) -> str:
        """A human name of the estimator."""
        return {
            "fe": "fixed effect",
            "dl": "DerSimonian-Laird",
            "reml": "restricted maximum likelihood",
            "pm": "Paule-Mandel",
            "ml": "maximum likelihood",
        }[self.value]


def _wls_residuals(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residuals y − Xβ̂ of weighted least squares; P y = W (y − Xβ̂) for the projector
    P = W − W X (X'WX)⁻¹ X'W, so nothing of size k × k is ever formed."""
    xtw = x.T * w
    beta = np.linalg.solve(xtw @ x, xtw @ y)
    return np.asarray(y - x @ beta)


def _trace_p(w: np.ndarray, x: np.ndarray) -> float:
    """tr(P) = Σw − tr((X'WX)⁻¹ X'W²X)."""
    xtw = x.T * w
    return float(np.sum(w) - np.trace(np.linalg.solve(xtw @ x, xtw @ (x * w[:, None]))))


def generalized_q(y: np.ndarray, v: np.ndarray, x: np.ndarray, tau2: float) -> float:
    """Generalised Q statistic y'P(τ²)y with weights 1/(v + τ²); Q_E at τ² = 0."""
    w = 1.0 / (v + tau2)
    r = _wls_residuals(w, x, y)
    return float(np.sum(w * r**2))


def typical_variance(v: np.ndarray, x: np.ndarray) -> float:
    """(k − p)/tr(P) with fixed-effect weights: the s² of I² = τ²/(τ² + s²) in metafor."""
    k, npar = x.shape
    return float((k - npar) / _trace_p(1.0 / v, x))


def _score(y: np.ndarray, v: np.ndarray, x: np.ndarray, tau2: float, restricted: bool) -> float:
    """Twice the derivative of the (restricted) log-likelihood in τ²: y'P²y − tr(P) or Σw."""
    w = 1.0 / (v + tau2)
    py = w * _wls_residuals(w, x, y)
    penalty = _trace_p(w, x) if restricted else float(np.sum(w))
    return float(py @ py - penalty)


def _upper_bracket(fun: Callable[[float], float], start: float) -> float:
    """A τ² at which the decreasing function ``fun`` is negative (doubling from ``start``)."""
    hi = max(start, 1e-4)
    for _ in range(200):
        if fun(hi) < 0:
            return hi
        hi *= 2.0
    raise InvalidInputError(
        "tau2", "the between-study variance estimate did not converge", "tau2_no_convergence"
    )


def _dl(y: np.ndarray, v: np.ndarray, x: np.ndarray) -> float:
    k, npar = (int(d) for d in x.shape)
    q = generalized_q(y, v, x, 0.0)
    if q <= k - npar:
        return 0.0  # the moment estimate is ≤ 0: truncated, as metafor (statsmodels does not)
    if npar == 1:
        from statsmodels.stats.meta_analysis import combine_effects

        # Without moderators and with Q > k - 1, statsmodels' DL estimate is right: use it.
        return float(combine_effects(y, v, method_re="dl").tau2)
    # With moderators (statsmodels has no meta-regression): (Q_E − (k − p)) / tr(P).
    return (q - (k - npar)) / _trace_p(1.0 / v, x)


def _pm(y: np.ndarray, v: np.ndarray, x: np.ndarray) -> float:
    df = int(x.shape[0] - x.shape[1])

    def excess(t2: float) -> float:
        return generalized_q(y, v, x, t2) - df

    if excess(0.0) <= 0.0:
        return 0.0
    hi = _upper_bracket(excess, float(np.var(y)) + float(np.max(v)))
    return float(optimize.brentq(excess, 0.0, hi, xtol=_ROOT_XTOL, rtol=4 * np.finfo(float).eps))


def _likelihood_root(y: np.ndarray, v: np.ndarray, x: np.ndarray, restricted: bool) -> float:
    def score(t2: float) -> float:
        return _score(y, v, x, t2, restricted)

    if score(0.0) <= 0.0:
        return 0.0
    hi = _upper_bracket(score, float(np.var(y)) + float(np.max(v)))
    return float(optimize.brentq(score, 0.0, hi, xtol=_ROOT_XTOL, rtol=4 * np.finfo(float).eps))


def estimate_tau2(y: np.ndarray, v: np.ndarray, x: np.ndarray, method: Method | str) -> float:
    """Between-study variance τ² by the chosen estimator (metafor ``rma(method=)``).

    DL: (Q_E − (k − p))/tr(P₀) truncated at 0 (DerSimonian & Laird 1986); PM: root of
    y'P(τ²)y = k − p (Paule & Mandel 1982); REML / ML: root of the (restricted) likelihood
    score, y'P²y = tr(P) resp. Σw (Viechtbauer 2005); FE: 0. The likelihood estimators are
    set to 0 when the score at 0 is not positive.
    """
    m = Method(method)
    if m is Method.FE:
        return 0.0
    if m is Method.DL:
        return _dl(y, v, x)
    if m is Method.PM:
        return _pm(y, v, x)
    return _likelihood_root(y, v, x, restricted=m is Method.REML)


def q_profile_tau2_ci(
    y: np.ndarray, v: np.ndarray, x: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """Q-profile confidence interval of τ² (Viechtbauer 2007; metafor ``confint.rma.uni``).

    The limits solve y'P(τ²)y = χ²_{k−p} quantiles (upper 1 − α/2 for the lower limit, α/2 for
    the upper); a limit is 0 when Q_E is already below its quantile.
    """
    df = x.shape[0] - x.shape[1]
    alpha = 1.0 - level
    q0 = generalized_q(y, v, x, 0.0)
    limits = []
    for quantile in (stats.chi2.ppf(1.0 - alpha / 2.0, df), stats.chi2.ppf(alpha / 2.0, df)):
        target = float(quantile)
        if q0 <= target:
            limits.append(0.0)
            continue

        def gap(t2: float, target: float = target) -> float:
            return generalized_q(y, v, x, t2) - target

        hi = _upper_bracket(gap, float(np.var(y)) + float(np.max(v)))
        limits.append(
            float(optimize.brentq(gap, 0.0, hi, xtol=_ROOT_XTOL, rtol=4 * np.finfo(float).eps))
        )
    return limits[0], limits[1]


@dataclass(frozen=True, slots=True, eq=False)
class ModelFit:
    """A fitted (mixed-effects) meta-analytic model on the pooling scale (metafor ``rma.uni``).

    Attributes
    ----------
    beta, se, vb
        Coefficients, their standard errors and covariance (Knapp-Hartung-scaled if ``knha``).
    ci_low, ci_high
        Wald (z) or t confidence limits of the coefficients.
    tau2
        Between-study (residual) variance; 0 for the fixed-effect model.
    qe, qe_df, qe_p
        Cochran's Q for (residual) heterogeneity, its df (k − p) and p-value.
    qm, qm_df, qm_p
        Omnibus test of the moderators (of the intercept when there are none): χ² with
        ``qm_df`` df, or F(qm_df, k − p) with Knapp-Hartung (then ``qm`` is the F value).
    i2, h2
        I² (%) and H² as metafor computes them for the estimator used.
    weights
        Model weights 1/(v + τ²).
    crit
        The critical value of the intervals (z or t with k − p df).
    """

    y: np.ndarray
    v: np.ndarray
    x: np.ndarray
    method: Method
    knha: bool
    level: float
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    pvalues: np.ndarray
    tau2: float
    qe: float
    qe_df: int
    qe_p: float
    qm: float
    qm_df: int
    qm_p: float
    i2: float
    h2: float
    weights: np.ndarray
    crit: float

    @property
    def k(self) -> int:
        """Number of studies."""
        return int(self.x.shape[0])

    def predict(self, x_new: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Fitted values with CI and prediction interval at rows ``x_new`` (``predict.rma``).

        Returns ``(pred, se, (ci_low, ci_high), (pi_low, pi_high))`` flattened as four arrays:
        pred, se, a (n, 2) CI array and a (n, 2) prediction-interval array.
        """
        xn = np.atleast_2d(np.asarray(x_new, dtype=float))
        pred = xn @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", xn, self.vb, xn))
        ci = np.column_stack([pred - self.crit * se, pred + self.crit * se])
        half = self.crit * np.sqrt(se**2 + self.tau2)
        pi = np.column_stack([pred - half, pred + half])
        return pred, se, ci, pi


def _check_design(y: np.ndarray, v: np.ndarray, x: np.ndarray, method: Method) -> None:
    k, npar = x.shape
    if y.shape != (k,) or v.shape != (k,):
        raise InvalidInputError(
            "yi", "effect sizes, variances and design differ in length", "shape"
        )
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v))):
        raise InvalidInputError("yi", "effect sizes and variances must be finite", "not_finite")
    if np.any(v <= 0):
        raise InvalidInputError("vi", "sampling variances must be positive", "vi_not_positive")
    needed = npar + 1
    if k < needed:
        what = "random-effects" if method is not Method.FE else "fixed-effect"
        raise InvalidInputError(
            "study",
            f"a {what} model with {npar} coefficient(s) needs at least {needed} studies, got {k}",
            "too_few_studies",
        )
    if np.linalg.matrix_rank(x) < npar:
        raise InvalidInputError(
            "moderators", "the moderators are collinear (design not of full rank)", "collinear"
        )


def _heterogeneity(
    qe: float, df: int, tau2: float, v: np.ndarray, x: np.ndarray, method: Method
) -> tuple[float, float]:
    if method is Method.FE:
        i2 = max(0.0, 100.0 * (qe - df) / qe) if qe > 0 else 0.0
        return i2, qe / df
    vt = typical_variance(v, x)
    return 100.0 * tau2 / (vt + tau2), tau2 / vt + 1.0


def fit_model(
    y: np.ndarray,
    v: np.ndarray,
    x: np.ndarray | None = None,
    *,
    method: Method | str = Method.REML,
    knha: bool = False,
    level: float = 0.95,
    tau2: float | None = None,
) -> ModelFit:
    """Fit the meta-analytic model, as metafor ``rma(yi, vi, mods, method=, test=)``.

    Parameters
    ----------
    y, v
        Effect sizes and sampling variances.
    x
        Design matrix with an intercept column; ``None`` for plain pooling.
    method
        τ² estimator (``fe``, ``dl``, ``reml``, ``pm``, ``ml``).
    knha
        Knapp-Hartung adjustment (metafor ``test="knha"``): the covariance of the coefficients
        is scaled by the weighted residual variance (not truncated at 1, as metafor) and tests
        and intervals use t with k − p df.
    level
        Confidence level of intervals.
    tau2
        A fixed τ² instead of an estimate (used for the leave-one-out diagnostics).
    """
    m = Method(method)
    yy = np.asarray(y, dtype=float)
    vv = np.asarray(v, dtype=float)
    xx = np.ones((yy.size, 1)) if x is None else np.asarray(x, dtype=float)
    _check_design(yy, vv, xx, m)
    k, npar = xx.shape
    df = k - npar
    t2 = estimate_tau2(yy, vv, xx, m) if tau2 is None else float(tau2)
    w = 1.0 / (vv + t2)
    xtw = xx.T * w
    vb = np.linalg.inv(xtw @ xx)
    beta = vb @ (xtw @ yy)
    if knha:
        resid = yy - xx @ beta
        s2 = float(np.sum(w * resid**2)) / df
        if s2 <= _KNHA_EPS:
            raise InvalidInputError(
                "knha",
                "the Knapp-Hartung scale is 0 (the estimates agree exactly after weighting), "
                "which gives zero-width intervals; use Wald intervals instead",
                "knha_degenerate",
            )
        vb = vb * s2
        crit = float(stats.t.ppf(0.5 + level / 2.0, df))
    else:
        crit = float(stats.norm.ppf(0.5 + level / 2.0))
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    pvalues = 2.0 * stats.t.sf(np.abs(stat), df) if knha else 2.0 * stats.norm.sf(np.abs(stat))
    btt = np.arange(1, npar) if npar > 1 else np.arange(1)
    b_sub = beta[btt]
    qm = float(b_sub @ np.linalg.solve(vb[np.ix_(btt, btt)], b_sub))
    if knha:
        qm /= btt.size
        qm_p = float(stats.f.sf(qm, btt.size, df))
    else:
        qm_p = float(stats.chi2.sf(qm, btt.size))
    qe = generalized_q(yy, vv, xx, 0.0)
    i2, h2 = _heterogeneity(qe, df, t2, vv, xx, m)
    return ModelFit(
        y=yy,
        v=vv,
        x=xx,
        method=m,
        knha=knha,
        level=level,
        beta=beta,
        vb=vb,
        se=se,
        ci_low=beta - crit * se,
        ci_high=beta + crit * se,
        pvalues=np.asarray(pvalues, dtype=float),
        tau2=t2,
        qe=qe,
        qe_df=df,
        qe_p=float(stats.chi2.sf(qe, df)),
        qm=qm,
        qm_df=int(btt.size),
        qm_p=qm_p,
        i2=i2,
        h2=h2,
        weights=w,
        crit=crit if math.isfinite(crit) else float("nan"),
    )
