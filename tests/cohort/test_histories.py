"""Every synthetic patient is a valid infantall.domain history."""

from __future__ import annotations

from infantall.cohort import SyntheticCohort, generate_cohort
from infantall.domain import PatientHistory


def test_every_history_validates(small: SyntheticCohort) -> None:
    histories = small.to_histories()
    assert len(histories) == len(small.patients)
    assert all(isinstance(h, PatientHistory) for h in histories)
    ids = [h.patient.patient_id for h in histories]
    assert ids == small.patients["patient_id"].tolist()
    events = sum(len(h.events) for h in histories)
    assert events == len(small.events)


def test_histories_keep_the_facts() -> None:
    cohort = generate_cohort(300, sites=4, seed=5, calibration="mll-10")
    histories = cohort.to_histories()
    deaths = sum(h.death is not None for h in histories)
    assert deaths == int((cohort.events["kind"] == "death").sum())
    hsct = sum(len(h.transplants) for h in histories)
    assert hsct == int((cohort.events["kind"] == "hsct").sum())
    first = histories[0]
    row = cohort.patients.iloc[0]
    assert first.patient.kmt2a.value == row["kmt2a"]
    assert first.patient.age_days == row["age_days"]
    assert first.patient.site == row["site"]
    for h in histories:
        assert all(e.date >= h.patient.diagnosis_date for e in h.events)  # type: ignore[operator]
