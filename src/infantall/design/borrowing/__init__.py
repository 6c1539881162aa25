"""Borrowing from history: MAP priors built from the evidence base, for single-arm designs.

:func:`borrowing_prior` (the one function of the question "what prior does the history
give?") builds a meta-analytic-predictive prior by quadrature (:mod:`.prior`), its
Beta-mixture approximation by EM (:mod:`.mixture`), its effective sample size by moments and
by ELIR (:mod:`.ess`) and a robust version; :func:`single_arm_bayes_design` gives the
operating characteristics of a single-arm trial judged against it, and
:func:`single_arm_analysis` its final analysis. :func:`tte_borrowing_prior` is the
time-to-event version: a MAP prior on piecewise-constant log-hazards (:mod:`.tte`) with a
Gamma mixture per interval (:mod:`.gamma_mixture`), usable as the control prior of
:func:`infantall.design.tte_posterior.piecewise_mixture_posterior`.
"""

from infantall.design.borrowing.ess import ess_elir, ess_moment
from infantall.design.borrowing.gamma_mixture import (
    GammaMixture,
    fit_gamma_mixture,
    gamma_ess_elir,
    gamma_ess_moment,
    robustify_gamma,
)
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
from infantall.design.borrowing.tte import TteMapPrior, TteStudies, tte_map_prior
from infantall.design.borrowing.tte_questions import (
    TteBorrowingPrior,
    tte_borrowing_prior,
    tte_borrowing_prior_from_options,
    tte_studies_from_evidence,
)

__all__ = [
    "BetaMixture",
    "BorrowingPrior",
    "GammaMixture",
    "HistoricalStudies",
    "MapPrior",
    "MixtureFit",
    "NormalPrior",
    "SingleArmAnalysis",
    "SingleArmBayesDesign",
    "TauPrior",
    "TteBorrowingPrior",
    "TteMapPrior",
    "TteStudies",
    "borrowing_prior",
    "borrowing_prior_from_options",
    "ess_elir",
    "ess_moment",
    "fit_beta_mixture",
    "fit_gamma_mixture",
    "gamma_ess_elir",
    "gamma_ess_moment",
    "map_prior",
    "parse_mu_prior",
    "parse_tau_prior",
    "robustify",
    "robustify_gamma",
    "single_arm_analysis",
    "single_arm_bayes_design",
    "studies_from_evidence",
    "total_variation",
    "tte_borrowing_prior",
    "tte_borrowing_prior_from_options",
    "tte_map_prior",
    "tte_studies_from_evidence",
]
