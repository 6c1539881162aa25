"""Interim data derived from the registry's events (event-free at the design's landmark)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from infantall.domain import Death, LastContact, Relapse
from infantall.registry import patients as patient_service
from infantall.registry.events import add_event
from infantall.services import trials
from infantall.services.trials.outcomes import registry_outcomes

AS_OF = dt.date(2026, 12, 1)


def test_interim_from_registry_events(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any], make_patients: Any
) -> None:
    _, database = registry
    design = {**binary_spec, "analyses": {"patients": [4, 8]}, "outcome_lag_years": 1}
    with database.write_sessions() as s:
        trials.create_trial(s, seeded["coord"], code="T1", spec=design, method="response-adaptive")
        trials.grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")
    ids = make_patients(database, seeded["editor_a"], 4, "A")
    arms = []
    names = [a["name"] for a in binary_spec["arms"]]
    for pid in ids:
        with database.write_sessions() as s:
            arms.append(names.index(trials.enrol(s, seeded["editor_a"], "T1", pid).arm))
    editor = seeded["editor_a"]
    with database.write_sessions() as s:
        diag = [patient_service.get_patient(s, editor, p).diagnosis_date for p in ids]
        day = dt.timedelta
        add_event(s, editor, ids[0], Death(date=diag[0] + day(100)))  # failure
        add_event(s, editor, ids[1], LastContact(date=diag[1] + day(400)))  # event-free at 1 y
        add_event(s, editor, ids[2], LastContact(date=diag[2] + day(200)))  # not yet evaluable
        add_event(s, editor, ids[3], Relapse(date=diag[3] + day(500)))  # after the landmark
    expected_n, expected_y = [0] * 4, [0] * 4
    for i, outcome in ((0, 0), (1, 1), (3, 1)):
        expected_n[arms[i]] += 1
        expected_y[arms[i]] += outcome
    with database.read_sessions() as s:
        assert registry_outcomes(s, "T1", AS_OF) == (expected_n, expected_y)
    with database.read_sessions() as s:
        before = trials.trial_view(s, seeded["coord"], "T1")["next_analysis"]
    assert before == {"look": 1, "counts": "patients", "at_patients": 4, "due": True}
    with database.write_sessions() as s:
        result = trials.record_interim(s, seeded["dmc"], "T1", as_of=AS_OF)
    with database.read_sessions() as s:
        replay = trials.replay_trial(s, "T1")
        view = trials.trial_view(s, seeded["dmc"], "T1")
    assert view["interims"][0]["result"] == result
    assert view["next_analysis"] == {
        "look": 2,
        "counts": "patients",
        "at_patients": 8,
        "due": False,
    }
    assert replay.identical and replay.interims == 1
