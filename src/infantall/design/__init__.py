"""Trial design for a disease too rare for classic designs.

Classical designs (sample size for survival endpoints, Lan–DeMets group-sequential
boundaries, single-arm designs against a historical control, accrual), a vectorised
simulator of Bayesian adaptive multi-arm trials (:mod:`infantall.design.adaptive`), and
borrowing from history: MAP priors from the evidence base and single-arm Bayesian designs
(:mod:`infantall.design.borrowing`).
"""

from infantall.design.accrual import accrual_duration, consortium_accrual
from infantall.design.borrowing import (
    BetaMixture,
    BorrowingPrior,
    HistoricalStudies,
    MapPrior,
    SingleArmAnalysis,
    SingleArmBayesDesign,
    borrowing_prior,
    map_prior,
    single_arm_analysis,
    single_arm_bayes_design,
)
from infantall.design.conditional_power import conditional_power, promising_zone
from infantall.design.groupseq import (
    GroupSequentialDesign,
    alpha_spending,
    crossing_probabilities,
    group_sequential_design,
)
from infantall.design.groupseq_bounds import beta_spending_design, classic_design
from infantall.design.historical import (
    BinomialDesign,
    BinomialTestResult,
    OneSampleLogrankDesign,
    OneSampleLogrankResult,
    exact_binomial_design,
    exact_binomial_test,
    one_sample_logrank_design,
    one_sample_logrank_test,
)
from infantall.design.questions import (
    HistoricalControlDesigns,
    SingleArmDesign,
    historical_control_designs,
    single_arm_designs,
)
from infantall.design.simon import simon_two_stage
from infantall.design.survival import (
    Accrual,
    PiecewiseExponential,
    SurvivalSampleSize,
    dropout_hazard,
    events_required,
    probability_of_event,
    sample_size_survival,
)
from infantall.design.tte_posterior import piecewise_posterior, prob_hazard_ratio_below

__all__ = [
    "Accrual",
    "BetaMixture",
    "BinomialDesign",
    "BinomialTestResult",
    "BorrowingPrior",
    "GroupSequentialDesign",
    "HistoricalControlDesigns",
    "HistoricalStudies",
    "MapPrior",
    "OneSampleLogrankDesign",
    "OneSampleLogrankResult",
    "PiecewiseExponential",
    "SingleArmAnalysis",
    "SingleArmBayesDesign",
    "SingleArmDesign",
    "SurvivalSampleSize",
    "accrual_duration",
    "alpha_spending",
    "beta_spending_design",
    "borrowing_prior",
    "classic_design",
    "conditional_power",
    "consortium_accrual",
    "crossing_probabilities",
    "dropout_hazard",
    "events_required",
    "exact_binomial_design",
    "exact_binomial_test",
    "group_sequential_design",
    "historical_control_designs",
    "map_prior",
    "one_sample_logrank_design",
    "one_sample_logrank_test",
    "piecewise_posterior",
    "prob_hazard_ratio_below",
    "probability_of_event",
    "promising_zone",
    "sample_size_survival",
    "simon_two_stage",
    "single_arm_analysis",
    "single_arm_bayes_design",
    "single_arm_designs",
]
