"""JSON and CSV writers, the loader, and the synthetic labels in every file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from infantall.cohort import PATIENT_COLUMNS, SyntheticCohort
from infantall.cohort.io import (
    events_csv_path,
    load_cohort,
    write_cohort,
    write_csv,
    write_json,
)
from infantall.errors import DataFileError
from infantall.services.cohort_registry import write_redcap_csv


def test_json_has_synthetic_metadata_and_round_trips(
    small: SyntheticCohort, tmp_path: Path
) -> None:
    path = write_json(small, tmp_path / "cohort.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["metadata"]["synthetic"] is True
    assert "SYNTHETIC" in doc["metadata"]["label"]
    assert len(doc["patients"]) == len(small.patients)
    assert len(doc["events"]) == len(small.events)
    assert all(p["synthetic"] is True for p in doc["patients"])
    back = load_cohort(path)
    for col in PATIENT_COLUMNS:
        left = small.patients[col].astype(str).tolist()
        right = back.patients[col].astype(str).tolist()
        assert left == right, col
    assert back.events["day"].tolist() == small.events["day"].tolist()
    assert back.events["kind"].astype(str).tolist() == small.events["kind"].astype(str).tolist()
    assert len(back.to_histories()) == len(small.patients)
    pd.testing.assert_frame_equal(
        back.endpoints().drop(columns=["risk_group", "kmt2a"]),
        small.endpoints().drop(columns=["risk_group", "kmt2a"]),
    )


def test_csv_writes_patients_and_events_with_synthetic_column(
    small: SyntheticCohort, tmp_path: Path
) -> None:
    written = write_csv(small, tmp_path / "cohort.csv")
    assert written == (tmp_path / "cohort.csv", tmp_path / "cohort_events.csv")
    assert events_csv_path(tmp_path / "cohort.csv") == tmp_path / "cohort_events.csv"
    patients = pd.read_csv(written[0])
    events = pd.read_csv(written[1])
    assert list(patients.columns) == list(PATIENT_COLUMNS)
    assert len(patients) == len(small.patients)
    assert patients["synthetic"].all()
    assert events["synthetic"].all()
    assert len(events) == len(small.events)
    assert set(events["patient_id"]) <= set(patients["patient_id"])


def test_refuses_other_suffix_and_non_synthetic_files(
    small: SyntheticCohort, tmp_path: Path
) -> None:
    with pytest.raises(DataFileError, match=r"expected a \.json file"):
        write_cohort(small, tmp_path / "cohort.xlsx")
    with pytest.raises(DataFileError, match="write_redcap_csv"):
        write_cohort(small, tmp_path / "cohort.csv")
    fake = tmp_path / "real.json"
    fake.write_text(json.dumps({"metadata": {}, "patients": [], "events": []}))
    with pytest.raises(DataFileError, match="not a synthetic cohort"):
        load_cohort(fake)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(DataFileError, match="cannot read JSON"):
        load_cohort(broken)


def test_registry_csv_layout(small: SyntheticCohort, tmp_path: Path) -> None:
    path = write_redcap_csv(small, tmp_path / "cohort.csv")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert table["record_id"].str.startswith("SYN-").all()
    patients = table[table["redcap_repeat_instrument"] == ""]
    assert len(patients) == len(small.patients)
    assert patients["notes"].str.contains("SYNTHETIC").all()
    assert (table["redcap_repeat_instrument"] == "event").sum() == len(small.events)
