"""Validation of event histories: dates, order, death, round trips."""

from __future__ import annotations

from typing import Any

import pytest

from infantall.domain import (
    ERROR_CODES,
    HSCT,
    Death,
    MRDTimePoint,
    PatientHistory,
    Relapse,
    Response,
)
from infantall.errors import InvalidInputError

PATIENT = {"patient_id": "H1", "birth_date": "2020-01-01", "diagnosis_date": "2020-03-01"}


def _history(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"patient": PATIENT, "events": events}


FULL = _history(
    [
        {"kind": "death", "date": "2021-09-01", "cause": "hsct_related"},
        {
            "kind": "hsct",
            "date": "2020-09-01",
            "donor": "unrelated",
            "hla_match": "5/6",
            "conditioning": "myeloablative_busulfan",
        },
        {"kind": "response", "date": "2020-04-05", "status": "cr", "marrow": "M1"},
        {
            "kind": "mrd",
            "date": "2020-04-05",
            "value": 2e-4,
            "time_point": "end_of_induction",
            "method": "pcr_ig_tcr",
            "detection_limit": 1e-5,
        },
        {"kind": "relapse", "date": "2021-03-01", "site": "combined"},
        {"kind": "second_malignancy", "date": "2021-04-01", "diagnosis": "AML"},
        {"kind": "late_effect", "date": "2021-05-01", "effect": "growth", "grade": 2},
        {"kind": "last_contact", "date": "2021-08-01"},
    ]
)


def test_events_are_sorted_and_typed() -> None:
    h = PatientHistory.from_dict(FULL)
    assert [e.kind for e in h.events] == [
        "response",
        "mrd",
        "hsct",
        "relapse",
        "second_malignancy",
        "late_effect",
        "last_contact",
        "death",
    ]
    assert isinstance(h.induction_response, Response) and h.induction_response.is_cr
    assert isinstance(h.death, Death) and h.death.cause.value == "hsct_related"
    assert isinstance(h.relapses[0], Relapse)
    assert isinstance(h.transplants[0], HSCT) and h.transplants[0].hla_loci == (5, 6)
    mrd = h.mrd(MRDTimePoint.end_of_induction)
    assert mrd is not None and mrd.value == pytest.approx(2e-4)
    assert h.mrd(MRDTimePoint.start_of_octadad) is None
    assert h.last_follow_up.isoformat() == "2021-09-01"  # type: ignore[union-attr]
    assert h.last_contact is not None


def test_round_trip() -> None:
    h = PatientHistory.from_dict(FULL)
    assert PatientHistory.from_dict(h.to_dict()) == h


def test_no_events() -> None:
    h = PatientHistory.from_dict({"patient": PATIENT})
    assert h.events == ()
    assert h.death is None and h.induction_response is None
    assert h.last_follow_up is not None and h.last_follow_up.isoformat() == "2020-03-01"


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (
            [{"kind": "relapse", "date": "2020-02-29"}],
            [("events[0].date", "event_before_diagnosis")],
        ),
        (
            [{"kind": "death", "date": "2020-05-01"}, {"kind": "hsct", "date": "2020-05-02"}],
            [("events[1].date", "events_out_of_order")],
        ),
        (
            [
                {"kind": "death", "date": "2020-05-01"},
                {"kind": "last_contact", "date": "2020-06-02"},
            ],
            [("events[1].date", "events_out_of_order")],
        ),
        (
            [{"kind": "death", "date": "2020-05-01"}, {"kind": "death", "date": "2020-05-01"}],
            [("events[1]", "multiple_deaths")],
        ),
        (
            [{"kind": "hsct", "date": "2020-05-01", "hla_match": "7/6"}],
            [("events[0].hla_match", "invalid_hla_match")],
        ),
        (
            [{"kind": "hsct", "date": "2020-05-01", "hla_match": "five"}],
            [("events[0].hla_match", "invalid_hla_match")],
        ),
        (
            [{"kind": "mrd", "date": "2020-05-01", "value": 1.5}],
            [("events[0].value", "mrd_out_of_range")],
        ),
        (
            [{"kind": "mrd", "date": "2020-05-01", "value": -1e-4}],
            [("events[0].value", "mrd_out_of_range")],
        ),
        (
            [{"kind": "late_effect", "date": "2020-05-01", "grade": 6}],
            [("events[0].grade", "invalid_grade")],
        ),
        (
            [{"kind": "response", "date": "2020-05-01", "status": "cr", "marrow": "M3"}],
            [("events[0].marrow", "response_marrow_mismatch")],
        ),
        ([{"kind": "cure", "date": "2020-05-01"}], [("events[0].kind", "invalid_choice")]),
        ([{"kind": "relapse"}], [("events[0].date", "missing_field")]),
        ([{"kind": "relapse", "date": "2020-13-01"}], [("events[0].date", "invalid_type")]),
    ],
)
def test_invalid_histories(events: list[dict[str, Any]], expected: list[tuple[str, str]]) -> None:
    data = _history(events)
    assert [(e.field, e.code) for e in PatientHistory.collect_errors(data)] == expected
    assert all(code in ERROR_CODES for _, code in expected)
    with pytest.raises(InvalidInputError):
        PatientHistory.from_dict(data)


def test_hsct_on_the_day_of_death_is_allowed() -> None:
    h = PatientHistory.from_dict(
        _history([{"kind": "death", "date": "2020-05-01"}, {"kind": "hsct", "date": "2020-05-01"}])
    )
    assert [e.kind for e in h.events] == ["hsct", "death"]


def test_events_need_a_diagnosis_date() -> None:
    data = {
        "patient": {"patient_id": "X", "age_days": 40},
        "events": [{"kind": "relapse", "date": "2020-01-01"}],
    }
    assert [(e.field, e.code) for e in PatientHistory.collect_errors(data)] == [
        ("patient.diagnosis_date", "missing_diagnosis_date")
    ]


def test_patient_errors_are_rooted_at_patient() -> None:
    data = {"patient": {"patient_id": "X", "age_days": 400, "wbc": -1}, "events": []}
    assert [(e.field, e.code) for e in PatientHistory.collect_errors(data)] == [
        ("patient.age_days", "not_an_infant"),
        ("patient.wbc", "negative_wbc"),
    ]


def test_all_errors_of_a_record_in_one_pass() -> None:
    """Field errors do not hide cross-field errors elsewhere in the record."""
    data = {
        "patient": {
            "patient_id": "X",
            "diagnosis_date": "2020-03-01",
            "age_days": 30,
            "wbc": -1,
            "kmt2a": "germline",
            "fusion_partner": "AFF1",
        },
        "events": [
            {"kind": "relapse", "date": "bad"},
            {"kind": "death", "date": "2020-04-01"},
            {"kind": "hsct", "date": "2020-05-01", "hla_match": "7/6"},
            {"kind": "relapse", "date": "2020-06-01"},
        ],
    }
    assert [(e.field, e.code) for e in PatientHistory.collect_errors(data)] == [
        ("patient.wbc", "negative_wbc"),
        ("patient.fusion_partner", "fusion_partner_mismatch"),
        ("events[0].date", "invalid_type"),
        ("events[2].hla_match", "invalid_hla_match"),
        ("events[3].date", "events_out_of_order"),
    ]


def test_patient_cross_field_errors_do_not_hide_event_errors() -> None:
    data = {
        "patient": {"patient_id": "X", "diagnosis_date": "2020-03-01", "birth_date": "2020-04-01"},
        "events": [
            {"kind": "death", "date": "2020-04-01"},
            {"kind": "relapse", "date": "2020-06-01"},
            {"kind": "relapse", "date": "2020-01-01"},
        ],
    }
    assert [(e.field, e.code) for e in PatientHistory.collect_errors(data)] == [
        ("patient.diagnosis_date", "diagnosis_before_birth"),
        ("events[1].date", "events_out_of_order"),
        ("events[2].date", "event_before_diagnosis"),
    ]
