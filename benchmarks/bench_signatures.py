"""Benchmark: what e-signatures cost the registry (issue 14).

* Lock check: ``add_event`` with the ``record_locked`` check against the named baseline
  *unchecked* (the same call with the check replaced by a no-op), interleaved call by call
  in the same run, on patients half of which were signed and unlocked before (so the check
  reads real ``signatures``/``signature_unlocks`` rows).
* Signing: ``sign_patient`` (role and scope check, row lock, password re-entry, content
  digest, append-only row, audit row, commit) against the named baseline *argon2 verify*
  (the password check alone, the part that dominates by design).

Both on SQLite and (when the server answers) PostgreSQL; the printed ratio is the price per
request. Wall-clock time: PostgreSQL work happens in the server process.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infantall.domain import LastContact
from infantall.registry import events, patients
from infantall.registry.schemas import PatientCreate
from infantall.registry.security import password_hasher, verify_password
from infantall.registry.signatures import (
    SignRequest,
    UnlockRequest,
    sign_patient,
    unlock_patient,
)
from infantall.registry.testing import (
    SEED_PASSWORD,
    isolated_database,
    postgres_unavailable_reason,
    seed_registry,
)

N_PATIENTS = 400
ROUNDS = 200
SIGN_ROUNDS = 40
SEED = 20261206


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    if request.param == "postgresql" and (reason := postgres_unavailable_reason()):
        pytest.skip(reason)
    with isolated_database(request.param, tmp_path_factory.mktemp("bench")) as (settings, database):
        principals = seed_registry(database, settings)
        hasher = password_hasher(settings)
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
            request_ = SignRequest(password=SEED_PASSWORD, meaning="reviewed and approved")
            for rid in ids[::2]:
                sign_patient(s, settings, hasher, principals["inv_a"], rid, request_)
                unlock_patient(s, principals["inv_a"], rid, UnlockRequest(reason="bench"))
        yield request.param, settings, database, principals, ids


def test_lock_check_cost_on_writes(
    benchmark: Any, loaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, _, database, principals, ids = loaded
    rng = random.Random(SEED)
    checked = patients.ensure_unlocked
    timings: dict[str, list[float]] = {"checked": [], "unchecked": []}

    def write(check: Any) -> float:
        monkeypatch.setattr(patients, "ensure_unlocked", check)
        day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(3000))
        start = time.perf_counter()
        with database.write_sessions() as s:
            events.add_event(s, principals["editor_a"], rng.choice(ids), LastContact(date=day))
        return time.perf_counter() - start

    def both() -> None:
        for _ in range(ROUNDS):
            timings["checked"].append(write(checked))
            timings["unchecked"].append(write(lambda *_: None))

    benchmark.pedantic(both, rounds=1, iterations=1)
    with_check = statistics.fmean(timings["checked"])
    without = statistics.fmean(timings["unchecked"])
    benchmark.extra_info.update({"checked_ms": with_check * 1e3, "unchecked_ms": without * 1e3})
    print(
        f"\n[{backend}] add_event: with lock check {with_check * 1e3:.2f} ms vs unchecked "
        f"{without * 1e3:.2f} ms: cost {with_check / without - 1:+.1%} "
        f"(medians {statistics.median(timings['checked']) * 1e3:.2f} / "
        f"{statistics.median(timings['unchecked']) * 1e3:.2f} ms)"
    )
    assert len(timings["checked"]) == len(timings["unchecked"]) == ROUNDS


def test_signing_vs_password_check(benchmark: Any, loaded: Any) -> None:
    backend, settings, database, principals, ids = loaded
    hasher = password_hasher(settings)
    stored = hasher.hash(SEED_PASSWORD)
    start = time.perf_counter()
    for _ in range(SIGN_ROUNDS):
        verify_password(hasher, stored, SEED_PASSWORD)
    base = (time.perf_counter() - start) / SIGN_ROUNDS
    targets = iter(ids[1::2])
    request = SignRequest(password=SEED_PASSWORD, meaning="reviewed and approved")

    def sign() -> None:
        with database.write_sessions() as s:
            sign_patient(s, settings, hasher, principals["inv_a"], next(targets), request)

    benchmark.pedantic(sign, rounds=SIGN_ROUNDS, iterations=1)
    mean = benchmark.stats.stats.mean
    print(
        f"\n[{backend}] sign: {mean * 1e3:.2f} ms vs argon2 verify {base * 1e3:.2f} ms "
        f"(ratio {mean / base:.2f}; argon2 cost t={settings.argon2_time_cost}, "
        f"m={settings.argon2_memory_kib} KiB)"
    )
