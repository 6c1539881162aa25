"""Serialised history changes (issue 14, defect 1): events that are each valid alone but
not together, sent at once from several connections (a double-clicked form), never both
stored; a stored history the domain refuses is reported per patient, never as a crash.

On the old code PostgreSQL stored two deaths in 5 of 5 rounds (READ COMMITTED without a
lock on the patient); the tests fire the requests from threads, each with its own
connection, released together by a barrier.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from infantall.domain import Death, LastContact, Relapse
from infantall.domain import Event as DomainEvent
from infantall.registry.audit import verify_chain
from infantall.registry.errors import RegistryError, ValidationFailedError
from infantall.registry.events import add_event
from infantall.registry.export import pseudonym
from infantall.registry.histories import stored_history_problems
from infantall.registry.models import Event, Patient, utcnow
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.services.datasets import analysis_dataset

from .concurrency import in_threads

#: Concurrent requests per round, and rounds (the old code failed every round on PostgreSQL).
THREADS = 6
ROUNDS = 3
DIAGNOSIS = dt.date(2024, 3, 1)


def _patient(database: Any, who: Any, code: str = "RACE") -> str:
    with database.write_sessions() as s:
        p = create_patient(
            s,
            who,
            PatientCreate(
                local_code=code,
                birth_date=dt.date(2024, 1, 1),
                diagnosis_date=DIAGNOSIS,
                kmt2a="rearranged",
            ),
        )
    return p.registry_id


def _fire(database: Any, who: Any, patient_id: str, make: Callable[[int], DomainEvent]) -> int:
    """Send ``THREADS`` add_event calls at once; the number that were accepted."""
    barrier = threading.Barrier(THREADS)
    accepted: list[int] = []

    def send(i: int) -> None:
        event = make(i)
        with database.write_sessions() as s:
            barrier.wait()
            try:
                add_event(s, who, patient_id, event)
                accepted.append(i)
            except RegistryError:
                s.rollback()

    unexpected = in_threads(send, THREADS)  # anything but a refusal: the test must see it
    assert not unexpected, unexpected
    return len(accepted)


def _stored_kinds(database: Any, patient_id: str) -> list[tuple[str, dt.date]]:
    with database.read_sessions() as s:
        rows = s.execute(
            select(Event.kind, Event.event_date)
            .join(Patient)
            .where(Patient.registry_id == patient_id)
            .order_by(Event.event_date)
        )
        return [(k, d) for k, d in rows]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_deaths_store_exactly_one(registry: Any, seeded: Any, round_: int) -> None:
    _, database = registry
    pid = _patient(database, seeded["editor_a"])
    accepted = _fire(
        database,
        seeded["editor_a"],
        pid,
        lambda i: Death(date=DIAGNOSIS + dt.timedelta(days=30 + i)),
    )
    kinds = _stored_kinds(database, pid)
    assert accepted == 1
    assert [k for k, _ in kinds].count("death") == 1
    with database.read_sessions() as s:
        assert stored_history_problems(s) == []
        assert verify_chain(s) == []  # concurrent audited writes still form one chain


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_no_event_stored_after_a_concurrent_death(registry: Any, seeded: Any, round_: int) -> None:
    _, database = registry
    pid = _patient(database, seeded["editor_a"])
    death = DIAGNOSIS + dt.timedelta(days=40)

    def make(i: int) -> DomainEvent:
        # one death, the others a relapse after that death (each valid alone)
        if i == 0:
            return Death(date=death)
        return Relapse(date=death + dt.timedelta(days=i))

    _fire(database, seeded["editor_a"], pid, make)
    kinds = _stored_kinds(database, pid)
    deaths = [d for k, d in kinds if k == "death"]
    if deaths:
        assert all(d <= deaths[0] for _, d in kinds)
    with database.read_sessions() as s:
        assert stored_history_problems(s) == []
        assert verify_chain(s) == []  # concurrent audited writes still form one chain


def _store_two_deaths(database: Any, who: Any) -> str:
    """An impossible history written past the services (as the old code could store it)."""
    pid = _patient(database, who, "TWO-DEATHS")
    with database.write_sessions() as s:
        add_event(s, who, pid, LastContact(date=DIAGNOSIS + dt.timedelta(days=10)))
        patient = s.scalar(select(Patient).where(Patient.registry_id == pid))
        assert patient is not None
        for n in (1, 2):
            day = DIAGNOSIS + dt.timedelta(days=20 + n)
            s.add(
                Event(
                    registry_id=f"E-RAW-{n}",
                    patient_id=patient.id,
                    kind="death",
                    event_date=day,
                    data=Death(date=day).to_dict(),
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        s.commit()
    return pid


def test_stored_impossible_history_is_reported_per_patient(registry: Any, seeded: Any) -> None:
    settings, database = registry
    key = settings.pseudonym_key.get_secret_value()
    good = _patient(database, seeded["editor_a"])
    bad = _store_two_deaths(database, seeded["editor_a"])
    with database.read_sessions() as s:
        problems = stored_history_problems(s)
    assert {p.patient_id for p in problems} == {bad}
    assert good != bad
    assert all(p.site == "SITE-A" for p in problems)
    with database.read_sessions() as s, pytest.raises(ValidationFailedError) as caught:
        analysis_dataset(s, seeded["editor_a"], key)
    assert caught.value.code == "invalid_stored_history"
    assert all(bad in e.field for e in caught.value.errors)
    # a coordinator is told the pseudonym, never the registry id
    with database.read_sessions() as s, pytest.raises(ValidationFailedError) as pooled:
        analysis_dataset(s, seeded["coord"], key)
    assert all(pseudonym(key, bad) in e.field for e in pooled.value.errors)
    assert not any(bad in e.field for e in pooled.value.errors)
    # the other site's analysis is not affected
    with database.read_sessions() as s, pytest.raises(ValidationFailedError) as empty:
        analysis_dataset(s, seeded["editor_b"], key)
    assert empty.value.code != "invalid_stored_history"
