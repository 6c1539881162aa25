"""Survival analyses that infant-ALL trials publish, checked against R.

Kaplan–Meier (:mod:`.km`), the log-rank family (:mod:`.logrank`), competing risks
(:mod:`.competing`, :mod:`.finegray`), Cox models (:mod:`.cox`), HSCT as a time-dependent
exposure and landmark analyses (:mod:`.hsct`); one function per question the presenters ask
(:mod:`.questions`: survival at horizons, the HSCT analyses; :mod:`.table_one`). Every
function takes plain arrays or a pandas DataFrame and returns a frozen result with a
``summary`` DataFrame and
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
from infantall.outcomes.followup import (
    FollowUp,
    FollowUpSummary,
    Population,
    analysis_populations,
    dataset_follow_up,
    reverse_km_follow_up,
)
from infantall.outcomes.formula import ModelFrame, model_frame
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
from infantall.outcomes.hsct_questions import (
    Estimate,
    HSCTAnalysis,
    dataset_hsct_analysis,
    hsct_analysis,
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
from infantall.outcomes.multistate import (
    INFANT_ALL,
    MultiStateData,
    StateOccupation,
    TransitionMatrix,
    aalen_johansen,
    infant_all_data,
    multistate_data,
    transition_probabilities,
)
from infantall.outcomes.multistate.course import (
    DiseaseCourse,
    MultiStateAnalysis,
    disease_course,
    multistate_analysis,
)
from infantall.outcomes.multistate.cox import MultiStateCox, multistate_cox
from infantall.outcomes.questions import (
    CumulativeIncidenceAtHorizons,
    SurvivalAtHorizons,
    clinical_order,
    cumulative_incidence_at_horizons,
    ordered_groups,
    survival_at_horizons,
)
from infantall.outcomes.regression import (
    CoxModel,
    FineGrayModel,
    ModelTest,
    cox_model,
    fine_gray_model,
)
from infantall.outcomes.table_one import TableOne, table_one

__all__ = [
    "ERROR_CODES",
    "INFANT_ALL",
    "CoxModel",
    "CoxResult",
    "CumulativeIncidence",
    "CumulativeIncidenceAtHorizons",
    "CumulativeIncidenceResult",
    "DiseaseCourse",
    "Estimate",
    "FineGrayModel",
    "FineGrayResult",
    "FollowUp",
    "FollowUpSummary",
    "GrayTestResult",
    "HSCTAnalysis",
    "KaplanMeierResult",
    "LandmarkResult",
    "LogRankResult",
    "MantelByarResult",
    "ModelFrame",
    "ModelTest",
    "MultiStateAnalysis",
    "MultiStateCox",
    "MultiStateData",
    "OutcomesWarning",
    "PHTestResult",
    "PairwiseResult",
    "Population",
    "RMSTResult",
    "StateOccupation",
    "SurvivalAtHorizons",
    "SurvivalCurves",
    "TableOne",
    "TransitionMatrix",
    "TrendResult",
    "aalen_johansen",
    "analysis_populations",
    "clinical_order",
    "concordance_index",
    "counting_process",
    "cox_model",
    "cox_ph",
    "cumulative_incidence",
    "cumulative_incidence_at_horizons",
    "dataset_follow_up",
    "dataset_hsct_analysis",
    "disease_course",
    "fine_gray",
    "fine_gray_model",
    "gray_test",
    "hsct_analysis",
    "infant_all_data",
    "kaplan_meier",
    "kaplan_meier_by_group",
    "landmark",
    "logrank_test",
    "mantel_byar",
    "model_frame",
    "mrd_landmark",
    "multistate_analysis",
    "multistate_cox",
    "multistate_data",
    "ordered_groups",
    "pairwise_logrank",
    "reverse_km_follow_up",
    "simon_makuch",
    "survival_at_horizons",
    "table_one",
    "time_dependent_cox",
    "transition_probabilities",
    "trend_test",
]
