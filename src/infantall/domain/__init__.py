"""The core types of infantall: a patient at diagnosis and the dated events after it.

Validated, immutable (frozen pydantic v2 models), JSON-friendly (``from_dict`` /
``to_dict`` round-trip) and pure: no database, no files, no printing. Invalid input raises
:class:`InvalidRecordError` (an :class:`~infantall.errors.InvalidInputError`) whose
``errors`` list every problem with a stable code from :data:`ERROR_CODES`; implausible but
possible values are kept with an :class:`ImplausibleValueWarning`. The impossible bounds
are in :mod:`infantall.domain.bounds`; the labels, units and choices of every field and the
registry of event types in :mod:`infantall.domain.vocabulary`.

Examples
--------
>>> from infantall.domain import Patient
>>> p = Patient(patient_id="P1", age_days=120, wbc=350, kmt2a="rearranged")
>>> p.kmt2a.value, p.cns.value
('rearranged', 'unknown')
"""

from infantall.domain._fields import IsoDate
from infantall.domain.bounds import (
    GRADE_MAX,
    GRADE_MIN,
    IMPLAUSIBLE_WBC,
    INFANT_MAX_AGE_DAYS,
    MAX_BLASTS_PER_UL,
    MAX_WBC,
    MRD_MAX,
    MRD_MIN,
    PPR_THRESHOLD_PER_UL,
)
from infantall.domain.enums import (
    CD10Status,
    Choice,
    CNSStatus,
    Conditioning,
    DeathCause,
    DiseaseStatus,
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
    RefractoryPhase,
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
    RefractoryDisease,
    Relapse,
    Response,
    SalvageTherapy,
    SecondMalignancy,
    SecondRemission,
)
from infantall.domain.history import PatientHistory
from infantall.domain.patient import Patient
from infantall.domain.vocabulary import (
    EVENT_FIELDS,
    EVENT_KINDS,
    EVENT_TYPES,
    PATIENT_FIELDS,
    EventType,
    FieldSpec,
    choices,
    errors_from_pydantic,
    event_type_of,
    field_label,
    field_spec,
)

__all__ = [
    "ERROR_CODES",
    "EVENT_FIELDS",
    "EVENT_KINDS",
    "EVENT_TYPES",
    "GRADE_MAX",
    "GRADE_MIN",
    "HSCT",
    "IMPLAUSIBLE_WBC",
    "INFANT_MAX_AGE_DAYS",
    "MAX_BLASTS_PER_UL",
    "MAX_WBC",
    "MRD_MAX",
    "MRD_MIN",
    "PATIENT_FIELDS",
    "PPR_THRESHOLD_PER_UL",
    "CD10Status",
    "CNSStatus",
    "Choice",
    "Conditioning",
    "Death",
    "DeathCause",
    "DiseaseStatus",
    "DonorType",
    "Event",
    "EventType",
    "FieldSpec",
    "FusionPartner",
    "Immunophenotype",
    "ImplausibleValueWarning",
    "InductionResponse",
    "InvalidRecordError",
    "IsoDate",
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
    "RefractoryDisease",
    "RefractoryPhase",
    "Relapse",
    "RelapseSite",
    "Response",
    "SalvageTherapy",
    "SecondMalignancy",
    "SecondRemission",
    "Sex",
    "choices",
    "errors_from_pydantic",
    "event_type_of",
    "field_label",
    "field_spec",
]
