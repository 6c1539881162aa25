"""Benchmark: random-effects pooling of 200 studies, infantall vs statsmodels.

Named baseline: ``statsmodels.stats.meta_analysis.combine_effects`` with the
DerSimonian-Laird estimator on the same effect sizes (a library doing the least work: one
moment estimate, no Q-profile CI, no prediction interval). Measured: ``fit_model`` with DL
(the same statistic) and with REML (root-finding on the likelihood score), and the complete
``pool_proportions`` result (transform, REML fit, back-transformation, Q-profile CIs). The
ratios printed are infantall time / statsmodels time. Run with ``make bench``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from statsmodels.stats.meta_analysis import combine_effects

from infantall.synthesis import effect_sizes, fit_model, pool_proportions, proportion_inputs

K = 200
SEED = 20261121
RESULTS: dict[str, float] = {}


def _inputs() -> Any:
    rng = np.random.default_rng(SEED)
    n = rng.integers(20, 500, size=K)
    logit = rng.normal(-0.4, 0.35, size=K)
    pct = 100.0 / (1.0 + np.exp(-logit))
    return proportion_inputs([f"s{i}" for i in range(K)], pct, n)


INPUTS = _inputs()
EFFECTS = effect_sizes(INPUTS, "logit")


def test_baseline_statsmodels_dl(benchmark: Any) -> None:
    res = benchmark(combine_effects, EFFECTS.yi, EFFECTS.vi, method_re="dl")
    RESULTS["statsmodels"] = benchmark.stats.stats.min
    assert res.tau2 > 0


def test_fit_model_dl(benchmark: Any) -> None:
    fit = benchmark(fit_model, EFFECTS.yi, EFFECTS.vi, method="dl")
    RESULTS["dl"] = benchmark.stats.stats.min
    print(f"\nfit_model DL, k={K}: {RESULTS['dl'] / RESULTS['statsmodels']:.1f}x statsmodels")
    assert fit.tau2 > 0


def test_fit_model_reml(benchmark: Any) -> None:
    fit = benchmark(fit_model, EFFECTS.yi, EFFECTS.vi, method="reml")
    RESULTS["reml"] = benchmark.stats.stats.min
    print(f"\nfit_model REML, k={K}: {RESULTS['reml'] / RESULTS['statsmodels']:.1f}x statsmodels")
    assert fit.tau2 > 0


def test_pool_proportions_full(benchmark: Any) -> None:
    res = benchmark.pedantic(pool_proportions, args=(INPUTS,), rounds=5, iterations=1)
    full = benchmark.stats.stats.min
    print(
        f"\npool_proportions (REML + Q-profile), k={K}: {full / RESULTS['statsmodels']:.1f}x "
        "statsmodels DL"
    )
    assert 0 < res.estimate_pct < 100
