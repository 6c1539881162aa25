"""The domain's single vocabulary: event types, field labels and units, choice labels, and
the one translation of pydantic errors; and what derives from it (the registry's data
dictionary, stored kinds and the web forms)."""

from __future__ import annotations

import datetime as dt
import typing

import pytest
from pydantic import BaseModel, ValidationError

from infantall.domain import (
    EVENT_FIELDS,
    EVENT_KINDS,
    EVENT_TYPES,
    PATIENT_FIELDS,
    Choice,
    Conditioning,
    Death,
    Event,
    InductionResponse,
    MRDMethod,
    Patient,
    PatientHistory,
    Response,
    choices,
    errors_from_pydantic,
    event_type_of,
    field_label,
    field_spec,
)
from infantall.domain import enums as domain_enums
from infantall.errors import InvalidInputError
from infantall.registry.dictionary import DATA_DICTIONARY, EVENT_COLUMNS, PATIENT_COLUMNS
from infantall.registry.models import EVENT_KINDS as STORED_KINDS
from infantall.registry.models import EventKind
from infantall.registry.validation import PATIENT_FIELDS as STORED_PATIENT_FIELDS
from infantall.web.pages.forms import EVENT_FORMS, PATIENT_FORM

ENUMS = [
    getattr(domain_enums, name)
    for name in domain_enums.__all__
    if name != "Choice" and issubclass(getattr(domain_enums, name), Choice)
]


def test_event_types_are_the_event_union_in_same_day_order() -> None:
    members = typing.get_args(typing.get_args(Event)[0])
    assert tuple(t.model for t in EVENT_TYPES.values()) == members
    assert all(t.model.model_fields["kind"].default == k for k, t in EVENT_TYPES.items())
    assert EVENT_KINDS[0] == "response" and EVENT_KINDS[-1] == "death"
    assert EVENT_FIELDS["mrd"] == ("value", "time_point", "method", "detection_limit")
    assert EVENT_FIELDS["last_contact"] == ()


def test_history_sorts_same_day_events_in_vocabulary_order() -> None:
    day = dt.date(2023, 3, 1)
    history = PatientHistory(
        patient=Patient(patient_id="P1", diagnosis_date=dt.date(2023, 1, 1), age_days=100),
        events=(Death(date=day), Response(date=day, status=InductionResponse.no_cr)),
    )
    assert [e.kind for e in history.events] == ["response", "death"]


def test_every_field_has_a_label_and_a_known_type() -> None:
    fields = [*PATIENT_FIELDS.values(), *(f for t in EVENT_TYPES.values() for f in t.fields)]
    for f in fields:
        assert f.label and f.label != f.name, f.name
        assert f.type in {"text", "date", "number", "integer", "choice"}, f.name
        assert (f.type == "choice") == bool(f.choices), f.name
    assert all(t.label for t in EVENT_TYPES.values())


def test_labels_and_units() -> None:
    assert field_label("wbc") == "WBC at diagnosis (10⁹/L)"
    assert field_spec("wbc").unit == "10⁹/L"
    assert field_label("value", kind="mrd") == "MRD (fraction)"
    assert field_spec("patient_id").required and not field_spec("wbc").required
    assert field_spec("status", kind="response").required
    assert "1,000" in field_spec("wbc").help
    # "site" is a text field of the patient and a choice of a relapse
    assert choices("site") == ()
    assert choices("site", kind="relapse")[0] == ("isolated_marrow", "Isolated marrow")


def test_choice_labels() -> None:
    assert InductionResponse.cr.label == "Complete remission (CR)"
    assert MRDMethod.pcr_ig_tcr.label == "PCR (Ig/TCR)"
    assert Conditioning.myeloablative_tbi.label == "Myeloablative with TBI"
    assert choices("status", kind="response") == (
        ("cr", "Complete remission (CR)"),
        ("no_cr", "No CR (induction failure)"),
        ("unknown", "Unknown"),
    )


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_every_choice_has_a_distinct_label(enum: type[Choice]) -> None:
    labels = [m.label for m in enum]
    assert all(labels) and len(set(labels)) == len(labels)
    assert enum("unknown").label == "Unknown"


def test_unknown_names_are_refused() -> None:
    with pytest.raises(KeyError):
        field_spec("colour")
    with pytest.raises(KeyError):
        field_spec("wbc", kind="mrd")
    with pytest.raises(InvalidInputError) as info:
        event_type_of("birthday")
    assert info.value.code == "invalid_choice"


class _Request(BaseModel):
    event: Event
    code: str

    @classmethod
    def check(cls, data: object) -> list[InvalidInputError]:
        try:
            cls.model_validate(data)
        except ValidationError as exc:
            return errors_from_pydantic(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()], root="body"
            )
        return []


def test_one_translation_for_requests_and_domain() -> None:
    errors = _Request.check({"event": {"kind": "mrd", "date": "2023-01-01", "value": 2}, "code": 1})
    assert {(e.field, e.code) for e in errors} == {
        ("event.value", "mrd_out_of_range"),
        ("code", "invalid_type"),
    }
    assert [(e.field, e.code) for e in _Request.check([])] == [("body", "invalid_type")]


def test_custom_pydantic_codes_are_kept() -> None:
    raw = [
        {"type": "invalid_code", "loc": ("body", "local_code"), "msg": "bad code"},
        {"type": "string_too_long", "loc": ("query", "q"), "msg": "too long"},
        {"type": "value_error", "loc": (), "msg": "no"},
    ]
    assert [(e.field, e.code) for e in errors_from_pydantic(raw)] == [
        ("local_code", "invalid_code"),
        ("q", "too_long"),
        ("record", "invalid"),
    ]


def test_registry_stores_the_domain_kinds_and_fields() -> None:
    assert STORED_KINDS == EVENT_KINDS
    assert [k.value for k in EventKind] == list(EVENT_KINDS)
    assert set(STORED_PATIENT_FIELDS) == set(PATIENT_FIELDS) - {"patient_id", "age_days", "site"}


def test_data_dictionary_derives_from_the_vocabulary() -> None:
    assert (*STORED_PATIENT_FIELDS, "notes") == PATIENT_COLUMNS
    attributes = {a for names in EVENT_FIELDS.values() for a in names}
    assert set(EVENT_COLUMNS) == {"event_kind", "event_date"} | {f"event_{a}" for a in attributes}
    variables = {v.name: v for v in DATA_DICTIONARY}
    for name in STORED_PATIENT_FIELDS:
        spec = PATIENT_FIELDS[name]
        assert variables[name].choices == spec.codes
        assert variables[name].label == spec.full_label
    assert variables["event_kind"].choices == EVENT_KINDS
    assert variables["event_method"].choice_labels[0] == "PCR (Ig/TCR)"


def test_forms_derive_from_the_vocabulary() -> None:
    names = [f.name for f in PATIENT_FORM]
    assert names == ["local_code", *STORED_PATIENT_FIELDS, "notes"]
    assert list(EVENT_FORMS) == list(EVENT_KINDS)
    for kind, (label, fields) in EVENT_FORMS.items():
        event_type = EVENT_TYPES[kind]
        assert label == event_type.label
        assert [f.name for f in fields] == [f.name for f in event_type.fields]
        assert fields[0].required  # the date
    wbc = next(f for f in PATIENT_FORM if f.name == "wbc")
    assert (wbc.kind, wbc.label) == ("number", "WBC at diagnosis (10⁹/L)")
    status = next(f for f in EVENT_FORMS["response"][1] if f.name == "status")
    assert status.options[0] == ("cr", "Complete remission (CR)")
    grade = next(f for f in EVENT_FORMS["late_effect"][1] if f.name == "grade")
    assert grade.step == "1"
