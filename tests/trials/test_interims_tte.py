"""Time-to-event designs in the registry: interims by events, and response-adaptive
allocation whose probabilities are the engine's for the same events and person-years.

The hazard posteriors come from :mod:`infantall.design.tte_posterior` (one interval, the
design's Gamma prior); the test checks exact equality with the engine's own analysis step
(``engine._State.analyse`` fed ``gamma_shape + events`` and ``gamma_rate + person-years``,
as ``engine._simulate_tte`` feeds it). Follow-up times are multiples of 1/8 year so that
every sum is exact whatever the order of summation.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from infantall.design.adaptive import spec_from_dict
from infantall.design.adaptive.engine import _State
from infantall.design.allocation import interim_update, tte_interim_update
from infantall.domain import Death, LastContact, Relapse
from infantall.errors import InvalidInputError
from infantall.registry import patients as patient_service
from infantall.registry.events import add_event
from infantall.services import trials
from infantall.services.trials.dmc import dmc_report
from infantall.services.trials.outcomes import YEAR_DAYS, registry_tte

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "design"


@pytest.fixture
def tte_spec() -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES / "time-to-event.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("look", [0, 1])
def test_tte_allocation_equals_the_engine(tte_spec: dict[str, Any], look: int) -> None:
    spec = spec_from_dict(tte_spec)
    rng = np.random.default_rng(31 + look)
    n = 90
    times = rng.integers(1, 40, size=n) / 8.0
    events = (rng.random(n) < 0.4).astype(int)
    arms = rng.integers(0, 3, size=n)
    arms[:3] = [0, 1, 2]
    res = tte_interim_update(spec, look, times, events, arms, [True, True, True])
    d = np.array([events[arms == k].sum() for k in range(3)], dtype=float)
    e = np.array([times[arms == k].sum() for k in range(3)])
    state = _State(spec, 1)
    prior = spec.prior
    state.analyse(
        look, (prior.gamma_shape + d)[None, :], (prior.gamma_rate + e)[None, :], "gamma", rng
    )
    assert res.update.allocation == tuple(float(v) for v in state.alloc[0])
    assert res.update.active == tuple(bool(v) for v in state.active[0])
    assert res.events == tuple(d) and res.exposure == tuple(e)
    # the stored summary (events, person-years) replays to the same update, bit for bit
    assert interim_update(spec, look, e, d, [True] * 3) == res.update
    # the data matter: other events give other probabilities (the test can fail)
    other = tte_interim_update(spec, look, times, 1 - events, arms, [True] * 3)
    assert other.update.allocation != res.update.allocation


def test_tte_update_errors_name_the_field(
    tte_spec: dict[str, Any], binary_spec: dict[str, Any]
) -> None:
    spec = spec_from_dict(tte_spec)
    with pytest.raises(InvalidInputError, match="arms"):
        tte_interim_update(spec, 0, [1.0], [1], [3], [True] * 3)
    with pytest.raises(InvalidInputError, match=r"spec\.outcome"):
        tte_interim_update(spec_from_dict(binary_spec), 0, [1.0], [1], [0], [True] * 4)


def _add_events(database: Any, editor: Any, ids: list[str], plan: list[tuple[Any, int]]) -> None:
    with database.write_sessions() as s:
        for pid, (kind, days) in zip(ids, plan, strict=True):
            diag = patient_service.get_patient(s, editor, pid).diagnosis_date
            add_event(s, editor, pid, kind(date=diag + dt.timedelta(days=days)))


def test_interims_by_events_in_the_registry(
    registry: Any, seeded: dict[str, Any], tte_spec: dict[str, Any], make_patients: Any
) -> None:
    _, database = registry
    design = {**tte_spec, "analyses": {"years": [3, 5]}}
    with (
        database.write_sessions() as s,
        pytest.raises(InvalidInputError, match="interim_events"),
    ):
        trials.create_trial(
            s,
            seeded["coord"],
            code="T0",
            spec=design,
            method="response-adaptive",
            settings={"interim_events": [2]},  # one count per analysis (two)
        )
    with database.write_sessions() as s:
        trials.create_trial(
            s,
            seeded["coord"],
            code="T1",
            spec=design,
            method="response-adaptive",
            settings={"interim_events": [2, 4]},
            seed=5,
        )
        trials.grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")
    editor = seeded["editor_a"]
    ids = make_patients(database, editor, 6, "A")
    for pid in ids:
        with database.write_sessions() as s:
            trials.enrol(s, editor, "T1", pid)
    as_of = dt.date(2026, 12, 1)
    _add_events(database, editor, ids[:1], [(Death, 100)])
    with (  # one event: not due yet
        database.write_sessions() as s,
        pytest.raises(InvalidInputError, match="1 events; next at 2 events"),
    ):
        trials.record_interim(s, seeded["dmc"], "T1", as_of=as_of)
    with database.read_sessions() as s:
        view = trials.trial_view(s, seeded["coord"], "T1")["next_analysis"]
    assert view == {"look": 1, "counts": "events", "at_events": 2, "due": False}
    # a relapse, a last contact (censored) and a death: three events in all
    _add_events(database, editor, ids[1:4], [(Relapse, 200), (LastContact, 400), (Death, 50)])
    with database.read_sessions() as s:
        tte = registry_tte(s, "T1", as_of)
    assert tte.events == [1, 1, 0, 1, 0, 0]
    assert tte.times[:4] == [100 / YEAR_DAYS, 200 / YEAR_DAYS, 400 / YEAR_DAYS, 50 / YEAR_DAYS]
    with database.write_sessions() as s:
        result = trials.record_interim(s, seeded["dmc"], "T1", as_of=as_of)
    spec = spec_from_dict(design)
    expected = tte_interim_update(spec, 0, tte.times, tte.events, tte.arms, [True] * 3)
    assert result == expected.update.to_dict()
    # the next enrolment is allocated with the interim's probabilities; replay agrees
    (late,) = make_patients(database, editor, 1, "L", seed=9)
    with database.write_sessions() as s:
        trials.enrol(s, editor, "T1", late)
    with database.read_sessions() as s:
        replay = trials.replay_trial(s, "T1")
        closed = trials.trial_view(s, seeded["dmc"], "T1")
    assert replay.identical, replay.differences
    assert replay.interims == 1 and replay.allocations == 7
    assert closed["interims"][0]["result"]["allocation"] == list(expected.update.allocation)
    # the DMC report predicts by events when the schedule counts events: 3 of 4 seen
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    with database.read_sessions() as s:
        report = dmc_report(s, seeded["dmc"], "T1", closed=True, now=later)
    assert report.timing is not None
    assert report.timing.counts == "events" and report.timing.targets == (4,)
    assert 0 < report.timing.lower[0] < report.timing.median[0] < report.timing.upper[0]
