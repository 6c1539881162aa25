"""CSV import (all or nothing, per-row report), export (CSV/Parquet, round trip, formula
escaping) and the de-identified pooled export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from infantall.registry.dictionary import DATA_DICTIONARY
from infantall.registry.io import date_shift_days, pseudonym
from infantall.registry.models import Event, Patient

API = "/api/v1"
H = dict[str, dict[str, str]]
HEADER = [
    "record_id",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "birth_date",
    "diagnosis_date",
    "sex",
    "wbc",
    "kmt2a",
    "fusion_partner",
    "notes",
    "event_kind",
    "event_date",
    "event_status",
    "event_marrow",
    "event_value",
    "event_time_point",
]


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


GOOD = [
    {
        "record_id": "IMP-1",
        "birth_date": "2023-01-10",
        "diagnosis_date": "2023-05-01",
        "sex": "male",
        "wbc": "150",
        "kmt2a": "rearranged",
        "fusion_partner": "AFF1",
        "notes": '=HYPERLINK("http://x")',
    },
    {
        "record_id": "IMP-1",
        "redcap_repeat_instrument": "event",
        "redcap_repeat_instance": "1",
        "event_kind": "response",
        "event_date": "2023-06-05",
        "event_status": "cr",
        "event_marrow": "M1",
    },
    {
        "record_id": "IMP-1",
        "redcap_repeat_instrument": "event",
        "redcap_repeat_instance": "2",
        "event_kind": "mrd",
        "event_date": "2023-06-05",
        "event_value": "0.0001",
        "event_time_point": "end_of_induction",
    },
    {
        "record_id": "IMP-2",
        "birth_date": "2023-02-01",
        "diagnosis_date": "2023-03-01",
        "sex": "female",
        "kmt2a": "germline",
        "fusion_partner": "none",
    },
]


def _counts(registry: Any) -> tuple[int, int]:
    _, database = registry
    with database.read_sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Patient)) or 0,
            s.scalar(select(func.count()).select_from(Event)) or 0,
        )


def _import(client: Any, headers: dict[str, str], body: bytes) -> Any:
    return client.post(
        f"{API}/import", content=body, headers={**headers, "Content-Type": "text/csv"}
    )


def test_invalid_file_imports_nothing_and_reports_each_row_and_field(
    client: Any, auth: H, registry: Any
) -> None:
    bad = [
        *GOOD,
        {"record_id": "IMP-3", "birth_date": "2023-05-01", "diagnosis_date": "2023-02-01"},
        {
            "record_id": "IMP-4",
            "birth_date": "2022-01-01",
            "diagnosis_date": "2023-06-01",
            "wbc": "-3",
            "sex": "X1",
        },
        {
            "record_id": "IMP-2",
            "redcap_repeat_instrument": "event",
            "event_kind": "relapse",
            "event_date": "2023-01-01",
        },
        {"record_id": "IMP-1", "birth_date": "2023-01-10", "diagnosis_date": "2023-05-01"},
    ]
    r = _import(client, auth["editor_a"], _csv(bad))
    assert r.status_code == 422
    got = {(e["row"], e["record_id"], e["field"], e["code"]) for e in r.json()["errors"]}
    assert got == {
        (6, "IMP-3", "diagnosis_date", "diagnosis_before_birth"),
        (7, "IMP-4", "wbc", "negative_wbc"),
        (7, "IMP-4", "sex", "invalid_choice"),
        # every problem of the row, not only the first: IMP-4 is 516 days old at diagnosis
        (7, "IMP-4", "diagnosis_date", "not_an_infant"),
        (8, "IMP-2", "event_date", "event_before_diagnosis"),
        (9, "IMP-1", "record_id", "duplicate_patient"),
    }
    assert _counts(registry) == (0, 0)
    nul = b"record_id,birth_date,diagnosis_date,notes\nN-1,2024-01-01,2024-02-01,a\x00b\n"
    assert (
        _import(client, auth["editor_a"], nul).json()["errors"][0]["code"] == "forbidden_character"
    )
    unknown = _import(client, auth["editor_a"], b"record_id,birth_date,diagnosis_date,nickname\n")
    assert unknown.json()["errors"][0]["code"] == "unknown_field"


def test_valid_file_imports_atomically_and_round_trips(client: Any, auth: H, registry: Any) -> None:
    r = _import(client, auth["editor_a"], _csv(GOOD))
    assert r.status_code == 201, r.text
    assert r.json() == {"imported_patients": 2, "imported_events": 2}
    assert _counts(registry) == (2, 2)
    again = _import(client, auth["editor_a"], _csv(GOOD))
    assert {e["code"] for e in again.json()["errors"]} == {"duplicate_patient"}
    exported = client.get(f"{API}/export", headers=auth["viewer_a"])
    assert exported.status_code == 200
    table = pd.read_csv(io.BytesIO(exported.content), dtype=str)
    assert set(table.columns) == {v.name for v in DATA_DICTIONARY} | {"registry_id", "site_code"}
    assert table.loc[table.record_id == "IMP-1", "notes"].dropna().tolist() == [
        '\'=HYPERLINK("http://x")'
    ]
    # the export imports again (at another site) and gives the same data
    assert _import(client, auth["editor_b"], exported.content).status_code == 201
    b = client.get(f"{API}/patients", headers=auth["viewer_b"]).json()["items"]
    a = client.get(f"{API}/patients", headers=auth["viewer_a"]).json()["items"]
    keys = ("local_code", "birth_date", "diagnosis_date", "wbc", "kmt2a", "notes")
    assert sorted(tuple(p[k] for k in keys) for p in a) == sorted(
        tuple(p[k] for k in keys) for p in b
    )
    parquet = client.get(f"{API}/export", params={"format": "parquet"}, headers=auth["viewer_a"])
    assert len(pd.read_parquet(io.BytesIO(parquet.content))) == 4
    assert _import(client, auth["viewer_a"], _csv(GOOD)).status_code == 403


def test_pooled_export_is_deidentified_with_consistent_date_shifts(
    client: Any, auth: H, registry: Any
) -> None:
    """Each patient's dates move by its one shift (both directions, never zero) in the
    pooled export and in the coordinator's analysis dataset alike; ``k=1`` keeps these
    few patients (the default k=5 suppresses them, as the manifest says)."""
    settings, _ = registry
    key = settings.pseudonym_key.get_secret_value()
    _import(client, auth["editor_a"], _csv(GOOD))
    assert client.get(f"{API}/export/pooled", headers=auth["editor_a"]).status_code == 403
    r = client.get(f"{API}/export/pooled?k=1", headers=auth["coord"])
    assert r.status_code == 200
    pooled = pd.read_csv(io.BytesIO(r.content), dtype=str)
    # the truth, from the site (a coordinator gets no patient records: pooled_only)
    patients = client.get(f"{API}/patients", headers=auth["editor_a"]).json()["items"]
    assert not {"birth_date", "record_id", "registry_id", "notes", "age_days"} & set(pooled.columns)
    text = r.content.decode()
    analysis = client.get(f"{API}/analysis/dataset", headers=auth["coord"])
    assert analysis.status_code == 200, analysis.text
    starts = {row["USUBJID"]: row["STARTDT"][:10] for row in analysis.json()["records"]}
    for p in patients:
        assert p["registry_id"] not in text and p["local_code"] not in text
        rows = pooled[pooled.pseudonym == pseudonym(key, p["registry_id"])]
        shift = date_shift_days(key, p["registry_id"], settings.date_shift_max_days)
        assert 1 <= abs(shift) <= settings.date_shift_max_days
        first = rows[rows.record_type == "patient"].iloc[0]
        expected = dt.date.fromisoformat(p["diagnosis_date"]) + dt.timedelta(days=shift)
        assert dt.date.fromisoformat(first.diagnosis_date_shifted) == expected
        assert starts[pseudonym(key, p["registry_id"])] == expected.isoformat()
        events = client.get(
            f"{API}/patients/{p['registry_id']}/events", headers=auth["editor_a"]
        ).json()
        shifted = rows[rows.record_type == "event"].event_date_shifted.tolist()
        for e in events:
            assert (
                dt.date.fromisoformat(e["date"]) + dt.timedelta(days=shift)
            ).isoformat() in shifted
    shifts = {date_shift_days(key, p["registry_id"]) for p in patients}
    assert len(shifts) == len(patients)  # not one constant shift for everyone
    again = client.get(f"{API}/export/pooled?k=1", headers=auth["coord"])
    assert again.content == r.content
    default = client.get(f"{API}/export/pooled", headers=auth["coord"])
    assert pd.read_csv(io.BytesIO(default.content)).empty
    manifest = client.get(f"{API}/export/pooled/manifest", headers=auth["coord"]).json()
    assert manifest["patients_in"] == len(patients) and manifest["patients_out"] == 0
    assert manifest["suppressed"][-1]["field"] == "record"
    denied = client.get(f"{API}/export/pooled/manifest", headers=auth["editor_a"])
    assert denied.status_code == 403


@pytest.mark.parametrize(
    ("query", "field"), [("dates=full", "dates"), ("k=0", "k"), ("age=days", "age")]
)
def test_pooled_export_refuses_unknown_options(
    client: Any, auth: H, query: str, field: str
) -> None:
    r = client.get(f"{API}/export/pooled?{query}", headers=auth["coord"])
    assert r.status_code == 422
    assert field in r.text


def test_every_problem_of_every_row_and_events_of_an_invalid_patient(
    client: Any, auth: H, registry: Any
) -> None:
    """A row with several problems reports all of them (a non-number, a bad choice and a
    domain rule on the remaining fields), and a valid event of an invalid patient says
    ``patient_row_invalid`` (not "no patient row"); an event row with its own problems
    reports those."""
    rows = [
        {"record_id": "BAD-1", "birth_date": "2023-01-01", "diagnosis_date": "2022-12-01",
         "sex": "X", "wbc": "lots", "kmt2a": "maybe"},
        {"record_id": "BAD-1", "redcap_repeat_instrument": "event", "event_kind": "response",
         "event_date": "2023-03-01", "event_status": "cr", "event_marrow": "M1"},
        {"record_id": "BAD-1", "redcap_repeat_instrument": "event", "event_kind": "mrd",
         "event_date": "2023-03-01", "event_value": "2", "event_time_point": "nope"},
        {"record_id": "GHOST", "redcap_repeat_instrument": "event", "event_kind": "death",
         "event_date": "2023-03-01"},
    ]  # fmt: skip
    r = _import(client, auth["editor_a"], _csv(rows))
    assert r.status_code == 422
    got = {(e["row"], e["field"], e["code"]) for e in r.json()["errors"]}
    assert {
        (2, "wbc", "invalid_type"),
        (2, "sex", "invalid_choice"),
        (2, "kmt2a", "invalid_choice"),
        (2, "diagnosis_date", "diagnosis_before_birth"),
        (3, "record_id", "patient_row_invalid"),
        (4, "event_time_point", "invalid_choice"),
        (5, "record_id", "unknown_record"),
    } <= got
    assert (3, "record_id", "unknown_record") not in got
    assert _counts(registry) == (0, 0)


def test_problems_csv_lists_every_problem_with_labels() -> None:
    """The downloadable problems CSV has one line per problem, the column's label, and
    formula-like cells escaped."""
    from infantall.registry.csv_import import PROBLEM_COLUMNS, ImportReport, RowError, problems_csv

    report = ImportReport(0, 0, (
        RowError(2, "R-1", "wbc", "'x' is not a number", "invalid_type"),
        RowError(3, "=cmd", "sex", "not one of female, male", "invalid_choice"),
    ))  # fmt: skip
    table = list(csv.reader(io.StringIO(problems_csv(report))))
    assert tuple(table[0]) == PROBLEM_COLUMNS
    assert len(table) == 3
    labels = {v.name: v.label for v in DATA_DICTIONARY}
    assert table[1] == ["2", "R-1", "wbc", labels["wbc"], "'x' is not a number", "invalid_type"]
    assert table[2][1] == "'=cmd"


def test_template_csv_is_the_data_dictionary_and_tells_not_entered_from_unknown(
    registry: Any, seeded: dict[str, Any]
) -> None:
    """The template's header is the dictionary's columns in order; filled with two patients
    it imports, and a blank cell ("not entered") is counted apart from an explicit
    "unknown"; a column left out of the file is reported as absent."""
    from infantall.registry.csv_import import import_csv
    from infantall.registry.export import template_csv

    header = next(csv.reader(io.StringIO(template_csv())))
    assert header == [v.name for v in DATA_DICTIONARY]
    buf = io.StringIO(template_csv())
    buf.seek(0, io.SEEK_END)
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    dates = {"birth_date": "2023-01-01", "diagnosis_date": "2023-03-01"}
    writer.writerow({"record_id": "P-1", **dates, "cd10": "unknown", "kmt2a": "rearranged"})
    writer.writerow({"record_id": "P-2", **dates, "cd10": "", "kmt2a": "unknown"})
    _, database = registry
    with database.write_sessions() as session:
        report = import_csv(session, seeded["editor_a"], buf.getvalue())
    assert report.ok, report.errors
    by_column = {n.column: n for n in report.not_entered}
    assert (by_column["cd10"].not_entered, by_column["cd10"].unknown) == (1, 1)
    assert (by_column["kmt2a"].not_entered, by_column["kmt2a"].unknown) == (0, 1)
    assert (by_column["cns"].not_entered, by_column["cns"].unknown) == (2, 0)
    assert not by_column["cns"].absent
    without_cns = "record_id,birth_date,diagnosis_date\nP-3,2023-01-01,2023-03-01\n"
    with database.write_sessions() as session:
        report = import_csv(session, seeded["editor_a"], without_cns)
    assert {n.column: n.absent for n in report.not_entered}["cns"] is True
    # Stored apart (empty vs "unknown") and exported as they were imported.
    from infantall.registry.export import export_table

    with database.read_sessions() as session:
        table = export_table(session, seeded["editor_a"]).set_index("record_id")
    patients = table[table["redcap_repeat_instrument"].isna()]
    assert patients.loc["P-1", "cd10"] == "unknown"
    assert pd.isna(patients.loc["P-2", "cd10"])
    assert patients.loc["P-2", "kmt2a"] == "unknown"
    assert pd.isna(patients.loc["P-3", "cns"])


def test_import_template_has_every_dictionary_column(client: Any, auth: H) -> None:
    """GET /api/v1/import/template: an empty CSV whose header is the data dictionary."""
    response = client.get(f"{API}/import/template", headers=auth["editor_a"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert len(lines) == 1
    assert {v.name for v in DATA_DICTIONARY} <= set(lines[0].split(","))


def test_choice_values_are_read_in_any_case(client: Any, auth: H, registry: Any) -> None:
    """A spreadsheet's "Rearranged" or "CR" is the code "rearranged" / "cr"; a value that is no
    choice in any case is still refused with invalid_choice."""
    rows = [dict(r) for r in GOOD]
    rows[0].update(sex="MALE", kmt2a="Rearranged", fusion_partner="aff1")
    rows[1].update(event_status="CR", event_marrow="m1", redcap_repeat_instrument="Event")
    r = _import(client, auth["editor_a"], _csv(rows))
    assert r.status_code == 201, r.text
    items = client.get(f"{API}/patients", headers=auth["viewer_a"]).json()["items"]
    first = next(p for p in items if p["local_code"] == "IMP-1")
    assert (first["sex"], first["kmt2a"], first["fusion_partner"]) == ("male", "rearranged", "AFF1")
    bad = [dict(GOOD[3], record_id="IMP-9", kmt2a="Maybe")]
    refused = _import(client, auth["editor_a"], _csv(bad))
    codes = {(e["field"], e["code"]) for e in refused.json()["errors"]}
    assert ("kmt2a", "invalid_choice") in codes


def test_the_shift_setting_reaches_the_export_and_the_analysis_dataset(
    registry: Any, auth: H, client: Any
) -> None:
    """``INFANTALL_DATE_SHIFT_MAX_DAYS`` sets the half-width of the one shift of every
    pseudonymised output (here 3 days), not only of the export."""
    from fastapi.testclient import TestClient

    from infantall.web import create_app

    settings, database = registry
    key = settings.pseudonym_key.get_secret_value()
    _import(client, auth["editor_a"], _csv(GOOD))
    narrow = settings.model_copy(update={"date_shift_max_days": 3})
    with TestClient(create_app(narrow, database=database)) as other:
        pooled = pd.read_csv(
            io.BytesIO(other.get(f"{API}/export/pooled?k=1", headers=auth["coord"]).content),
            dtype=str,
        )
        records = other.get(f"{API}/analysis/dataset", headers=auth["coord"]).json()["records"]
        patients = other.get(f"{API}/patients", headers=auth["editor_a"]).json()["items"]
    starts = {row["USUBJID"]: row["STARTDT"][:10] for row in records}
    first = pooled[pooled.record_type == "patient"].set_index("pseudonym")
    for p in patients:
        alias = pseudonym(key, p["registry_id"])
        shift = date_shift_days(key, p["registry_id"], 3)
        expected = dt.date.fromisoformat(p["diagnosis_date"]) + dt.timedelta(days=shift)
        assert 1 <= abs(shift) <= 3
        assert starts[alias] == first.loc[alias, "diagnosis_date_shifted"] == expected.isoformat()
