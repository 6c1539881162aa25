"""The coordinator's data-quality queries, one case per query, on domain histories."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from infantall.domain import PatientHistory
from infantall.domain.quality import (
    FINDING_COLUMNS,
    FOLLOW_UP_OVERDUE_DAYS,
    QUALITY_QUERIES,
    check_quality,
    follow_up_overdue,
    quality_findings,
)
from infantall.errors import InvalidInputError

TODAY = dt.date(2026, 1, 1)
PATIENT = {
    "patient_id": "P1",
    "site": "S1",
    "birth_date": "2024-01-01",
    "diagnosis_date": "2024-03-01",
    "kmt2a": "rearranged",
}
CR = {"kind": "response", "date": "2024-04-01", "status": "cr", "marrow": "M1"}
RECENT = {"kind": "last_contact", "date": "2025-12-01"}
EOI_MRD = {"kind": "mrd", "date": "2024-04-01", "value": 1e-4, "time_point": "end_of_induction"}
LATE_DAY15_MRD = {"kind": "mrd", "date": "2024-08-01", "value": 1e-3, "time_point": "day_15"}


def _history(events: list[dict[str, Any]], **patient: Any) -> PatientHistory:
    return PatientHistory.from_dict({"patient": {**PATIENT, **patient}, "events": events})


def _codes(h: PatientHistory) -> list[str]:
    return [f.query for f in quality_findings([h], TODAY)]


def test_a_clean_history_has_no_finding() -> None:
    assert _codes(_history([CR, RECENT])) == []


@pytest.mark.parametrize(
    ("events", "patient", "code"),
    [
        ([CR, RECENT], {"kmt2a": "unknown"}, "missing_kmt2a"),
        ([CR, {"kind": "last_contact", "date": "2024-06-01"}], {}, "follow_up_overdue"),
        ([{"kind": "relapse", "date": "2024-03-20"}, CR, RECENT], {}, "relapse_before_response"),
        ([{"kind": "hsct", "date": "2024-03-20"}, CR, RECENT], {}, "hsct_before_response"),
        ([{"kind": "relapse", "date": "2024-06-01"}, RECENT], {}, "relapse_without_remission"),
        (
            [CR, {"kind": "mrd", "date": "2024-08-01", "value": 1e-3,
                  "time_point": "end_of_induction"},
             {"kind": "mrd", "date": "2024-07-01", "value": 1e-4,
              "time_point": "end_of_consolidation"}, RECENT],
            {},
            "mrd_out_of_sequence",
        ),
    ],
)  # fmt: skip
def test_each_query_finds_its_case(
    events: list[dict[str, Any]], patient: dict[str, Any], code: str
) -> None:
    assert _codes(_history(events, **patient)) == [code]


def test_every_documented_query_can_fire_and_nothing_else() -> None:
    histories = [
        _history([CR, RECENT], kmt2a="unknown", patient_id="a"),
        _history([CR], patient_id="b"),
        _history([{"kind": "relapse", "date": "2024-03-20"}, CR, RECENT], patient_id="c"),
        _history([{"kind": "hsct", "date": "2024-03-20"}, CR, RECENT], patient_id="d"),
        _history([{"kind": "relapse", "date": "2024-06-01"}, RECENT], patient_id="e"),
        _history([CR, EOI_MRD, LATE_DAY15_MRD, RECENT], patient_id="f"),
    ]
    assert {f.query for f in quality_findings(histories, TODAY)} == set(QUALITY_QUERIES)


def test_dead_patients_are_never_overdue() -> None:
    died = _history([CR, {"kind": "death", "date": "2024-05-01", "cause": "leukemia"}])
    assert not follow_up_overdue(died, TODAY, FOLLOW_UP_OVERDUE_DAYS)


def test_overdue_boundary_is_strictly_more_than_the_interval() -> None:
    last = TODAY - dt.timedelta(days=FOLLOW_UP_OVERDUE_DAYS)
    h = _history([{"kind": "last_contact", "date": last.isoformat()}])
    assert not follow_up_overdue(h, TODAY, FOLLOW_UP_OVERDUE_DAYS)
    assert follow_up_overdue(h, TODAY + dt.timedelta(days=1), FOLLOW_UP_OVERDUE_DAYS)


def _every_case() -> list[PatientHistory]:
    return [
        _history([CR, RECENT], kmt2a="unknown", patient_id="a", site="S2"),
        _history([CR], patient_id="b"),
        _history([CR], kmt2a="unknown", patient_id="b2"),
        _history([{"kind": "relapse", "date": "2024-03-20"}, CR, RECENT], patient_id="c"),
        _history([CR, RECENT], patient_id="clean"),
    ]


def test_check_quality_is_the_findings_with_their_counts() -> None:
    histories = _every_case()
    report = check_quality(histories, TODAY)
    assert list(report.findings) == quality_findings(histories, TODAY)
    assert report.patients == len(histories)
    assert report.as_of == TODAY and report.overdue_days == FOLLOW_UP_OVERDUE_DAYS
    assert report.counts == {
        "missing_kmt2a": 2,
        "follow_up_overdue": 2,
        "relapse_before_response": 1,
        "hsct_before_response": 0,
        "relapse_without_remission": 0,
        "mrd_out_of_sequence": 0,
    }
    summary = report.summary
    assert list(summary.columns) == ["query", "description", "records"]
    assert summary["query"].tolist() == list(QUALITY_QUERIES)
    assert summary["records"].sum() == len(report.findings)
    table = report.findings_table
    assert list(table.columns) == list(FINDING_COLUMNS)
    assert table[["query", "patient_id"]].values.tolist() == [
        [f.query, f.patient_id] for f in report.findings
    ]


def test_check_quality_to_dict_is_json_and_complete() -> None:
    report = check_quality(_every_case(), TODAY, overdue_days=10_000)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["as_of"] == TODAY.isoformat() and data["overdue_days"] == 10_000
    assert {q["query"]: q["records"] for q in data["queries"]} == report.counts
    assert report.counts["follow_up_overdue"] == 0
    assert [f["patient_id"] for f in data["findings"]] == [f.patient_id for f in report.findings]


def test_check_quality_on_no_patient_has_every_query_at_zero() -> None:
    report = check_quality([], TODAY)
    assert report.findings == () and report.patients == 0
    assert set(report.counts.values()) == {0}
    assert report.findings_table.empty and list(report.findings_table.columns) == list(
        FINDING_COLUMNS
    )


@pytest.mark.parametrize("days", [0, -1])
def test_check_quality_refuses_a_threshold_below_one_day(days: int) -> None:
    with pytest.raises(InvalidInputError) as err:
        check_quality([], TODAY, overdue_days=days)
    assert err.value.code == "out_of_range" and err.value.field == "overdue_days"
