"""The registry-CSV layout goes through the registry's own import path unchanged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from infantall.cohort import REALISTIC_MISSING, generate_cohort
from infantall.registry.dictionary import DATA_DICTIONARY
from infantall.registry.io import EXPORT_ONLY_COLUMNS, import_csv
from infantall.registry.testing import isolated_database, seed_registry
from infantall.services.cohort_registry import SYNTHETIC_NOTE, redcap_table, redcap_tables_by_site


def test_columns_are_the_data_dictionary() -> None:
    cohort = generate_cohort(50, sites=2, seed=2)
    table = redcap_table(cohort)
    allowed = [v.name for v in DATA_DICTIONARY] + list(EXPORT_ONLY_COLUMNS)
    assert set(table.columns) <= set(allowed)
    assert [c for c in allowed if c in table.columns] == list(table.columns)
    patients = table[table["redcap_repeat_instrument"] == ""]
    assert len(patients) == 50
    assert (patients["notes"] == SYNTHETIC_NOTE).all()
    events = table[table["redcap_repeat_instrument"] == "event"]
    assert len(events) == len(cohort.events)
    first = events.groupby("record_id")["redcap_repeat_instance"].first()
    assert (first == "1").all()


def test_registry_import_accepts_every_site_file(tmp_path: Path) -> None:
    cohort = generate_cohort(120, sites=2, seed=4, missing=REALISTIC_MISSING)
    tables = redcap_tables_by_site(cohort)
    assert set(tables) == {"SYN-S01", "SYN-S02"}
    with isolated_database("sqlite", tmp_path) as (settings, database):
        users = seed_registry(database, settings)
        for editor, table in zip(("editor_a", "editor_b"), tables.values(), strict=True):
            with database.write_sessions() as session:
                report = import_csv(session, users[editor], table.to_csv(index=False))
            assert report.ok, pd.DataFrame(report.summary).head().to_string()
            is_patient = table["redcap_repeat_instrument"] == ""
            assert report.imported_patients == int(is_patient.sum())
            assert report.imported_events == int((~is_patient).sum())
