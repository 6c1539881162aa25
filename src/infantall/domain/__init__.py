"""The core types of infantall: a patient at diagnosis and the dated events after it.

Validated, immutable (frozen pydantic v2 models), JSON-friendly (``from_dict`` /
``to_dict`` round-trip) and pure: no database, no files, no printing. Invalid input raises
:class:`InvalidRecordError` (an :class:`~infantall.errors.InvalidInputError`) whose
``errors`` list every problem with a stable code from :data:`ERROR_CODES`; implausible but
possible values are kept with an :class:`ImplausibleValueWarning`.

Examples
--------
>>> from infantall.domain import Patient
>>> p = Patient(patient_id="P1", age_days=120, wbc=350, kmt2a="rearranged")
>>> p.kmt2a.value, p.cns.value
('rearranged', 'unknown')
"""

from infantall.domain.enums import (
    CD10Status,
    CNSStatus,
    Conditioning,
    DeathCause,
    DonorType,
    FusionPartner,
    Immunophenotype,
    InductionResponse,
    KMT2AStatus,
    LateEffectType,
    MarrowStatus,
    MRDMethod,
    MRDTimePoint,
    PrednisoneResponse,
    RelapseSite,
    Sex,
)
from infantall.domain.errors import (
    ERROR_CODES,
    ImplausibleValueWarning,
    InvalidRecordError,
)
from infantall.domain.events import (
    HSCT,
    Death,
    Event,
    LastContact,
    LateEffect,
    MRDResult,
    Relapse,
    Response,
    SecondMalignancy,
)
from infantall.domain.history import EVENT_KINDS, PatientHistory
from infantall.domain.patient import (
    IMPLAUSIBLE_WBC,
    INFANT_MAX_AGE_DAYS,
    PPR_THRESHOLD_PER_UL,
    Patient,
)

__all__ = [
    "ERROR_CODES",
    "EVENT_KINDS",
    "HSCT",
    "IMPLAUSIBLE_WBC",
    "INFANT_MAX_AGE_DAYS",
    "PPR_THRESHOLD_PER_UL",
    "CD10Status",
    "CNSStatus",
    "Conditioning",
    "Death",
    "DeathCause",
    "DonorType",
    "Event",
    "FusionPartner",
    "Immunophenotype",
    "ImplausibleValueWarning",
    "InductionResponse",
    "InvalidRecordError",
    "KMT2AStatus",
    "LastContact",
    "LateEffect",
    "LateEffectType",
    "MRDMethod",
    "MRDResult",
    "MRDTimePoint",
    "MarrowStatus",
    "Patient",
    "PatientHistory",
    "PrednisoneResponse",
    "Relapse",
    "RelapseSite",
    "Response",
    "SecondMalignancy",
    "Sex",
]
