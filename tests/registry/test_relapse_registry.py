"""Relapsed/refractory histories in the registry (SQLite and PostgreSQL): entered event by
event and imported from CSV, stored and read back equal, exported and re-imported, refused
with the domain's codes when they break a rule, and derived into OSREL and CR2."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pandas as pd
import pytest

from infantall.domain import PatientHistory
from infantall.domain.events import HSCT, RefractoryDisease, SalvageTherapy, SecondRemission
from infantall.outcomes.endpoints import derive_endpoints
from infantall.registry.csv_import import import_csv
from infantall.registry.errors import ValidationFailedError
from infantall.registry.events import add_event
from infantall.registry.export import export_table
from infantall.registry.histories import scoped_rows, to_histories
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate

PATIENT = {"birth_date": "2023-01-10", "diagnosis_date": "2023-03-01", "kmt2a": "rearranged"}
#: CR1, HSCT in CR1, relapse, salvage line 1 (refractory), line 2, CR2, HSCT in CR2, death.
COURSE: list[dict[str, str]] = [
    {"event_kind": "response", "event_date": "2023-04-05", "event_status": "cr",
     "event_marrow": "M1"},
    {"event_kind": "hsct", "event_date": "2023-08-01", "event_donor": "unrelated",
     "event_hla_match": "9/10", "event_disease_status": "cr1", "event_number": "1"},
    {"event_kind": "relapse", "event_date": "2024-02-01", "event_site": "isolated_marrow"},
    {"event_kind": "salvage_therapy", "event_date": "2024-02-03", "event_line": "1",
     "event_agents": "FLAG-Ida", "event_end_date": "2024-03-10"},
    {"event_kind": "refractory", "event_date": "2024-03-10", "event_phase": "salvage"},
    {"event_kind": "salvage_therapy", "event_date": "2024-03-15", "event_line": "2",
     "event_agents": "blinatumomab, inotuzumab ozogamicin"},
    {"event_kind": "second_remission", "event_date": "2024-04-20", "event_marrow": "M1"},
    {"event_kind": "hsct", "event_date": "2024-06-01", "event_donor": "haploidentical",
     "event_hla_match": "5/10", "event_disease_status": "cr2", "event_number": "2"},
    {"event_kind": "death", "event_date": "2024-12-01", "event_cause": "leukemia"},
]  # fmt: skip


def _csv(record: str, course: list[dict[str, str]]) -> str:
    rows: list[dict[str, str]] = [{"record_id": record, **PATIENT}]
    for i, event in enumerate(course, start=1):
        rows.append(
            {"record_id": record, "redcap_repeat_instrument": "event",
             "redcap_repeat_instance": str(i), **event}
        )  # fmt: skip
    header = sorted({k for r in rows for k in r}, key=lambda k: (k != "record_id", k))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _histories(database: Any, principal: Any) -> list[PatientHistory]:
    with database.read_sessions() as s:
        return to_histories(*scoped_rows(s, principal))


def test_csv_import_stores_and_round_trips_a_relapsed_course(
    registry: Any, seeded: dict[str, Any]
) -> None:
    _, database = registry
    with database.write_sessions() as s:
        report = import_csv(s, seeded["editor_a"], _csv("REL-1", COURSE))
    assert report.ok, report.errors
    assert report.imported_events == len(COURSE)
    (h,) = _histories(database, seeded["viewer_a"])
    assert [e.kind for e in h.events] == [e["event_kind"] for e in COURSE]
    assert [(s.line, s.agents) for s in h.salvage_lines] == [
        (1, "FLAG-Ida"),
        (2, "blinatumomab, inotuzumab ozogamicin"),
    ]
    assert h.salvage_lines[0].end_date == dt.date(2024, 3, 10)
    assert h.salvage_lines[1].end_date is None
    assert [(t.disease_status.value, t.number) for t in h.transplants] == [("cr1", 1), ("cr2", 2)]
    assert h.second_remission == SecondRemission.from_dict({"date": "2024-04-20", "marrow": "M1"})
    # the export carries the new columns and imports again (at another site) to the same history
    with database.write_sessions() as s:
        table = export_table(s, seeded["viewer_a"])
    for column in ("event_line", "event_agents", "event_end_date", "event_disease_status",
                   "event_number", "event_phase"):  # fmt: skip
        assert column in table.columns
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    with database.write_sessions() as s:
        again = import_csv(s, seeded["editor_b"], buf.getvalue())
    assert again.ok, again.errors
    (h_b,) = _histories(database, seeded["viewer_b"])
    assert h_b.events == h.events
    # derived and analysable: OS from relapse (304 days, death) and CR2 at day 79
    ds = derive_endpoints([h], protocol=None)
    rows = ds.adtte.set_index("PARAMCD")
    assert (rows.loc["OSREL", "AVAL"], rows.loc["OSREL", "STATUS"]) == (304.0, 1)
    assert (rows.loc["CR2", "AVAL"], rows.loc["CR2", "STATUS"]) == (79.0, 1)


@pytest.mark.parametrize(
    ("course", "code"),
    [
        ([COURSE[0], COURSE[6]], "cr2_without_relapse"),
        ([COURSE[0], COURSE[3]], "salvage_without_indication"),
        ([COURSE[0], dict(COURSE[1], event_number="2")], "hsct_number_mismatch"),
        ([COURSE[0], COURSE[2], dict(COURSE[1], event_date="2024-03-01")], "hsct_status_mismatch"),
        ([COURSE[0], COURSE[2], dict(COURSE[3], event_line="0")], "invalid_salvage_line"),
    ],
)
def test_csv_import_refuses_broken_courses(
    registry: Any, seeded: dict[str, Any], course: list[dict[str, str]], code: str
) -> None:
    _, database = registry
    with database.write_sessions() as s:
        report = import_csv(s, seeded["editor_a"], _csv("BAD-1", course))
    assert not report.ok
    assert code in {e.code for e in report.errors}
    assert report.imported_events == 0


def test_events_entered_one_by_one_obey_the_history_rules(
    registry: Any, seeded: dict[str, Any]
) -> None:
    _, database = registry
    editor = seeded["editor_a"]
    with database.write_sessions() as s:
        p = create_patient(
            s, editor, PatientCreate(local_code="E-1", birth_date=dt.date(2023, 1, 10),
                                     diagnosis_date=dt.date(2023, 3, 1)),
        )  # fmt: skip
    rid = p.registry_id
    with pytest.raises(ValidationFailedError) as info, database.write_sessions() as s:
        add_event(s, editor, rid, SecondRemission(date=dt.date(2023, 6, 1)))
    assert "cr2_without_relapse" in {e.code for e in info.value.errors}
    entered = [
        RefractoryDisease.from_dict({"date": "2023-04-05", "phase": "induction"}),
        SalvageTherapy.from_dict({"date": "2023-04-10", "line": 1, "agents": "FLAG-Ida"}),
        HSCT.from_dict({"date": "2023-07-01", "disease_status": "active_disease", "number": 1}),
    ]
    for event in entered:
        with database.write_sessions() as s:
            add_event(s, editor, rid, event)
    (h,) = _histories(database, seeded["viewer_a"])
    assert list(h.events) == entered
    frame = pd.DataFrame([e.to_dict() for e in h.events])
    assert list(frame.kind) == ["refractory", "salvage_therapy", "hsct"]
