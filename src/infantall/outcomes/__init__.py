"""Survival analyses that infant-ALL trials publish, checked against R.

Kaplan–Meier (:mod:`.km`), the log-rank family (:mod:`.logrank`), competing risks
(:mod:`.competing`, :mod:`.finegray`), Cox models (:mod:`.cox`), HSCT as a time-dependent
exposure and landmark analyses (:mod:`.hsct`). Every function takes plain arrays or a
pandas DataFrame and returns a frozen result with a ``summary`` DataFrame and
``print_summary()``. Endpoint derivation from domain histories is in
:mod:`infantall.outcomes.endpoints`; figures in :mod:`infantall.reports.figures.survival`.
"""

from infantall.outcomes._validate import ERROR_CODES, OutcomesWarning
from infantall.outcomes.competing import (
    CumulativeIncidence,
    CumulativeIncidenceResult,
    GrayTestResult,
    cumulative_incidence,
    gray_test,
)
from infantall.outcomes.cox import CoxResult, PHTestResult, concordance_index, cox_ph
from infantall.outcomes.finegray import FineGrayResult, fine_gray
from infantall.outcomes.hsct import (
    LandmarkResult,
    MantelByarResult,
    counting_process,
    landmark,
    mantel_byar,
    mrd_landmark,
    simon_makuch,
    time_dependent_cox,
)
from infantall.outcomes.km import (
    KaplanMeierResult,
    RMSTResult,
    SurvivalCurves,
    kaplan_meier,
    kaplan_meier_by_group,
)
from infantall.outcomes.logrank import (
    LogRankResult,
    PairwiseResult,
    TrendResult,
    logrank_test,
    pairwise_logrank,
    trend_test,
)

__all__ = [
    "ERROR_CODES",
    "CoxResult",
    "CumulativeIncidence",
    "CumulativeIncidenceResult",
    "FineGrayResult",
    "GrayTestResult",
    "KaplanMeierResult",
    "LandmarkResult",
    "LogRankResult",
    "MantelByarResult",
    "OutcomesWarning",
    "PHTestResult",
    "PairwiseResult",
    "RMSTResult",
    "SurvivalCurves",
    "TrendResult",
    "concordance_index",
    "counting_process",
    "cox_ph",
    "cumulative_incidence",
    "fine_gray",
    "gray_test",
    "kaplan_meier",
    "kaplan_meier_by_group",
    "landmark",
    "logrank_test",
    "mantel_byar",
    "mrd_landmark",
    "pairwise_logrank",
    "simon_makuch",
    "time_dependent_cox",
    "trend_test",
]
