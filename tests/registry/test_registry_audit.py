"""The audit trail: a random stream of writes (valid, invalid, stale, cross-site) through
the service functions; replaying the trail from empty rebuilds exactly the current data,
and there is one data-change row per successful write and none for a refused one
(anchors-reliability B1, REDCap "full record history ... reassembled from this log")."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import func, select

from infantall.domain import LastContact, MRDResult, Relapse
from infantall.registry import admin, events, patients
from infantall.registry.audit import DATA_ACTIONS, audit_entries, current_state, replay
from infantall.registry.errors import RegistryError
from infantall.registry.models import AuditEntry, Role
from infantall.registry.schemas import (
    EventCorrect,
    PatientCreate,
    PatientUpdate,
    UserUpdate,
    VoidRequest,
)
from infantall.registry.security import password_hasher
from infantall.services import risk_groups as risk

#: Operations in the random stream (with a fixed seed, so a failure reproduces).
STEPS = 80
SEED = 20261121


def _create(s: Any, who: Any, rng: random.Random, n: int) -> None:
    birth = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(200))
    diagnosis = birth + dt.timedelta(days=rng.randrange(-5, 380))  # sometimes invalid
    patients.create_patient(
        s,
        who,
        PatientCreate(
            local_code=f"R-{rng.randrange(30)}",
            birth_date=birth,
            diagnosis_date=diagnosis,
            wbc=rng.choice([None, 5.0, 350.0, 1200.0]),
            kmt2a=rng.choice(["rearranged", "germline", "unknown"]),
            fusion_partner="unknown",
        ),
    )


def _pick(s: Any, principals: dict[str, Any], rng: random.Random) -> Any:
    """A random patient of either site (each site's editor lists its own: a coordinator
    reads the pooled view only)."""
    flt = patients.PatientFilters(include_voided=True)
    items = [
        p
        for site in ("editor_a", "editor_b")
        for p in patients.list_patients(s, principals[site], flt, limit=500).items
    ]
    return rng.choice(items) if items else None


def _step(s: Any, principals: dict[str, Any], rng: random.Random, n: int) -> None:
    who = principals[rng.choice(["editor_a", "editor_b", "viewer_a", "coord"])]
    target = _pick(s, principals, rng)
    op = rng.choice(
        ["create", "create", "update", "void", "event", "correct", "void_event", "risk", "user"]
    )
    if op == "create" or target is None:
        _create(s, who, rng, n)
    elif op == "update":
        version = target.version if rng.random() < 0.8 else target.version + 1
        patients.update_patient(
            s,
            who,
            target.registry_id,
            PatientUpdate(version=version, reason=f"step {n}", wbc=float(rng.randrange(1, 900))),
        )
    elif op == "void":
        patients.void_patient(
            s, who, target.registry_id, VoidRequest(version=target.version, reason="dup")
        )
    elif op == "event":
        date = target.diagnosis_date + dt.timedelta(days=rng.randrange(-10, 400))
        event = rng.choice(
            [LastContact(date=date), Relapse(date=date), MRDResult(date=date, value=1e-3)]
        )
        events.add_event(s, who, target.registry_id, event)
    elif op in ("correct", "void_event"):
        listed = events.list_events(s, principals["coord"], target.registry_id)
        if not listed:
            return
        e = rng.choice(listed)
        if op == "correct":
            events.correct_event(
                s,
                who,
                target.registry_id,
                e.registry_id,
                EventCorrect(
                    version=e.version,
                    reason="fix",
                    event=LastContact(date=e.date + dt.timedelta(days=1))
                    if e.kind == "last_contact"
                    else Relapse(date=e.date)
                    if e.kind == "relapse"
                    else MRDResult(date=e.date, value=2e-3),
                ),
            )
        else:
            events.void_event(
                s,
                who,
                target.registry_id,
                e.registry_id,
                VoidRequest(version=e.version, reason="x"),
            )
    elif op == "risk":
        risk.compute_risk_groups(s, who, target.registry_id, ["interfant-06"])
    else:
        users = admin.list_users(s, principals["admin"])
        u = rng.choice([x for x in users if x.username != "admin"])
        admin.update_user(
            s,
            principals["admin"],
            password_hasher_for_tests(),
            u.username,
            UserUpdate(version=u.version, active=rng.random() < 0.9),
        )


_HASHER: list[Any] = []


def password_hasher_for_tests() -> Any:
    if not _HASHER:
        from infantall.registry.testing import make_test_settings

        _HASHER.append(password_hasher(make_test_settings("sqlite://")))
    return _HASHER[0]


def _data_rows(database: Any) -> int:
    with database.read_sessions() as s:
        return (
            s.scalar(select(func.count()).where(AuditEntry.action.in_(sorted(DATA_ACTIONS)))) or 0
        )


def test_replaying_the_audit_trail_rebuilds_the_data(registry: Any, seeded: dict[str, Any]) -> None:
    _, database = registry
    rng = random.Random(SEED)
    successes = _data_rows(database)
    outcomes: dict[str, int] = {"ok": 0, "refused": 0}
    for n in range(STEPS):
        before = _data_rows(database)
        with database.write_sessions() as s:
            try:
                _step(s, seeded, rng, n)
            except RegistryError:
                outcomes["refused"] += 1
                assert _data_rows(database) == before  # a refused write leaves no data row
                continue
        outcomes["ok"] += 1
        successes = _data_rows(database)
    assert outcomes["ok"] > 20 and outcomes["refused"] > 5, outcomes
    with database.read_sessions() as s:
        rebuilt = replay(audit_entries(s))
        current = current_state(s)
    assert rebuilt == current
    assert successes == _data_rows(database)
    assert sum(1 for k in current if k[0] == "patient") > 5


def test_audit_rows_carry_who_when_what_and_why(registry: Any, seeded: dict[str, Any]) -> None:
    _, database = registry
    with database.write_sessions() as s:
        p = patients.create_patient(
            s,
            seeded["editor_a"],
            PatientCreate(
                local_code="W-1", birth_date=dt.date(2024, 1, 1), diagnosis_date=dt.date(2024, 2, 1)
            ),
        )
        patients.update_patient(
            s,
            seeded["editor_a"],
            p.registry_id,
            PatientUpdate(version=1, reason="source document", wbc=40.0),
        )
    with database.read_sessions() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
    assert (row.actor_username, row.actor_role, row.entity, row.entity_id, row.reason) == (
        "editor_a",
        Role.site_editor.value,
        "patient",
        p.registry_id,
        "source document",
    )
    assert row.at.tzinfo is not None and row.at.utcoffset() == dt.timedelta(0)
    assert row.old is not None and row.new is not None
    assert (row.old["wbc"], row.new["wbc"], row.old["version"], row.new["version"]) == (
        None,
        40.0,
        1,
        2,
    )
