"""The registry cohort of the report flows: histories loaded once, with the analysis
dataset derived from exactly those histories (pseudonymised alike for coordinators)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from infantall.domain import LastContact
from infantall.outcomes.endpoints import derive_endpoints
from infantall.registry.errors import PermissionDeniedError, ValidationFailedError
from infantall.registry.events import add_event
from infantall.registry.export import pseudonym
from infantall.registry.histories import scoped_rows
from infantall.registry.models import AuditEntry
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.services import datasets


def _patients(database: Any, seeded: dict[str, Any]) -> list[str]:
    ids = []
    for code, editor in (("A-1", "editor_a"), ("A-2", "editor_a"), ("B-1", "editor_b")):
        with database.write_sessions() as s:
            p = create_patient(
                s,
                seeded[editor],
                PatientCreate(
                    local_code=code,
                    birth_date=dt.date(2024, 1, 1),
                    diagnosis_date=dt.date(2024, 3, 1),
                    kmt2a="rearranged",
                ),
            )
            add_event(s, seeded[editor], p.registry_id, LastContact(date=dt.date(2025, 6, 1)))
        ids.append(p.registry_id)
    return ids


def _analyses(database: Any) -> int:
    with database.read_sessions() as s:
        return s.scalar(select(func.count()).where(AuditEntry.action == "analysis")) or 0


def test_registry_cohort_loads_once_and_pseudonymises_both_for_coordinators(
    registry: Any, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, database = registry
    ids = _patients(database, seeded)
    key = settings.pseudonym_key.get_secret_value()
    calls: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("load")
        return scoped_rows(*args, **kwargs)

    monkeypatch.setattr(datasets, "scoped_rows", counted)
    with database.write_sessions() as s:
        cohort = datasets.registry_cohort(s, seeded["coord"], key)
    assert calls == ["load"]
    assert cohort.pooled
    assert [h.patient.patient_id for h in cohort.histories] == [pseudonym(key, i) for i in ids]
    assert set(cohort.dataset.covariates.USUBJID) == {pseudonym(key, i) for i in ids}
    expected = derive_endpoints(list(cohort.histories), protocol="interfant-06")
    assert cohort.dataset.adtte.equals(expected.adtte)
    assert _analyses(database) == 1


def test_a_site_cohort_is_its_own_patients_under_their_registry_ids(
    registry: Any, seeded: dict[str, Any]
) -> None:
    settings, database = registry
    ids = _patients(database, seeded)
    key = settings.pseudonym_key.get_secret_value()
    with database.write_sessions() as s:
        cohort = datasets.registry_cohort(s, seeded["viewer_a"], key)
        dataset, warnings = datasets.analysis_dataset(s, seeded["viewer_a"], key)
    assert not cohort.pooled
    assert [h.patient.patient_id for h in cohort.histories] == ids[:2]
    assert dataset.adtte.equals(cohort.dataset.adtte)
    assert warnings == list(cohort.warnings)


def test_an_empty_scope_and_an_admin_are_refused(registry: Any, seeded: dict[str, Any]) -> None:
    settings, database = registry
    key = settings.pseudonym_key.get_secret_value()
    with database.write_sessions() as s:
        with pytest.raises(ValidationFailedError):
            datasets.registry_cohort(s, seeded["viewer_b"], key)
        with pytest.raises(PermissionDeniedError):
            datasets.registry_cohort(s, seeded["admin"], key)
