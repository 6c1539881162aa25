"""Response-adaptive trial in the registry: interims with the design's rules, replay of 1,000
enrolments bit for bit, and concealment by role (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from infantall.design.adaptive import spec_from_dict
from infantall.design.allocation import interim_update
from infantall.errors import InvalidInputError
from infantall.registry.errors import PermissionDeniedError
from infantall.services import trials

N_PATIENTS = 1000


def _rar_spec(binary_spec: dict[str, Any]) -> dict[str, Any]:
    """The example design stretched to 1,000 patients with four interims and a final look;
    superiority threshold 1 (never stops early) so that all 1,000 are enrolled."""
    return {
        **binary_spec,
        "analyses": {"patients": [200, 400, 600, 800, 1000]},
        "decisions": {"superiority": 1.0, "futility": 0.01},
    }


def _counts(enrolled: list[tuple[int, int]], k: int) -> tuple[list[int], list[int]]:
    n = np.bincount([a for a, _ in enrolled], minlength=k)
    y = np.bincount([a for a, _ in enrolled], weights=[o for _, o in enrolled], minlength=k)
    return [int(v) for v in n], [int(v) for v in y]


def test_rar_trial_replays_1000_enrolments_bit_for_bit(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any], make_patients: Any
) -> None:
    _, database = registry
    design = _rar_spec(binary_spec)
    spec = spec_from_dict(design)
    truth = [float(arm.p or 0.0) for arm in spec.arms]  # binary design: every p is given
    with database.write_sessions() as s:
        trials.create_trial(s, seeded["coord"], code="T1", spec=design, method="response-adaptive")
        trials.grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")
    half = N_PATIENTS // 2
    ids = make_patients(database, seeded["editor_a"], half, "A", seed=1)
    ids_b = make_patients(database, seeded["editor_b"], half, "B", seed=2)
    outcome_rng = np.random.default_rng(99)
    names = [a.name for a in spec.arms]
    enrolled: list[tuple[int, int]] = []
    results = []
    for i in range(N_PATIENTS):
        editor, pid = (
            (seeded["editor_a"], ids[i // 2]) if i % 2 == 0 else (seeded["editor_b"], ids_b[i // 2])
        )
        with database.write_sessions() as s:
            arm = names.index(trials.enrol(s, editor, "T1", pid).arm)
        enrolled.append((arm, int(outcome_rng.random() < truth[arm])))
        if (i + 1) in (200, 400, 600, 800):
            n, y = _counts(enrolled, spec.n_arms)
            with database.write_sessions() as s:
                res = trials.record_interim(s, seeded["dmc"], "T1", patients=n, successes=y)
            results.append(res)
    assert [r["decision"] for r in results] == ["continue"] * 4
    # the recorded interim is the design's own rule on the same data (the engine's output)
    first_n, first_y = _counts(enrolled[:200], spec.n_arms)
    assert results[0] == interim_update(spec, 0, first_n, first_y, [True] * 4).to_dict()
    with database.read_sessions() as s:
        replay = trials.replay_trial(s, "T1")
    assert replay.identical, replay.differences[:5]
    assert replay.allocations == N_PATIENTS
    assert replay.interims == len(results)
    # allocation did adapt: the best arm (C, p = 0.60) got more than an equal share
    shares = np.bincount([a for a, _ in enrolled[200:]], minlength=4) / (N_PATIENTS - 200)
    assert shares[3] > 0.25


def test_interim_only_when_due_and_only_for_the_dmc(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any], make_patients: Any
) -> None:
    _, database = registry
    with database.write_sessions() as s:
        trials.create_trial(
            s, seeded["coord"], code="T1", spec=binary_spec, method="response-adaptive"
        )
        trials.grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")
    with database.write_sessions() as s, pytest.raises(PermissionDeniedError, match="DMC"):
        trials.record_interim(s, seeded["coord"], "T1", patients=[0] * 4, successes=[0] * 4)
    with database.write_sessions() as s, pytest.raises(InvalidInputError) as err:
        trials.record_interim(s, seeded["dmc"], "T1", patients=[0] * 4, successes=[0] * 4)
    assert err.value.code == "not_due"


def test_concealment_by_role(
    registry: Any, seeded: dict[str, Any], binary_spec: dict[str, Any], make_patients: Any
) -> None:
    """Enumerate roles: only the DMC sees arms of all patients; a site sees its own; nobody
    sees the seed or an unused allocation."""
    _, database = registry
    with database.write_sessions() as s:
        trials.create_trial(
            s,
            seeded["coord"],
            code="T1",
            spec=binary_spec,
            method="permuted-blocks",
            seed=123456789,
        )
        trials.grant_trial_role(s, seeded["coord"], "T1", "dmc", "dmc_statistician")
    a_ids = make_patients(database, seeded["editor_a"], 6, "A")
    b_ids = make_patients(database, seeded["editor_b"], 6, "B")
    for editor, ids in ((seeded["editor_a"], a_ids), (seeded["editor_b"], b_ids)):
        for pid in ids:
            with database.write_sessions() as s:
                trials.enrol(s, editor, "T1", pid)
    arm_names = {a["name"] for a in binary_spec["arms"]}
    for who in ("admin", "coord", "editor_a", "viewer_a", "editor_b", "viewer_b", "dmc"):
        principal = seeded[who]
        with database.read_sessions() as s:
            if who == "admin":
                with pytest.raises(PermissionDeniedError):
                    trials.trial_view(s, principal, "T1")
                continue
            view = trials.trial_view(s, principal, "T1")
        text = repr(view)
        assert "123456789" not in text and "seed" not in text  # the seed never leaves
        assert view["enrolled"] == 12
        if who == "dmc":
            assert sum(view["by_arm"].values()) == 12
            assert view["blinded"] is False
        else:
            assert "by_arm" not in view and "interims" not in view
            assert view["blinded"] is True
        mine = view.get("my_site_allocations", [])
        if who.endswith("_a"):
            assert {m["patient"] for m in mine} == set(a_ids)
        elif who.endswith("_b"):
            assert {m["patient"] for m in mine} == set(b_ids)
        else:
            assert mine == []
        assert {m["arm"] for m in mine} <= arm_names
        # no view carries more allocations than patients enrolled (no list, no next arm)
        assert len(mine) <= 6
