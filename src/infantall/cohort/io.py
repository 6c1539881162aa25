"""Writing and reading synthetic cohorts: JSON and flat CSV (patients + events).

JSON: ``{"metadata": {"synthetic": true, ...}, "sites": [...], "patients": [...],
"events": [...]}`` with patients as ``infantall.domain.Patient`` mappings (plus
``age_days``, ``risk_group`` and ``synthetic``) and events as domain event mappings (plus
``patient_id``). The registry's CSV import layout is written by
``infantall.services.cohort_registry.write_redcap_csv`` (a use case above this part). Flat CSV
(:func:`write_csv`): one row per patient in ``<name>.csv`` and one row per event in
``<name>_events.csv`` beside it, every row with ``synthetic = true``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from infantall.cohort.calibration import calibrate
from infantall.cohort.histories import event_records, patient_records
from infantall.cohort.model import PATIENT_COLUMNS, SYNTHETIC_LABEL, SyntheticCohort
from infantall.cohort.outcomes import CATEGORIES, EVENT_COLUMNS
from infantall.cohort.relapse import RELAPSE_COLUMNS, restore_relapse_columns
from infantall.errors import DataFileError

__all__ = [
    "cohort_document",
    "events_csv_path",
    "load_cohort",
    "write_cohort",
    "write_csv",
    "write_json",
]

_FORMAT_VERSION = 1


def _json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))  # type: ignore[no-any-return]


def cohort_document(cohort: SyntheticCohort) -> dict[str, Any]:
    """The JSON document of a cohort (see the module docstring)."""
    patients = patient_records(cohort.patients)
    extra = cohort.patients[["age_days", "risk_group"]].astype({"risk_group": str})
    for record, age, group in zip(
        patients, extra["age_days"].tolist(), extra["risk_group"].tolist(), strict=True
    ):
        record.update(age_days=age, risk_group=group, synthetic=True)
        for key, value in list(record.items()):
            if isinstance(value, float) and np.isnan(value):
                record[key] = None
    events = event_records(cohort.events)
    for record, pid in zip(events, cohort.events["patient_id"].astype(str).tolist(), strict=True):
        record["patient_id"] = pid
    sites = cohort.sites[["site_id", "name", "weight", "opened"]].copy()
    sites["opened"] = sites["opened"].dt.strftime("%Y-%m-%d")
    return {
        "metadata": {**cohort.metadata, "format_version": _FORMAT_VERSION},
        "sites": _json_records(sites),
        "patients": patients,
        "events": events,
    }


def write_json(cohort: SyntheticCohort, path: str | Path) -> Path:
    """Write the cohort as one JSON file with a ``synthetic: true`` metadata block."""
    out = Path(path)
    out.write_text(json.dumps(cohort_document(cohort), ensure_ascii=False), encoding="utf-8")
    return out


def events_csv_path(path: str | Path) -> Path:
    """Where :func:`write_csv` puts the events of the patients file ``path``."""
    p = Path(path)
    return p.with_name(f"{p.stem}_events{p.suffix or '.csv'}")


def write_csv(cohort: SyntheticCohort, path: str | Path) -> tuple[Path, Path]:
    """Write ``path`` (one row per patient) and ``<stem>_events.csv`` (one row per event)."""
    patients_path = Path(path)
    cohort.patients.to_csv(patients_path, index=False, date_format="%Y-%m-%d")
    ev_path = events_csv_path(patients_path)
    cohort.events.to_csv(ev_path, index=False, date_format="%Y-%m-%d")
    return patients_path, ev_path


def write_cohort(cohort: SyntheticCohort, path: str | Path) -> list[Path]:
    """Write the cohort to a ``.json`` file (:func:`write_json`); the files written.

    The registry's CSV import layout is
    ``infantall.services.cohort_registry.write_redcap_csv`` (``infantall cohort generate
    -o NAME.csv`` chooses it by the suffix).
    """
    if Path(path).suffix.lower() != ".json":
        raise DataFileError(
            str(path),
            "-",
            "suffix",
            "expected a .json file name (the registry CSV layout: "
            "infantall.services.cohort_registry.write_redcap_csv)",
        )
    return [write_json(cohort, path)]


def load_cohort(path: str | Path) -> SyntheticCohort:
    """Read a cohort written by :func:`write_json` (refuses files not marked synthetic)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFileError(str(p), "-", "-", f"cannot read JSON: {exc}") from None
    meta = doc.get("metadata", {}) if isinstance(doc, dict) else {}
    if meta.get("synthetic") is not True:
        raise DataFileError(str(p), "metadata", "synthetic", "not a synthetic cohort file")
    for key in ("patients", "events", "sites"):
        if not isinstance(doc.get(key), list):
            raise DataFileError(str(p), key, key, "missing or not a list")
    patients = pd.DataFrame(doc["patients"])
    for col in ("birth_date", "diagnosis_date", "enrollment_date"):
        patients[col] = pd.to_datetime(patients[col])
    patients = patients.reindex(columns=list(PATIENT_COLUMNS))
    raw = pd.DataFrame(doc["events"])
    # The post-relapse course's columns are kept when the file has them.
    extra = [c for c in RELAPSE_COLUMNS if c in raw.columns]
    events = raw.reindex(columns=[*EVENT_COLUMNS, *extra])
    if extra:
        events = restore_relapse_columns(events)
    events["date"] = pd.to_datetime(events["date"])
    diagnosis = patients.set_index("patient_id")["diagnosis_date"]
    events["day"] = (events["date"] - events["patient_id"].map(diagnosis)).dt.days
    events["synthetic"] = True
    for name, categories in CATEGORIES.items():
        events[name] = pd.Categorical(events[name], categories=list(categories))
    sites = pd.DataFrame(doc["sites"])
    sites["opened"] = pd.to_datetime(sites["opened"])
    model = calibrate(str(meta.get("calibration", "interfant-06")))
    return SyntheticCohort(patients, events, sites, model, {**meta, "label": SYNTHETIC_LABEL})
