"""Conversion of a synthetic cohort to validated ``infantall.domain`` histories."""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Protocol

import numpy as np
import pandas as pd

from infantall.domain import ImplausibleValueWarning, PatientHistory
from infantall.domain.vocabulary import EVENT_FIELDS as DOMAIN_EVENT_FIELDS
from infantall.domain.vocabulary import PATIENT_FIELDS as DOMAIN_PATIENT_FIELDS

__all__ = ["CohortFrames", "event_records", "patient_records", "to_histories"]


class CohortFrames(Protocol):
    """What the conversion reads of a cohort (a :class:`~infantall.cohort.SyntheticCohort`)."""

    @property
    def patients(self) -> pd.DataFrame:
        """One row per patient."""

    @property
    def events(self) -> pd.DataFrame:
        """One row per event, grouped by patient."""


#: Patient fields of ``infantall.domain.Patient`` carried by the patients frame (the domain's
#: fields, less those the domain computes).
_PATIENT_FIELDS = tuple(name for name in DOMAIN_PATIENT_FIELDS if name != "age_days")

#: Attributes of each event kind the synthetic cohort generates (the domain's registry of event
#: types; late effects are not generated, so the frame has no ``effect``/``grade`` columns).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    kind: fields for kind, fields in DOMAIN_EVENT_FIELDS.items() if kind != "late_effect"
}


def _iso(values: pd.Series) -> np.ndarray:
    return np.asarray(values.dt.strftime("%Y-%m-%d").to_numpy(), dtype=object)


def patient_records(patients: pd.DataFrame) -> list[dict[str, Any]]:
    """The patients frame as ``Patient.from_dict`` mappings (ISO dates, enum strings)."""
    frame = patients[list(_PATIENT_FIELDS)].copy()
    for col in ("birth_date", "diagnosis_date", "enrollment_date"):
        frame[col] = _iso(frame[col])
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype(str)
        elif pd.api.types.is_float_dtype(frame[col]):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame.to_dict(orient="records")  # type: ignore[return-value]


def event_records(events: pd.DataFrame) -> list[dict[str, Any]]:
    """Events as domain event mappings (``kind``, ``date`` and that kind's attributes)."""
    dates = _iso(events["date"])
    kinds = events["kind"].astype(str).to_numpy()
    columns = {
        name: events[name].astype(object).where(events[name].notna(), None).to_numpy()
        for name in {f for fields in EVENT_FIELDS.values() for f in fields}
        if name in events.columns  # attributes the frame does not carry take the defaults
    }
    out: list[dict[str, Any]] = []
    for i, kind in enumerate(kinds):
        record: dict[str, Any] = {"kind": kind, "date": dates[i]}
        for name in EVENT_FIELDS[kind]:
            if name in columns:
                record[name] = columns[name][i]
        out.append(record)
    return out


def to_histories(cohort: CohortFrames) -> list[PatientHistory]:
    """One validated :class:`~infantall.domain.PatientHistory` per synthetic patient.

    Synthetic values in the realistic tail (WBC above 1,000 × 10^9/L, congenital ALL at
    0 days) are drawn on purpose, so the domain's ``ImplausibleValueWarning`` is silenced
    here; every other validation applies and raises ``InvalidRecordError``.
    """
    patients = patient_records(cohort.patients)
    events = event_records(cohort.events)
    ids = cohort.events["patient_id"].astype(str).to_numpy()
    bounds = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True])
    by_patient = {ids[a]: events[a:b] for a, b in itertools.pairwise(bounds)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImplausibleValueWarning)
        return [
            PatientHistory.from_dict({"patient": p, "events": by_patient.get(p["patient_id"], [])})
            for p in patients
        ]
