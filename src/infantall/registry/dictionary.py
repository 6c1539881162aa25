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

from collections.abc import Iterator
from dataclasses import dataclass

from infantall.domain import EVENT_TYPES, PATIENT_FIELDS, FieldSpec
from infantall.registry.schemas import PatientCreate
from infantall.registry.validation import PATIENT_FIELDS as STORED_PATIENT_FIELDS

__all__ = [
    "DATA_DICTIONARY",
    "EVENT_COLUMNS",
    "PATIENT_COLUMNS",
    "REDCAP_COLUMNS",
    "Variable",
    "dictionary_records",
    "normalise_choices",
]


@dataclass(frozen=True, slots=True)
class Variable:
    """One column of the import/export CSV (``choices`` are the stored codes,
    ``choice_labels`` their human labels, in the same order)."""

    name: str
    form: str
    field_type: str
    label: str
    choices: tuple[str, ...] = ()
    validation: str = ""
    identifier: bool = False
    required: bool = False
    choice_labels: tuple[str, ...] = ()


#: REDCap text validation of each domain value type.
_VALIDATION = {"date": "date_ymd", "number": "number", "integer": "integer"}
#: What the registry adds to the domain's facts about a patient field: the date of birth
#: identifies a child; the protocol is a code. Required fields are those the request schema
#: requires (both dates: the registry computes the age from them).
_IDENTIFIERS = frozenset({"birth_date"})
_CODES = frozenset({"protocol"})
_REQUIRED = frozenset(n for n, f in PatientCreate.model_fields.items() if f.is_required())


def _variable(name: str, form: str, spec: FieldSpec, label: str) -> Variable:
    return Variable(
        name=name,
        form=form,
        field_type="dropdown" if spec.choices else "text",
        label=label,
        choices=spec.codes,
        validation="code" if spec.name in _CODES else _VALIDATION.get(spec.type, ""),
        identifier=spec.name in _IDENTIFIERS,
        required=form == "patient" and spec.name in _REQUIRED,
        choice_labels=tuple(text for _, text in spec.choices),
    )


def _patient_variables() -> Iterator[Variable]:
    for name in STORED_PATIENT_FIELDS:
        spec = PATIENT_FIELDS[name]
        yield _variable(name, "patient", spec, spec.full_label)


def _event_variables() -> Iterator[Variable]:
    """``event_<name>`` for each field of the event types (``date`` once, shared)."""
    kinds = tuple(EVENT_TYPES.values())
    yield Variable(
        "event_kind",
        "event",
        "dropdown",
        "Kind of event",
        tuple(t.kind for t in kinds),
        choice_labels=tuple(t.label for t in kinds),
    )
    date = kinds[0].fields[0]
    yield _variable("event_date", "event", date, "Date of the event")
    seen = {"date"}
    for event_type in kinds:
        for spec in event_type.fields:
            if spec.name not in seen:
                seen.add(spec.name)
                label = f"{event_type.label}: {spec.full_label}"
                yield _variable(f"event_{spec.name}", "event", spec, label)


#: The data dictionary: the REDCap columns, the stored patient fields and the event fields
#: of ``infantall.domain`` (labels, units and choices from its vocabulary), and the notes.
DATA_DICTIONARY: tuple[Variable, ...] = (
    Variable("record_id", "patient", "text", "Site-local patient code (pseudonym; no names)",
             validation="code", identifier=True, required=True),
    Variable("redcap_repeat_instrument", "patient", "text",
             "Empty for the patient row; 'event' for an event row", choices=("", "event")),
    Variable("redcap_repeat_instance", "patient", "text", "Event number within the patient",
             validation="integer"),
    *_patient_variables(),
    Variable("notes", "patient", "notes", "Free-text notes (no identifiers)"),
    *_event_variables(),
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


def _choices(v: Variable) -> str:
    """REDCap's "code, label | code, label" (the code twice when there is no label)."""
    labels = v.choice_labels or v.choices
    return " | ".join(f"{c}, {t}" for c, t in zip(v.choices, labels, strict=True) if c)


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
                    _choices(v),
                    v.validation,
                    "y" if v.identifier else "",
                    "y" if v.required else "",
                ),
                strict=True,
            )
        )
        for v in DATA_DICTIONARY
    ]


#: The codes of every choice column, by their case-folded spelling: "Rearranged" and
#: "REARRANGED" are read as "rearranged", "cns3" as "CNS3" (a spreadsheet capitalises freely).
_CHOICE_CODES: dict[str, dict[str, str]] = {
    v.name: {str(c).casefold(): str(c) for c in v.choices if c}
    for v in DATA_DICTIONARY
    if v.choices
}


def normalise_choices(cells: dict[str, str]) -> dict[str, str]:
    """Choice cells spelled in another case replaced by their code; the rest unchanged."""
    out = dict(cells)
    for name, value in cells.items():
        codes = _CHOICE_CODES.get(name)
        if codes and value and value not in codes.values():
            out[name] = codes.get(value.strip().casefold(), value)
    return out
