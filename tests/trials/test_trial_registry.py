"""Trials in the registry (SQLite and PostgreSQL): frozen design, enrolment, replay, roles."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from infantall.errors import InvalidInputError
from infantall.registry import trials as trial_models
from infantall.registry.db import HEAD_REVISION, current_revision
from infantall.registry.errors import PermissionDeniedError
from infantall.registry.models import Base
from infantall.registry.security import password_hasher
from infantall.registry.testing import SEED_PASSWORD
from infantall.services import trials


def test_migration_0003_creates_exactly_the_trial_models(registry: Any) -> None:
    _, database = registry
    assert "trials" in Base.metadata.tables  # the trial models share the registry metadata
    assert trial_models.Trial.__tablename__ == "trials"
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert current_revision(database.engine) == HEAD_REVISION  # 0004 (signatures) follows 0003


def _open(
    database: Any, seeded: dict[str, Any], spec: dict[str, Any], method: str, **kw: Any
) -> None:
    with database.write_sessions() as s:
        trials.create_trial(s, seeded["coord"], code="T1", spec=spec, method=method, **kw)
        trials.grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")


def test_design_is_frozen_after_first_enrolment(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any], make_patients: Any
) -> None:
    settings, database = registry
    _open(database, seeded, binary_spec, "permuted-blocks")
    changed = {**binary_spec, "decisions": {"superiority": 0.995, "futility": 0.05}}
    with database.write_sessions() as s:  # before enrolment: a new version, unsigned
        info = trials.revise_spec(s, seeded["coord"], "T1", changed)
    assert info.spec_version == 2
    (pid,) = make_patients(database, seeded["editor_a"], 1, "A")
    with database.write_sessions() as s:
        trials.enrol(s, seeded["editor_a"], "T1", pid)
    with database.write_sessions() as s, pytest.raises(InvalidInputError) as err:
        trials.revise_spec(s, seeded["coord"], "T1", binary_spec)
    assert err.value.code == "spec_locked"
    hasher = password_hasher(settings)
    for signature, password in (("someone", SEED_PASSWORD), ("coord", "wrong"), ("coord", None)):
        with database.write_sessions() as s, pytest.raises(InvalidInputError) as bad:
            trials.revise_spec(
                s,
                seeded["coord"],
                "T1",
                binary_spec,
                reason="x",
                signature=signature,
                password=password,
                hasher=hasher,
            )
        assert bad.value.code == "spec_locked"
    with database.write_sessions() as s:
        info = trials.revise_spec(
            s,
            seeded["coord"],
            "T1",
            binary_spec,
            reason="DMC advice",
            signature="coord",
            password=SEED_PASSWORD,
            hasher=hasher,
        )
    assert info.spec_version == 3
    assert info.spec_digest == trials.spec_digest(binary_spec)
    with database.read_sessions() as s:
        rows = s.execute(
            text("SELECT action, entity FROM audit_log WHERE entity LIKE 'trial%'")
        ).all()
    assert ("revise", "trial_spec") in [tuple(r) for r in rows]
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text("UPDATE trial_spec_versions SET digest = 'x'"))


def test_enrolment_checks_eligibility_with_the_protocol(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any], make_patients: Any
) -> None:
    _, database = registry
    _open(
        database,
        seeded,
        binary_spec,
        "minimisation",
        settings={"factors": ["age_under_6_months", "wbc_300", "site"]},
    )
    (pid,) = make_patients(database, seeded["editor_a"], 1, "A")
    with database.write_sessions() as s, pytest.raises(PermissionDeniedError):
        trials.enrol(s, seeded["coord"], "T1", pid)
    with database.write_sessions() as s:
        res = trials.enrol(s, seeded["editor_a"], "T1", pid)
    assert res.eligibility  # the protocol's explanation
    assert res.arm in {a["name"] for a in binary_spec["arms"]}
    assert res.number == 0


def _enrol_all(database: Any, editor: Any, ids: list[str]) -> list[str]:
    arms = []
    for pid in ids:
        with database.write_sessions() as s:
            arms.append(trials.enrol(s, editor, "T1", pid).arm)
    return arms


@pytest.mark.parametrize("method", ["permuted-blocks", "minimisation"])
def test_replay_reproduces_every_allocation(
    registry: Any,
    seeded: dict[str, Any],
    binary_spec: dict[str, Any],
    method: str,
    make_patients: Any,
) -> None:
    _, database = registry
    settings = {"factors": ["age_under_6_months", "wbc_300"]}
    _open(database, seeded, binary_spec, method, settings=settings, seed=20)
    ids = make_patients(database, seeded["editor_a"], 150, "A")
    arms = _enrol_all(database, seeded["editor_a"], ids)
    assert len(set(arms)) == 4
    with database.read_sessions() as s:
        result = trials.replay_trial(s, "T1")
    assert result.identical, result.differences
    assert result.allocations == 150
    # another seed gives other allocations: replay must notice (the test can fail)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE trials SET seed = seed + 1"))
    with database.read_sessions() as s:
        tampered = trials.replay_trial(s, "T1")
    assert not tampered.identical
    assert any("recorded arm" in d for d in tampered.differences)
