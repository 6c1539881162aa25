"""Interims that fire on schedule (issue 20, "interims fire on schedule with the design's
rules"): with ``settings.auto_interims`` the enrolment that makes an interim due runs it at
once with the design's rule on the registry's data, recorded for the DMC only; a scheduler
runs interims due by events or years (`trial run-due`). SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from infantall.design.adaptive import spec_from_dict
from infantall.design.allocation import interim_update
from infantall.errors import InvalidInputError
from infantall.registry.errors import PermissionDeniedError
from infantall.registry.models import AuditEntry
from infantall.services import trials
from infantall.services.trials.enrol import interims_of


def _design(binary_spec: dict[str, Any]) -> dict[str, Any]:
    return {**binary_spec, "analyses": {"patients": [4, 8, 400]}}


def _open(database: Any, seeded: dict[str, Any], design: dict[str, Any], auto: Any) -> None:
    with database.write_sessions() as s:
        trials.create_trial(
            s,
            seeded["coord"],
            code="T1",
            spec=design,
            method="response-adaptive",
            settings={"auto_interims": auto},
        )
        trials.grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")


def _interims(database: Any) -> list[Any]:
    with database.read_sessions() as s:
        return interims_of(s, trials.load_trial(s, "T1"))


def test_the_enrolment_that_makes_an_interim_due_runs_it(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any], make_patients: Any
) -> None:
    _, database = registry
    design = _design(binary_spec)
    _open(database, seeded, design, True)
    ids = make_patients(database, seeded["editor_a"], 9, "A")
    for i, pid in enumerate(ids):
        with database.write_sessions() as s:
            res = trials.enrol_and_run_due(s, seeded["editor_a"], "T1", pid)
        assert set(res.to_dict()) >= {"arm", "number"} and "result" not in res.to_dict()
        assert len(_interims(database)) == (i + 1) // 4  # due at 4 and 8 enrolled
    rows = _interims(database)
    assert [r.after_enrolments for r in rows] == [4, 8]
    # the design's own rule on the registry's data (no outcome data yet: all zero)
    spec = spec_from_dict(design)
    first = interim_update(spec, 0, rows[0].data["patients"], rows[0].data["successes"],
                           [True] * spec.n_arms).to_dict()  # fmt: skip
    assert rows[0].result == first
    with database.read_sessions() as s:
        channels = s.scalars(
            select(AuditEntry.channel).where(AuditEntry.entity == "trial_interim")
        ).all()
        replay = trials.replay_trial(s, "T1")
    assert channels == ["auto", "auto"]
    assert replay.identical and replay.interims == 2 and replay.allocations == 9
    # nothing more is due: the DMC's manual run says so, the scheduler runs none
    with database.write_sessions() as s, pytest.raises(InvalidInputError) as err:
        trials.record_interim(s, seeded["dmc"], "T1")
    assert err.value.code == "not_due"
    with database.write_sessions() as s:
        assert trials.run_due_interims_scheduled(s, seeded["coord"], "T1") == 0
    with database.write_sessions() as s, pytest.raises(PermissionDeniedError):
        trials.run_due_interims_scheduled(s, seeded["editor_a"], "T1")


def test_without_auto_interims_the_dmc_runs_each(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any], make_patients: Any
) -> None:
    _, database = registry
    _open(database, seeded, _design(binary_spec), False)
    for pid in make_patients(database, seeded["editor_a"], 4, "A"):
        with database.write_sessions() as s:
            trials.enrol_and_run_due(s, seeded["editor_a"], "T1", pid)
    assert _interims(database) == []
    with database.write_sessions() as s:
        assert trials.run_due_interims_scheduled(s, seeded["dmc"], "T1") == 0
        trials.record_interim(s, seeded["dmc"], "T1")
    assert len(_interims(database)) == 1


def test_auto_interims_must_be_true_or_false(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any]
) -> None:
    _, database = registry
    with pytest.raises(InvalidInputError) as err:
        _open(database, seeded, _design(binary_spec), "yes")
    assert (err.value.field, err.value.code) == ("settings.auto_interims", "not_a_boolean")
