"""Leave-one-out analysis and case-deletion influence diagnostics.

Reproduces metafor ``leave1out.rma.uni`` (the model refitted without each study: estimate,
CI, Q, τ², I², H²) and ``influence.rma.uni`` (Viechtbauer & Cheung 2010, Res Synth Methods
1:112): externally studentized residuals, DFFITS, Cook's distance, covariance ratio, τ² and
Q_E after deletion, hat values, weights and DFBETAS. Hand-written: no Python library checked
offers these for meta-analytic models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from infantall.synthesis.model import ModelFit, fit_model
from infantall.synthesis.pool import PooledProportion, pool_proportions

__all__ = ["InfluenceDiagnostics", "influence", "leave_one_out"]


def leave_one_out(result: PooledProportion) -> pd.DataFrame:
    """The pooled proportion refitted without each study in turn (metafor ``leave1out``).

    Returns one row per omitted study: the pooled % with CI and PI, τ², I², H², Q and its p,
    and the pooled value on the transformed scale (``theta``, ``theta_se``).
    """
    rows = []
    inputs = result.inputs
    for i, label in enumerate(inputs.study):
        keep = np.ones(inputs.k, dtype=bool)
        keep[i] = False
        res = pool_proportions(
            inputs.subset(keep),
            transform=result.transform,
            method=result.method,
            knha=result.fit.knha,
            level=result.fit.level,
        )
        rec = res.as_record()
        rows.append(
            {
                "omitted": label,
                "estimate_pct": rec["estimate_pct"],
                "ci_low_pct": rec["ci_low_pct"],
                "ci_high_pct": rec["ci_high_pct"],
                "pi_low_pct": rec["pi_low_pct"],
                "pi_high_pct": rec["pi_high_pct"],
                "theta": float(res.fit.beta[0]),
                "theta_se": float(res.fit.se[0]),
                "tau2": rec["tau2"],
                "i2_pct": rec["i2_pct"],
                "h2": rec["h2"],
                "q": rec["q"],
                "q_p": rec["q_p"],
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, slots=True, eq=False)
class InfluenceDiagnostics:
    """Case-deletion diagnostics, one row per study (metafor ``influence``)."""

    table: pd.DataFrame
    dfbetas: pd.DataFrame

    @property
    def summary(self) -> pd.DataFrame:
        """The diagnostics table with an ``influential`` flag (metafor's rule of thumb)."""
        return self.table


def _hat(fit: ModelFit) -> np.ndarray:
    xtw = fit.x.T * fit.weights
    a_inv_xt = np.linalg.solve(xtw @ fit.x, fit.x.T)
    return np.asarray(fit.weights * np.einsum("ij,ji->i", fit.x, a_inv_xt), dtype=float)


def influence(fit: ModelFit, study: tuple[str, ...] | None = None) -> InfluenceDiagnostics:
    """Case-deletion influence diagnostics of a fitted model (metafor ``influence.rma.uni``).

    A study is flagged influential, as in metafor, when |DFFITS| > 3√(p/(k − p)), the χ²_m
    cdf of its Cook's distance exceeds 0.5, its hat value exceeds 3p/k, or any |DFBETAS| > 1.
    """
    k, p = fit.x.shape
    labels = study if study is not None else tuple(str(i + 1) for i in range(k))
    btt = np.arange(p)  # all coefficients, as metafor's influence() (Cook's D, cov. ratio)
    svb = np.linalg.inv(fit.vb[np.ix_(btt, btt)])
    det_full = float(np.linalg.det(fit.vb[np.ix_(btt, btt)]))
    hat = _hat(fit)
    pred_full = fit.x @ fit.beta
    out = {
        k_: np.full(k, np.nan)
        for k_ in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del")
    }
    dfbs = np.full((k, p), np.nan)
    for i in range(k):
        keep = np.arange(k) != i
        res = fit_model(
            fit.y[keep], fit.v[keep], fit.x[keep], method=fit.method, knha=fit.knha, level=fit.level
        )
        s2w = 1.0
        if fit.knha:
            resid_del = res.y - res.x @ res.beta
            s2w = float(np.sum(res.weights * resid_del**2)) / res.qe_df
        xi = fit.x[i]
        delpred = float(xi @ res.beta)
        vdelpred = float(xi @ res.vb @ xi)
        out["tau2_del"][i] = res.tau2
        out["qe_del"][i] = res.qe
        out["dffits"][i] = (pred_full[i] - delpred) / np.sqrt(s2w * hat[i] * (res.tau2 + fit.v[i]))
        w_del = 1.0 / (fit.v + res.tau2)
        vb_del = np.linalg.inv((fit.x.T * w_del) @ fit.x)
        dfb = fit.beta - res.beta
        dfbs[i] = dfb / np.sqrt(s2w * np.diag(vb_del))
        out["cook_d"][i] = float(dfb[btt] @ svb @ dfb[btt])
        out["cov_r"][i] = float(np.linalg.det(res.vb[np.ix_(btt, btt)])) / det_full
        resid = fit.y[i] - delpred
        out["rstudent"][i] = resid / np.sqrt(fit.v[i] * s2w + vdelpred + res.tau2 * s2w)
    table = pd.DataFrame({"study": list(labels), **out})
    table["hat"] = hat
    table["weight_pct"] = 100.0 * fit.weights / fit.weights.sum()
    table["influential"] = (
        (np.abs(table["dffits"]) > 3.0 * np.sqrt(p / (k - p)))
        | (stats.chi2.cdf(table["cook_d"], btt.size) > 0.5)
        | (table["hat"] > 3.0 * p / k)
        | (np.abs(dfbs) > 1.0).any(axis=1)
    )
    dfbetas = pd.DataFrame(dfbs, columns=[f"dfbetas_{j}" for j in range(p)])
    dfbetas.insert(0, "study", list(labels))
    return InfluenceDiagnostics(table=table, dfbetas=dfbetas)
