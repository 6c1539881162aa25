"""What a data manager's spreadsheet export gets back from the CSV import: one clear problem
per cell or per file, never a silent reading (found by probing the CLI, session 10). The
parser alone, no database: ``registry.csv_parse.parse_csv``."""

from __future__ import annotations

import pytest

from infantall.registry.csv_parse import parse_csv

HEADER = (
    "record_id,redcap_repeat_instrument,redcap_repeat_instance,birth_date,diagnosis_date,sex,"
    "kmt2a,fusion_partner,event_kind,event_date,event_status"
)


def _problems(text: str) -> list[tuple[int, str, str, str]]:
    parsed = parse_csv(text.encode("utf-8"), 1000, None)
    return [(e.row, e.record_id, e.field, e.code) for e in parsed.errors]


def test_dates_given_as_seconds_since_1970_are_refused() -> None:
    """pydantic's lax mode read "86400" as 1970-01-02: this row was imported as an infant
    born 1970-01-02 and diagnosed 1970-04-11."""
    row = "Z-1,,,86400,8640000,female,rearranged,AFF1,,,"
    assert _problems(f"{HEADER}\n{row}\n") == [
        (2, "Z-1", "birth_date", "invalid_type"),
        (2, "Z-1", "diagnosis_date", "invalid_type"),
    ]


@pytest.mark.parametrize("birth", ["05/01/2024", "2024-1-5", "20240105", " 2024-01-05"])
def test_a_date_not_written_yyyy_mm_dd_is_one_problem(birth: str) -> None:
    """A required date in another format was reported twice: as invalid, then as "Field
    required" by the second check of the row (which leaves refused fields out)."""
    row = f"Z-2,,,{birth},2024-04-01,female,rearranged,AFF1,,,"
    parsed = parse_csv(f"{HEADER}\n{row}\n".encode(), 1000, None)
    assert [(e.field, e.code) for e in parsed.errors] == [("birth_date", "invalid_type")]
    assert "YYYY-MM-DD" in parsed.errors[0].reason


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_separated_by_semicolons_is_named_so(sep: str, name: str) -> None:
    """Excel in many European locales saves "CSV" with semicolons: one problem naming the
    separator, not a missing-column problem for every required column."""
    text = HEADER.replace(",", sep) + "\n" + sep.join(["Z-3", "", "", "2024-01-05"]) + "\n"
    parsed = parse_csv(text.encode(), 1000, None)
    assert [(e.row, e.field, e.code) for e in parsed.errors] == [(1, "file", "invalid_format")]
    assert name in parsed.errors[0].reason and "commas" in parsed.errors[0].reason


def test_a_well_formed_row_still_imports() -> None:
    row = "Z-4,,,2024-01-05,2024-04-01,female,rearranged,AFF1,,,"
    parsed = parse_csv(f"{HEADER}\n{row}\n".encode(), 1000, None)
    assert parsed.errors == [] and list(parsed.patients) == ["Z-4"]


def test_an_event_row_names_the_column_a_person_got_wrong() -> None:
    """An unknown or empty event kind was reported on a column "event_body", which no file
    has, with pydantic's wording; an impossible date said "valid date or datetime"."""
    patient = "G,,,2024-01-05,2024-04-01,female,rearranged,AFF1,,,"
    events = ["G,event,1,,,,,,deth,2024-06-01,", "G,event,2,,,,,,,2024-06-01,",
              "G,event,3,,,,,,relapse,2024-13-01,"]  # fmt: skip
    parsed = parse_csv("\n".join([HEADER, patient, *events, ""]).encode(), 1000, None)
    found = [(e.row, e.field, e.code) for e in parsed.errors]
    assert found == [
        (3, "event_kind", "invalid_choice"),
        (4, "event_kind", "missing_field"),
        (5, "event_date", "invalid_type"),
    ]
    unknown, empty, month = (e.reason for e in parsed.errors)
    assert "'deth'" in unknown and "'death'" in unknown
    assert empty.startswith("required") and "'relapse'" in empty
    assert month.startswith("not a calendar date: month") and "YYYY-MM-DD" in month
