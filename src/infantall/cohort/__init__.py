"""Synthetic, realistic infant-ALL cohorts for demos, tests and benchmarks. SYNTHETIC.

Real infant data cannot ship. :func:`generate_cohort` draws a seeded, reproducible,
multi-site cohort whose diagnosis features follow published distributions and whose
outcomes are calibrated by risk group to published trial results (Interfant-06, MLL-10),
with every parameter's source in :mod:`infantall.cohort.features`,
:mod:`infantall.cohort.calibration` and :mod:`infantall.cohort.outcomes`. Every record,
file and summary is labelled SYNTHETIC; none of it describes a real child.

Examples
--------
>>> from infantall.cohort import generate_cohort
>>> cohort = generate_cohort(600, sites=18, seed=1)
>>> cohort.metadata["synthetic"]
True
"""

from infantall.cohort.accrual import Accrual
from infantall.cohort.calibration import (
    CALIBRATION_TARGETS,
    CalibratedModel,
    CalibrationTarget,
    GroupRates,
    Timing,
    calibrate,
    targets_frame,
)
from infantall.cohort.features import FeatureModel
from infantall.cohort.model import (
    PATIENT_COLUMNS,
    REALISTIC_MISSING,
    SYNTHETIC_LABEL,
    SyntheticCohort,
    endpoint_frame,
    generate_cohort,
)
from infantall.cohort.outcomes import EVENT_COLUMNS, OutcomeOptions

__all__ = [
    "CALIBRATION_TARGETS",
    "EVENT_COLUMNS",
    "PATIENT_COLUMNS",
    "REALISTIC_MISSING",
    "SYNTHETIC_LABEL",
    "Accrual",
    "CalibratedModel",
    "CalibrationTarget",
    "FeatureModel",
    "GroupRates",
    "OutcomeOptions",
    "SyntheticCohort",
    "Timing",
    "calibrate",
    "endpoint_frame",
    "generate_cohort",
    "targets_frame",
]
