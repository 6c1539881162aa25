"""A choice left out is stored *not entered* (empty), apart from an entered ``unknown``
(issue 15): through the API schema, in storage, in the histories analyses read (both are
the domain's ``unknown`` there), on correction, and across migration 0008 (old rows keep
``unknown``; a downgrade turns not entered back into ``unknown``). SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from infantall.domain import KMT2AStatus
from infantall.registry.db import (
    HEAD_REVISION,
    Database,
    alembic_config,
    current_revision,
    upgrade_database,
)
from infantall.registry.histories import scoped_rows, to_histories
from infantall.registry.models import Patient, Site
from infantall.registry.patients import create_patient, update_patient
from infantall.registry.schemas import PatientCreate, PatientUpdate
from infantall.registry.validation import CHOICE_FIELDS

from .test_registry_migration_chain import empty_database  # noqa: F401  (fixture)

DATES = {"birth_date": dt.date(2023, 1, 1), "diagnosis_date": dt.date(2023, 3, 1)}


def _stored(database: Database, registry_id: str) -> dict[str, Any]:
    with database.read_sessions() as session:
        row = session.scalars(select(Patient).where(Patient.registry_id == registry_id)).one()
        return {name: getattr(row, name) for name in CHOICE_FIELDS}


def test_left_out_is_not_entered_and_unknown_is_unknown(
    registry: Any, seeded: dict[str, Any]
) -> None:
    _, database = registry
    editor = seeded["editor_a"]
    with database.write_sessions() as session:
        blank = create_patient(session, editor, PatientCreate(local_code="N-1", **DATES))
        told = create_patient(
            session, editor, PatientCreate(local_code="N-2", kmt2a="unknown", cns="CNS1", **DATES)
        )
    assert blank.kmt2a is None and blank.cns is None
    assert told.kmt2a == "unknown" and told.cns == "CNS1"
    assert set(_stored(database, blank.registry_id).values()) == {None}
    stored = _stored(database, told.registry_id)
    assert stored["kmt2a"] == "unknown" and stored["cns"] == "CNS1" and stored["sex"] is None
    # Analyses read not entered as the domain's unknown.
    with database.read_sessions() as session:
        histories = {h.patient.patient_id: h for h in to_histories(*scoped_rows(session, editor))}
    assert histories[blank.registry_id].patient.kmt2a is KMT2AStatus.unknown
    assert histories[told.registry_id].patient.kmt2a is KMT2AStatus.unknown


def test_a_derived_choice_is_stored_and_a_correction_can_empty_a_choice(
    registry: Any, seeded: dict[str, Any]
) -> None:
    _, database = registry
    editor = seeded["editor_a"]
    with database.write_sessions() as session:
        p = create_patient(
            session, editor, PatientCreate(local_code="N-3", day8_blasts=2500.0, **DATES)
        )
    assert p.prednisone_response == "poor"  # derived from the count, so entered
    with database.write_sessions() as session:
        p = create_patient(
            session, editor, PatientCreate(local_code="N-4", kmt2a="germline", **DATES)
        )
        q = update_patient(
            session,
            editor,
            p.registry_id,
            PatientUpdate.model_validate({"version": p.version, "reason": "typo", "kmt2a": None}),
        )
    assert q.kmt2a is None
    assert _stored(database, p.registry_id)["kmt2a"] is None


def test_migration_keeps_old_unknown_and_downgrade_restores_it(
    empty_database: Database,  # noqa: F811
) -> None:
    database = empty_database
    upgrade_database(database.engine, "0003")
    with database.engine.begin() as conn:
        site = conn.execute(insert(Site).values(code="S", name="Site").returning(Site.id)).scalar()
        values = {name: "unknown" for name in CHOICE_FIELDS}
        conn.execute(
            insert(Patient).values(
                registry_id="P-old", site_id=site, local_code="old", age_days=59,
                protocol="unknown", **DATES, **values,
            )
        )  # fmt: skip
    upgrade_database(database.engine)
    assert current_revision(database.engine) == HEAD_REVISION
    with database.engine.begin() as conn:
        old = conn.execute(text("SELECT kmt2a, sex FROM patients WHERE registry_id = 'P-old'"))
        assert tuple(old.one()) == ("unknown", "unknown")
        conn.execute(text("UPDATE patients SET kmt2a = NULL WHERE registry_id = 'P-old'"))
    config = alembic_config(database.engine)
    before_0008 = ScriptDirectory.from_config(config).get_revision("0008").down_revision
    command.downgrade(config, str(before_0008))  # undo 0008 (and any revision after it)
    with database.engine.begin() as conn:
        back = conn.execute(text("SELECT kmt2a FROM patients WHERE registry_id = 'P-old'"))
        assert back.scalar() == "unknown"
    with pytest.raises(IntegrityError), database.engine.begin() as conn:  # NOT NULL again
        conn.execute(text("UPDATE patients SET kmt2a = NULL WHERE registry_id = 'P-old'"))
