"""The data dictionary of the REDCap-style CSV the registry imports and exports.

One file, one row per patient plus one row per event (REDCap's "repeating instruments"
layout): patient rows leave ``redcap_repeat_instrument`` empty; event rows set it to
``event``, number themselves in ``redcap_repeat_instance`` and fill the ``event_*``
columns. Patient columns are the fields of ``infantall.domain.Patient``; ``event_<name>``
is the field ``<name>`` of the domain event of kind ``event_kind``. The dictionary is
written in REDCap's data-dictionary columns (Variable / Field Name, Form Name, Field Type,
Field Label, Choices, Text Validation Type, Identifier?, Required Field?).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from infantall.domain import (
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
from infantall.registry.models import EVENT_KINDS

__all__ = [
    "DATA_DICTIONARY",
    "EVENT_COLUMNS",
    "PATIENT_COLUMNS",
    "REDCAP_COLUMNS",
    "Variable",
    "dictionary_records",
]


@dataclass(frozen=True, slots=True)
class Variable:
    """One column of the import/export CSV."""

    name: str
    form: str
    field_type: str
    label: str
    choices: tuple[str, ...] = ()
    validation: str = ""
    identifier: bool = False
    required: bool = False


def _choices(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(m.value for m in enum)


DATA_DICTIONARY: tuple[Variable, ...] = (
    Variable("record_id", "patient", "text", "Site-local patient code (pseudonym; no names)",
             validation="code", identifier=True, required=True),
    Variable("redcap_repeat_instrument", "patient", "text",
             "Empty for the patient row; 'event' for an event row", choices=("", "event")),
    Variable("redcap_repeat_instance", "patient", "text", "Event number within the patient",
             validation="integer"),
    Variable("birth_date", "patient", "text", "Date of birth", validation="date_ymd",
             identifier=True, required=True),
    Variable("diagnosis_date", "patient", "text", "Date of diagnosis", validation="date_ymd",
             required=True),
    Variable("sex", "patient", "dropdown", "Sex", _choices(Sex)),
    Variable("wbc", "patient", "text", "WBC at diagnosis (10^9/L)", validation="number"),
    Variable("immunophenotype", "patient", "dropdown", "Immunophenotype",
             _choices(Immunophenotype)),
    Variable("cd10", "patient", "dropdown", "CD10 expression", _choices(CD10Status)),
    Variable("kmt2a", "patient", "dropdown", "KMT2A status", _choices(KMT2AStatus)),
    Variable("fusion_partner", "patient", "dropdown", "KMT2A fusion partner",
             _choices(FusionPartner)),
    Variable("cns", "patient", "dropdown", "CNS status at diagnosis", _choices(CNSStatus)),
    Variable("day8_blasts", "patient", "text", "Day-8 peripheral blasts per µL",
             validation="number"),
    Variable("prednisone_response", "patient", "dropdown", "Prednisone response",
             _choices(PrednisoneResponse)),
    Variable("day15_marrow", "patient", "dropdown", "Day-15 marrow", _choices(MarrowStatus)),
    Variable("enrollment_date", "patient", "text", "Enrollment date", validation="date_ymd"),
    Variable("protocol", "patient", "text", "Treatment protocol id", validation="code"),
    Variable("notes", "patient", "notes", "Free-text notes (no identifiers)"),
    Variable("event_kind", "event", "dropdown", "Kind of event", EVENT_KINDS),
    Variable("event_date", "event", "text", "Date of the event", validation="date_ymd"),
    Variable("event_status", "event", "dropdown", "Response: end-of-induction status",
             _choices(InductionResponse)),
    Variable("event_marrow", "event", "dropdown", "Response: marrow class",
             _choices(MarrowStatus)),
    Variable("event_value", "event", "text", "MRD: fraction (1e-4 = 0.01%)",
             validation="number"),
    Variable("event_time_point", "event", "dropdown", "MRD: time point",
             _choices(MRDTimePoint)),
    Variable("event_method", "event", "dropdown", "MRD: method", _choices(MRDMethod)),
    Variable("event_detection_limit", "event", "text", "MRD: detection limit (fraction)",
             validation="number"),
    Variable("event_site", "event", "dropdown", "Relapse: site", _choices(RelapseSite)),
    Variable("event_cause", "event", "dropdown", "Death: cause", _choices(DeathCause)),
    Variable("event_donor", "event", "dropdown", "HSCT: donor", _choices(DonorType)),
    Variable("event_hla_match", "event", "text", "HSCT: HLA match 'k/n' (e.g. 5/6)"),
    Variable("event_conditioning", "event", "dropdown", "HSCT: conditioning",
             _choices(Conditioning)),
    Variable("event_diagnosis", "event", "text", "Second malignancy: diagnosis"),
    Variable("event_effect", "event", "dropdown", "Late effect: type",
             _choices(LateEffectType)),
    Variable("event_grade", "event", "text", "Late effect: CTCAE grade 1-5",
             validation="integer"),
)  # fmt: skip

#: Patient columns (after ``record_id`` and the two REDCap repeat columns).
PATIENT_COLUMNS: tuple[str, ...] = tuple(
    v.name
    for v in DATA_DICTIONARY
    if v.form == "patient" and not v.name.startswith(("record", "redcap"))
)
#: Event columns.
EVENT_COLUMNS: tuple[str, ...] = tuple(v.name for v in DATA_DICTIONARY if v.form == "event")
#: The REDCap data-dictionary header.
REDCAP_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Text Validation Type OR Show Slider Number",
    "Identifier?",
    "Required Field?",
)


def dictionary_records() -> list[dict[str, str]]:
    """The data dictionary as rows with REDCap's column names."""
    return [
        dict(
            zip(
                REDCAP_COLUMNS,
                (
                    v.name,
                    v.form,
                    v.field_type,
                    v.label,
                    " | ".join(f"{c}, {c}" for c in v.choices if c),
                    v.validation,
                    "y" if v.identifier else "",
                    "y" if v.required else "",
                ),
                strict=True,
            )
        )
        for v in DATA_DICTIONARY
    ]
