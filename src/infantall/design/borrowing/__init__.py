"""Borrowing from history: MAP priors built from the evidence base, for single-arm designs.

:func:`borrowing_prior` (the one function of the question "what prior does the history
give?") builds a meta-analytic-predictive prior by quadrature (:mod:`.prior`), its
Beta-mixture approximation by EM (:mod:`.mixture`), its effective sample size by moments and
by ELIR (:mod:`.ess`) and a robust version; :func:`single_arm_bayes_design` gives the
operating characteristics of a single-arm trial judged against it, and
:func:`single_arm_analysis` its final analysis.
"""

from infantall.design.borrowing.ess import ess_elir, ess_moment
from infantall.design.borrowing.mixture import (
    BetaMixture,
    MixtureFit,
    fit_beta_mixture,
    robustify,
    total_variation,
)
from infantall.design.borrowing.prior import (
    HistoricalStudies,
    MapPrior,
    NormalPrior,
    TauPrior,
    map_prior,
    parse_mu_prior,
    parse_tau_prior,
)
from infantall.design.borrowing.questions import (
    BorrowingPrior,
    borrowing_prior,
    borrowing_prior_from_options,
    studies_from_evidence,
)
from infantall.design.borrowing.singlearm import (
    SingleArmAnalysis,
    SingleArmBayesDesign,
    single_arm_analysis,
    single_arm_bayes_design,
)

__all__ = [
    "BetaMixture",
    "BorrowingPrior",
    "HistoricalStudies",
    "MapPrior",
    "MixtureFit",
    "NormalPrior",
    "SingleArmAnalysis",
    "SingleArmBayesDesign",
    "TauPrior",
    "borrowing_prior",
    "borrowing_prior_from_options",
    "ess_elir",
    "ess_moment",
    "fit_beta_mixture",
    "map_prior",
    "parse_mu_prior",
    "parse_tau_prior",
    "robustify",
    "single_arm_analysis",
    "single_arm_bayes_design",
    "studies_from_evidence",
    "total_variation",
]
