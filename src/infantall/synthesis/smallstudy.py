"""Regression test for funnel-plot asymmetry (Egger et al. 1997, BMJ 315:629).

Reproduces metafor ``regtest(res)`` with its defaults (``model = "rma"``, ``predictor =
"sei"``): the meta-analytic model of the pooled result is refitted with the standard error
of each estimate as a moderator; the test is that of the slope (z, or t with Knapp-Hartung),
and the intercept is the "limit estimate" as the standard error goes to 0. With few studies
the test has little power (Sterne et al. 2011, BMJ 343:d4002 advise at least 10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infantall.synthesis.model import fit_model
from infantall.synthesis.pool import PooledProportion, back_transform_pooled

__all__ = ["EggerTest", "egger_test"]


@dataclass(frozen=True, slots=True)
class EggerTest:
    """Slope on the standard error (pooling scale), its test statistic and p-value, and the
    limit estimate back-transformed to a percentage."""

    slope: float
    statistic: float
    p: float
    limit_estimate: float
    limit_estimate_pct: float
    k: int


def egger_test(result: PooledProportion) -> EggerTest:
    """Egger-type regression test of a pooled proportion (metafor ``regtest``, defaults)."""
    fit = result.fit
    x = np.column_stack([np.ones(fit.k), np.sqrt(fit.v)])
    reg = fit_model(fit.y, fit.v, x, method=fit.method, knha=fit.knha, level=fit.level)
    limit = float(reg.beta[0])
    return EggerTest(
        slope=float(reg.beta[1]),
        statistic=float(reg.beta[1] / reg.se[1]),
        p=float(reg.pvalues[1]),
        limit_estimate=limit,
        limit_estimate_pct=float(back_transform_pooled(np.array([limit]), result.effects)[0])
        * 100.0,
        k=fit.k,
    )
