"""The disease after first relapse in the domain: salvage therapy, CR2, refractory disease,
disease status and number of each HSCT; their labels in the vocabulary; the history rules."""

from __future__ import annotations

from typing import Any

import pytest

from infantall.domain import PatientHistory
from infantall.domain.events import HSCT, SalvageTherapy, SecondRemission
from infantall.domain.vocabulary import EVENT_FIELDS, EVENT_KINDS, choices, field_label
from infantall.errors import InvalidInputError

PATIENT = {"patient_id": "R1", "birth_date": "2020-01-01", "diagnosis_date": "2020-03-01"}

#: A relapsed/refractory course: CR1, HSCT in CR1, relapse, salvage line 1 refractory,
#: line 2, CR2, second HSCT in CR2 (the JILSG comparison is HSCT in CR2 vs active disease).
COURSE: list[dict[str, Any]] = [
    {"kind": "response", "date": "2020-04-05", "status": "cr", "marrow": "M1"},
    {"kind": "hsct", "date": "2020-08-01", "disease_status": "cr1", "number": 1},
    {"kind": "relapse", "date": "2021-02-01", "site": "isolated_marrow"},
    {
        "kind": "salvage_therapy",
        "date": "2021-02-03",
        "line": 1,
        "agents": "FLAG-Ida",
        "end_date": "2021-03-10",
    },
    {"kind": "refractory", "date": "2021-03-10", "phase": "salvage"},
    {"kind": "salvage_therapy", "date": "2021-03-15", "line": 2, "agents": "blinatumomab"},
    {"kind": "second_remission", "date": "2021-04-20", "marrow": "M1"},
    {"kind": "hsct", "date": "2021-06-01", "disease_status": "cr2", "number": 2},
    {"kind": "last_contact", "date": "2022-01-01"},
]


def _history(events: list[dict[str, Any]]) -> PatientHistory:
    return PatientHistory.from_dict({"patient": PATIENT, "events": events})


def _codes(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInputError) as info:
        _history(events)
    return [(e.field, e.code) for e in info.value.errors]  # type: ignore[attr-defined]


def test_course_validates_round_trips_and_sorts() -> None:
    h = _history(list(reversed(COURSE)))
    assert [e.kind for e in h.events] == [e["kind"] for e in COURSE]
    assert PatientHistory.from_dict(h.to_dict()) == h
    assert [s.line for s in h.salvage_lines] == [1, 2]
    assert h.salvage_lines[1].end_date is None
    assert h.second_remission is not None and str(h.second_remission.date) == "2021-04-20"
    assert [t.disease_status.value for t in h.transplants] == ["cr1", "cr2"]
    assert h.refractory[0].phase.value == "salvage"


def test_same_day_order_relapse_before_salvage_refractory_before_next_line() -> None:
    events = [
        {"kind": "salvage_therapy", "date": "2021-02-01", "line": 1},
        {"kind": "relapse", "date": "2021-02-01"},
        {"kind": "salvage_therapy", "date": "2021-03-01", "line": 2},
        {"kind": "refractory", "date": "2021-03-01", "phase": "salvage"},
    ]
    kinds = [e.kind for e in _history(events).events]
    assert kinds == ["relapse", "salvage_therapy", "refractory", "salvage_therapy"]


def test_new_kinds_are_in_the_vocabulary_with_labels_and_units() -> None:
    for kind in ("salvage_therapy", "second_remission", "refractory"):
        assert kind in EVENT_KINDS
        assert len(kind) <= 20  # stored in the registry's String(20) kind column
    assert EVENT_FIELDS["salvage_therapy"] == ("line", "agents", "end_date")
    assert field_label("date", "salvage_therapy") == "Start date"
    assert field_label("end_date", "salvage_therapy") == "Stop date"
    assert "disease_status" in EVENT_FIELDS["hsct"] and "number" in EVENT_FIELDS["hsct"]
    assert choices("disease_status", kind="hsct") == (
        ("cr1", "First complete remission (CR1)"),
        ("cr2", "Second complete remission (CR2)"),
        ("active_disease", "Active disease (not in remission)"),
        ("unknown", "Unknown"),
    )
    assert dict(choices("phase", kind="refractory"))["salvage"] == "After salvage therapy"


@pytest.mark.parametrize(
    ("record", "field", "code"),
    [
        ({"line": 0}, "line", "invalid_salvage_line"),
        ({"line": 21}, "line", "invalid_salvage_line"),
        ({"end_date": "2021-01-01"}, "end_date", "salvage_stop_before_start"),
    ],
)
def test_salvage_refuses(record: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        SalvageTherapy.from_dict({"date": "2021-02-01", **record})
    assert (info.value.field, info.value.code) == (field, code)


def test_cr2_needs_m1_and_hsct_number_in_range() -> None:
    with pytest.raises(InvalidInputError) as info:
        SecondRemission.from_dict({"date": "2021-02-01", "marrow": "M3"})
    assert info.value.code == "cr2_marrow_mismatch"
    with pytest.raises(InvalidInputError) as info:
        HSCT.from_dict({"date": "2021-02-01", "number": 0})
    assert (info.value.field, info.value.code) == ("number", "invalid_hsct_number")
    with pytest.raises(InvalidInputError) as info:
        HSCT.from_dict({"date": "2021-02-01", "disease_status": "partial"})
    assert info.value.code == "invalid_choice"


def test_cr2_only_after_a_relapse() -> None:
    cr2 = {"kind": "second_remission", "date": "2020-06-01"}
    assert _codes([COURSE[0], cr2]) == [("events[1].date", "cr2_without_relapse")]
    same_day = [{"kind": "relapse", "date": "2020-06-01"}, cr2]  # CR2 needs a later date
    assert _codes(same_day) == [("events[1].date", "cr2_without_relapse")]
    after = [{"kind": "relapse", "date": "2020-05-31"}, cr2]
    assert _history(after).second_remission is not None


def test_salvage_only_after_relapse_or_refractory_disease() -> None:
    salvage = {"kind": "salvage_therapy", "date": "2020-05-01", "line": 1}
    assert _codes([COURSE[0], salvage]) == [("events[1].date", "salvage_without_indication")]
    no_cr = {"kind": "response", "date": "2020-04-05", "status": "no_cr", "marrow": "M3"}
    assert len(_history([no_cr, salvage]).salvage_lines) == 1
    refractory = {"kind": "refractory", "date": "2020-04-05", "phase": "induction"}
    assert len(_history([refractory, salvage]).salvage_lines) == 1
    late = {"kind": "refractory", "date": "2020-05-02", "phase": "salvage"}
    assert _codes([late]) == [("events[0].phase", "refractory_without_salvage")]


def test_hsct_status_and_number_agree_with_the_history() -> None:
    relapse = {"kind": "relapse", "date": "2020-06-01"}
    cr1_late = {"kind": "hsct", "date": "2020-07-01", "disease_status": "cr1"}
    assert _codes([relapse, cr1_late]) == [("events[1].disease_status", "hsct_status_mismatch")]
    cr2_early = {"kind": "hsct", "date": "2020-07-01", "disease_status": "cr2"}
    assert _codes([relapse, cr2_early]) == [("events[1].disease_status", "hsct_status_mismatch")]
    active = {"kind": "hsct", "date": "2020-07-01", "disease_status": "active_disease"}
    assert _history([relapse, active]).transplants[0].disease_status.value == "active_disease"
    second = {"kind": "hsct", "date": "2020-07-01", "number": 2}
    assert _codes([second]) == [("events[0].number", "hsct_number_mismatch")]
    swapped = [dict(COURSE[1], number=2), *COURSE[2:7], dict(COURSE[7], number=1)]
    codes = _codes(swapped)
    assert ("events[0].number", "hsct_number_mismatch") in codes
    assert ("events[6].number", "hsct_number_mismatch") in codes


def test_every_course_error_is_reported_at_once() -> None:
    events = [
        {"kind": "second_remission", "date": "2020-05-01"},
        {"kind": "salvage_therapy", "date": "2020-05-02"},
        {"kind": "hsct", "date": "2020-05-03", "disease_status": "cr2", "number": 3},
    ]
    assert _codes(events) == [
        ("events[0].date", "cr2_without_relapse"),
        ("events[1].date", "salvage_without_indication"),
        ("events[2].number", "hsct_number_mismatch"),
    ]
