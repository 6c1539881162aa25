"""Validation of the patient at diagnosis: every error code, warnings, round trips."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from infantall.domain import (
    ERROR_CODES,
    CNSStatus,
    ImplausibleValueWarning,
    InvalidRecordError,
    KMT2AStatus,
    Patient,
    PrednisoneResponse,
)
from infantall.errors import InfantallWarning, InvalidInputError

BASE: dict[str, Any] = {
    "patient_id": "P1",
    "birth_date": "2020-01-01",
    "diagnosis_date": "2020-03-01",
    "wbc": 120.0,
    "kmt2a": "rearranged",
}


def _codes(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in Patient.collect_errors(data)]


def test_age_is_computed_from_the_dates() -> None:
    p = Patient.from_dict(BASE)
    assert p.age_days == 60  # 31 days of January + 29 of February 2020 (leap year)
    assert p.cns is CNSStatus.unknown
    assert p.kmt2a_rearranged is True


def test_age_alone_is_enough() -> None:
    p = Patient(patient_id="P2", age_days=200)
    assert p.birth_date is None
    assert p.kmt2a is KMT2AStatus.unknown
    assert p.kmt2a_rearranged is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"diagnosis_date": "2019-12-31"}, [("diagnosis_date", "diagnosis_before_birth")]),
        (
            {"birth_date": None, "diagnosis_date": None, "age_days": 366},
            [("age_days", "not_an_infant")],
        ),
        ({"birth_date": "2019-01-01"}, [("diagnosis_date", "not_an_infant")]),
        ({"birth_date": None, "age_days": -1}, [("age_days", "negative_age")]),
        ({"age_days": 59}, [("age_days", "age_mismatch")]),
        ({"wbc": -0.1}, [("wbc", "negative_wbc")]),
        ({"wbc": "abc"}, [("wbc", "invalid_type")]),
        ({"wbc": float("nan")}, [("wbc", "not_a_number")]),
        ({"day8_blasts": -5}, [("day8_blasts", "negative_blast_count")]),
        (
            {"day8_blasts": 999, "prednisone_response": "poor"},
            [("prednisone_response", "prednisone_response_mismatch")],
        ),
        (
            {"kmt2a": "germline", "fusion_partner": "AFF1"},
            [("fusion_partner", "fusion_partner_mismatch")],
        ),
        ({"fusion_partner": "none"}, [("fusion_partner", "fusion_partner_mismatch")]),
        ({"enrollment_date": "2020-02-29"}, [("enrollment_date", "enrollment_before_diagnosis")]),
        ({"cns": "CNS4"}, [("cns", "invalid_choice")]),
        ({"colour": "blue"}, [("colour", "unknown_field")]),
        ({"patient_id": None}, [("patient_id", "invalid_type")]),
    ],
)
def test_each_invalid_value_has_its_code(
    change: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    data = {**BASE, **change}
    assert _codes(data) == expected
    with pytest.raises(InvalidInputError) as info:
        Patient.from_dict(data)
    assert (info.value.field, info.value.code) == expected[0]
    for _, code in expected:
        assert code in ERROR_CODES


def test_missing_patient_id() -> None:
    assert _codes({"age_days": 3}) == [("patient_id", "missing_field")]


def test_all_field_errors_are_collected() -> None:
    data = {"patient_id": "X", "age_days": 400, "wbc": -3, "cns": "CNS9", "day8_blasts": -1}
    assert _codes(data) == [
        ("age_days", "not_an_infant"),
        ("wbc", "negative_wbc"),
        ("cns", "invalid_choice"),
        ("day8_blasts", "negative_blast_count"),
    ]
    with pytest.raises(InvalidRecordError) as info:
        Patient.from_dict(data)
    assert len(info.value.errors) == 4
    assert info.value.as_list()[1] == {
        "field": "wbc",
        "reason": "WBC -3.0 is negative",
        "code": "negative_wbc",
    }


def test_not_a_mapping() -> None:
    with pytest.raises(InvalidInputError, match="invalid_type"):
        Patient.from_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(("blasts", "cls"), [(999.0, "good"), (1000.0, "poor"), (0.0, "good")])
def test_prednisone_class_from_blasts(blasts: float, cls: str) -> None:
    p = Patient(patient_id="P", age_days=10, day8_blasts=blasts)
    assert p.prednisone_response is PrednisoneResponse(cls)


def test_boundaries_accepted() -> None:
    assert Patient(patient_id="P", age_days=365).age_days == 365
    assert Patient(patient_id="P", age_days=1, wbc=0).wbc == 0
    assert Patient(patient_id="P", age_days=1, wbc=1000).wbc == 1000


def test_implausible_values_warn_but_are_kept() -> None:
    with pytest.warns(ImplausibleValueWarning, match="WBC 1500"):
        p = Patient(patient_id="P", age_days=30, wbc=1500)
    assert p.wbc == 1500
    with pytest.warns(InfantallWarning, match="0 days"):
        q = Patient(patient_id="P", birth_date="2021-05-05", diagnosis_date="2021-05-05")
    assert q.age_days == 0


def test_frozen() -> None:
    p = Patient.from_dict(BASE)
    with pytest.raises(ValueError, match="frozen"):
        p.wbc = 3.0  # type: ignore[misc]


def test_round_trip_is_json_friendly() -> None:
    p = Patient.from_dict(
        {**BASE, "day8_blasts": 2500, "cns": "CNS2", "enrollment_date": dt.date(2020, 3, 2)}
    )
    d = p.to_dict()
    assert d["diagnosis_date"] == "2020-03-01"
    assert d["prednisone_response"] == "poor"
    assert d["cns"] == "CNS2"
    assert Patient.from_dict(d) == p


def test_field_errors_do_not_hide_cross_field_errors() -> None:
    data = {
        "patient_id": "X",
        "birth_date": "2020-05-01",
        "diagnosis_date": "2020-03-01",
        "wbc": "abc",
        "cns": "CNS4",
        "day8_blasts": 500,
        "prednisone_response": "poor",
    }
    assert _codes(data) == [
        ("wbc", "invalid_type"),
        ("cns", "invalid_choice"),
        ("diagnosis_date", "diagnosis_before_birth"),
        ("prednisone_response", "prednisone_response_mismatch"),
    ]
    assert _codes({"birth_date": "2020-05-01", "diagnosis_date": "2020-03-01"}) == [
        ("patient_id", "missing_field"),
        ("diagnosis_date", "diagnosis_before_birth"),
    ]


@pytest.mark.parametrize("value", ["0", "86400", 86400, 0.0, "20200101", "01/01/2020", "2020-1-1"])
def test_a_date_is_written_yyyy_mm_dd_never_a_number(value: object) -> None:
    """pydantic's lax mode read a number, or a string of digits, as seconds since 1970
    (``"86400"`` was 1970-01-02, silently) and guessed nothing else; every date a person gives
    is now written YYYY-MM-DD (a date object passes), in one rule, :data:`IsoDate`."""
    assert ("birth_date", "invalid_type") in _codes({**BASE, "birth_date": value})
    with pytest.raises(InvalidRecordError):
        Patient.from_dict({**BASE, "diagnosis_date": value})
    assert Patient.from_dict({**BASE, "birth_date": dt.date(2020, 1, 1)}).age_days == 60


def test_event_dates_follow_the_same_rule() -> None:
    from pydantic import TypeAdapter, ValidationError

    from infantall.domain import Event

    events: TypeAdapter[Event] = TypeAdapter(Event)
    with pytest.raises(ValidationError) as refused:
        events.validate_python({"kind": "death", "date": "86400"})
    assert "YYYY-MM-DD" in str(refused.value)
    assert events.validate_python({"kind": "death", "date": "2020-05-01"}).date == dt.date(
        2020, 5, 1
    )
