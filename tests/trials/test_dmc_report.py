"""DMC reports: the closed one is arm level and DMC only, the open one pooled (both databases)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from infantall.domain import Death
from infantall.registry.errors import PermissionDeniedError
from infantall.registry.events import add_event
from infantall.reports.dmc_section import dmc_report_html
from infantall.services import trials
from infantall.services.trials.dmc import dmc_report


def test_closed_and_open_reports(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any], make_patients: Any
) -> None:
    _, database = registry
    design = {**binary_spec, "analyses": {"patients": [4, 8, 12]}}
    with database.write_sessions() as s:
        trials.create_trial(s, seeded["coord"], code="T1", spec=design, method="response-adaptive")
        trials.grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")
    ids = make_patients(database, seeded["editor_a"], 6, "A")
    arms = []
    for pid in ids:
        with database.write_sessions() as s:
            arms.append(trials.enrol(s, seeded["editor_a"], "T1", pid).arm)
    with database.write_sessions() as s:
        add_event(s, seeded["editor_a"], ids[0], Death(date=dt.date(2025, 6, 1)))
        trials.record_interim(s, seeded["dmc"], "T1", patients=[1, 1, 1, 1], successes=[0, 1, 0, 1])
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    with database.read_sessions() as s:
        closed = dmc_report(s, seeded["dmc"], "T1", closed=True, now=now)
        opened = dmc_report(s, seeded["coord"], "T1", closed=False, now=now)
        with pytest.raises(PermissionDeniedError):
            dmc_report(s, seeded["coord"], "T1", closed=True, now=now)
    assert closed.enrolled == opened.enrolled == 6
    assert sum(sum(r[a] for a in closed.trial.arms) for r in closed.allocation_history) == 6
    deaths = {r["group"]: r["death"] for r in closed.safety}
    assert deaths == {arms[0]: 1}
    assert opened.safety == [
        {"group": "all arms", "death": 1, "relapse": 0, "second_malignancy": 0}
    ]
    assert len(closed.interims) == 1 and opened.interims == [] and opened.allocation_history == []
    oc = closed.resimulated
    assert oc is not None and opened.resimulated is None
    assert oc["assumed_p"] == [1 / 3, 2 / 3, 1 / 3, 2 / 3]  # Beta(1, 1) posterior means
    assert 0.0 <= oc["prob_superiority"] <= 1.0
    assert sum(oc["prob_select"]) == pytest.approx(oc["prob_superiority"])
    assert closed.timing is not None and closed.timing.targets == (8, 12)
    page_closed, page_open = dmc_report_html(closed), dmc_report_html(opened)
    assert 'id="interims"' in page_closed and 'id="allocation"' in page_closed
    assert 'id="resimulated"' in page_closed and 'id="resimulated"' not in page_open
    assert 'id="interims"' not in page_open and 'id="allocation"' not in page_open
    assert "P(best)" not in page_open
    assert "CLOSED" in page_closed and "OPEN" in page_open
