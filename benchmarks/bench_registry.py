"""Benchmark: the registry's service layer against raw SQL on the same database.

* Read: ``authenticate`` + ``get_patient`` (token check, role and site-scope checks, ORM,
  public schema) against the named baseline *raw SQL*: one parameterised SELECT of the
  same patient row.
* Hash chain: ``add_event`` with the audit hash chain against the same call without it
  (named baseline *unchained*), interleaved in the same run: the chain's cost per write.
* Audited write: ``add_event`` (scope check, history re-validated by the domain model, ORM,
  audit row with the full new state, durable commit) against the named baseline *raw
  INSERT*: one INSERT of the same event row and one commit, no checks, no audit.

Both run on SQLite and (when the server answers) PostgreSQL, 2,000 patients over 20
sites; the printed ratio is service time / baseline time, the price of the registry's
guarantees per request. CPU time is not used here because PostgreSQL work happens in the
server process; wall-clock times swing with the shared machine's load. The full HTTP load
test (100,000 patients, concurrent clients) is ``benchmarks/registry_load.py``.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from infantall.domain import LastContact
from infantall.registry import auth, events, patients
from infantall.registry.schemas import PatientCreate
from infantall.registry.security import password_hasher
from infantall.registry.testing import (
    SEED_PASSWORD,
    isolated_database,
    postgres_unavailable_reason,
    seed_registry,
)

N_PATIENTS = 2_000
BASELINE_ROUNDS = 300
SEED = 20261121


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    if request.param == "postgresql" and (reason := postgres_unavailable_reason()):
        pytest.skip(reason)
    with isolated_database(request.param, tmp_path_factory.mktemp("bench")) as (settings, database):
        principals = seed_registry(database, settings)
        ids = []
        with database.write_sessions() as s:
            for i in range(N_PATIENTS):
                p = patients.create_patient(
                    s,
                    principals["editor_a"],
                    PatientCreate(
                        local_code=f"B-{i}",
                        birth_date=dt.date(2024, 1, 1),
                        diagnosis_date=dt.date(2024, 3, 1),
                    ),
                )
                ids.append(p.registry_id)
            token = auth.login(
                s, settings, password_hasher(settings), username="editor_a", password=SEED_PASSWORD
            ).token
        yield request.param, database, principals, ids, token


def _baseline(fn: Any) -> float:
    start = time.perf_counter()
    for _ in range(BASELINE_ROUNDS):
        fn()
    return (time.perf_counter() - start) / BASELINE_ROUNDS


def test_read_patient_vs_raw_sql(benchmark: Any, loaded: Any) -> None:
    backend, database, _, ids, token = loaded
    rng = random.Random(SEED)

    def service() -> None:
        with database.read_sessions() as s:
            who = auth.authenticate(s, token)
            patients.get_patient(s, who, rng.choice(ids)).model_dump_json()

    def raw() -> None:
        with database.read_engine.connect() as conn:
            conn.execute(
                text("SELECT * FROM patients WHERE registry_id = :r"), {"r": rng.choice(ids)}
            ).all()

    base = _baseline(raw)
    benchmark(service)
    ratio = benchmark.stats.stats.mean / base
    print(
        f"\n[{backend}] read: service {benchmark.stats.stats.mean * 1e3:.2f} ms vs raw SQL "
        f"{base * 1e3:.2f} ms: ratio {ratio:.1f}"
    )
    assert ratio > 1


def test_audited_write_vs_raw_insert(benchmark: Any, loaded: Any) -> None:
    backend, database, principals, ids, _ = loaded
    rng = random.Random(SEED)
    counter = iter(range(10**9))

    def service() -> None:
        day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(3000))
        with database.write_sessions() as s:
            events.add_event(s, principals["editor_a"], rng.choice(ids), LastContact(date=day))

    def raw() -> None:
        n = next(counter)
        with database.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO events (registry_id, patient_id, kind, event_date, data, version, "
                    "created_at, updated_at) VALUES (:r, 1, 'last_contact', :d, :j, 1, :t, :t)"
                ),
                {
                    "r": f"X-{n:016x}",
                    "d": dt.date(2025, 1, 1),
                    "j": '{"kind": "last_contact"}',
                    "t": dt.datetime(2026, 1, 1),
                },
            )

    base = _baseline(raw)
    benchmark.pedantic(service, rounds=200, iterations=1)
    ratio = benchmark.stats.stats.mean / base
    print(
        f"\n[{backend}] audited write: service {benchmark.stats.stats.mean * 1e3:.2f} ms vs raw "
        f"INSERT {base * 1e3:.2f} ms: ratio {ratio:.1f}"
    )
    assert ratio > 1


#: Interleaved rounds of the hash-chain comparison (each variant runs this many writes).
CHAIN_ROUNDS = 300


def test_hash_chain_cost_on_audited_writes(benchmark: Any, loaded: Any) -> None:
    """``add_event`` with the audit hash chain (the registry's sessions) against the named
    baseline *unchained*: the same call through sessions without the chain hook, in the
    same run, interleaved call by call so that the machine's load hits both alike."""
    backend, database, principals, ids, _ = loaded
    rng = random.Random(SEED)
    unchained = sessionmaker(bind=database.engine, expire_on_commit=False)
    timings: dict[str, list[float]] = {"chained": [], "unchained": []}

    def write(maker: Any) -> float:
        day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(3000))
        start = time.perf_counter()
        with maker() as s:
            events.add_event(s, principals["editor_a"], rng.choice(ids), LastContact(date=day))
        return time.perf_counter() - start

    def both() -> None:
        for _ in range(CHAIN_ROUNDS):
            timings["chained"].append(write(database.write_sessions))
            timings["unchained"].append(write(unchained))

    benchmark.pedantic(both, rounds=1, iterations=1)
    chained = statistics.fmean(timings["chained"])
    plain = statistics.fmean(timings["unchained"])
    cost = chained / plain - 1
    benchmark.extra_info.update({"chained_ms": chained * 1e3, "unchained_ms": plain * 1e3})
    print(
        f"\n[{backend}] audited write: chained {chained * 1e3:.2f} ms vs unchained "
        f"{plain * 1e3:.2f} ms: throughput cost {cost:+.1%} "
        f"(medians {statistics.median(timings['chained']) * 1e3:.2f} / "
        f"{statistics.median(timings['unchained']) * 1e3:.2f} ms)"
    )
    assert len(timings["chained"]) == len(timings["unchained"]) == CHAIN_ROUNDS
