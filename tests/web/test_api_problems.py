"""A stored history the domain refuses (two deaths, as PostgreSQL stored them before the
patient row was locked) is answered as a clear per-patient problem, never a 500 for the
whole site or pool (issue 14, defect 1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from infantall.domain import Death
from infantall.registry.export import pseudonym
from infantall.registry.models import Event, Patient, utcnow
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate

PROBLEM = "application/problem+json"


def _two_deaths(database: Any, who: Any) -> str:
    with database.write_sessions() as s:
        p = create_patient(
            s,
            who,
            PatientCreate(
                local_code="TWO-DEATHS",
                birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1),
                kmt2a="rearranged",
            ),
        )
        row = s.scalar(select(Patient).where(Patient.registry_id == p.registry_id))
        assert row is not None
        for n in (1, 2):  # written past the services, as the old race stored them
            day = dt.date(2024, 4, n)
            s.add(
                Event(
                    registry_id=f"E-RAW-{n}",
                    patient_id=row.id,
                    kind="death",
                    event_date=day,
                    data=Death(date=day).to_dict(),
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        s.commit()
    return p.registry_id


@pytest.mark.parametrize("path", ["/api/v1/analysis/dataset", "/api/v1/quality"])
def test_invalid_stored_history_is_a_named_problem(
    client: Any, auth: Any, registry: Any, seeded: Any, path: str
) -> None:
    settings, database = registry
    bad = _two_deaths(database, seeded["editor_a"])
    site = client.get(path, headers=auth["editor_a"])
    assert site.status_code == 422, site.text
    assert site.headers["content-type"].startswith(PROBLEM)
    body = site.json()
    assert body["code"] == "invalid_stored_history"
    assert body["errors"] and all(e["field"].startswith(f"patients[{bad}]") for e in body["errors"])
    # the coordinator's pooled answer names the pseudonym, never the registry id
    pooled = client.get(path, headers=auth["coord"])
    assert pooled.status_code == 422, pooled.text
    key = settings.pseudonym_key.get_secret_value()
    fields = [e["field"] for e in pooled.json()["errors"]]
    assert all(f.startswith(f"patients[{pseudonym(key, bad)}]") for f in fields)
    assert bad not in pooled.text
    # another site is not affected
    other = client.get(path, headers=auth["editor_b"])
    assert other.status_code != 500
    assert "invalid_stored_history" not in other.text
