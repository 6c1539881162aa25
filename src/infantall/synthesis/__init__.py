"""Meta-analysis of trial-level results: pooling, subgroups, meta-regression, influence.

>>> from infantall.synthesis import proportion_inputs, pool_proportions
>>> inputs = proportion_inputs(["A", "B", "C"], [32.6, 37.6, 43.2], [98, 135, 115])
>>> result = pool_proportions(inputs, transform="logit", method="reml")
>>> round(result.estimate_pct, 1)
37.8

Single-arm proportions (EFS/OS/DFS/CR at a horizon) are pooled on the logit, arcsine,
Freeman-Tukey or raw scale with a fixed-effect or random-effects model (DL, REML, PM, ML),
optionally with the Knapp-Hartung adjustment; every number is checked against R metafor in
``tests/synthesis``. The package is a research tool, never a treatment recommendation.
"""

from infantall.synthesis.bayes import BayesPooled, bayes_pool_proportions
from infantall.synthesis.glmm import GlmmProportion, glmm_proportions
from infantall.synthesis.influence import InfluenceDiagnostics, influence, leave_one_out
from infantall.synthesis.inputs import (
    ProportionInputs,
    VarianceSource,
    proportion_inputs,
    read_proportions_csv,
)
from infantall.synthesis.metareg import MetaRegression, design_matrix, meta_regression
from infantall.synthesis.model import Method, ModelFit, estimate_tau2, fit_model
from infantall.synthesis.pool import PooledProportion, pool_proportions
from infantall.synthesis.smallstudy import EggerTest, egger_test
from infantall.synthesis.subgroups import SubgroupAnalysis, subgroup_analysis
from infantall.synthesis.transforms import EffectSizes, Transform, back_transform, effect_sizes

__all__ = [
    "BayesPooled",
    "EffectSizes",
    "EggerTest",
    "GlmmProportion",
    "InfluenceDiagnostics",
    "MetaRegression",
    "Method",
    "ModelFit",
    "PooledProportion",
    "ProportionInputs",
    "SubgroupAnalysis",
    "Transform",
    "VarianceSource",
    "back_transform",
    "bayes_pool_proportions",
    "design_matrix",
    "effect_sizes",
    "egger_test",
    "estimate_tau2",
    "fit_model",
    "glmm_proportions",
    "influence",
    "leave_one_out",
    "meta_regression",
    "pool_proportions",
    "proportion_inputs",
    "read_proportions_csv",
    "subgroup_analysis",
]
