"""Concurrent enrolments (threads, each with its own session and connection).

Every enrolment must take exactly one sequence slot: numbers 0..n-1, none twice, none
skipped, one enrolment and one audit row per patient; the allocations then replay bit for
bit. The trial row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite) so that the history an allocation depends on cannot change under it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from infantall.registry.errors import ConflictError
from infantall.registry.models import AuditEntry
from infantall.registry.trials import TrialEnrolment
from infantall.services import trials

THREADS = 6
PER_THREAD = 8


@pytest.mark.parametrize("method", ["minimisation", "permuted-blocks"])
def test_concurrent_enrolments_take_every_slot_once(
    registry: Any,
    seeded: dict[str, Any],
    binary_spec: dict[str, Any],
    make_patients: Any,
    method: str,
) -> None:
    _, database = registry
    with database.write_sessions() as s:
        trials.create_trial(
            s,
            seeded["coord"],
            code="T1",
            spec=binary_spec,
            method=method,
            settings={"factors": ["age_under_6_months", "wbc_300", "site"]},
            seed=77,
        )
    half = THREADS * PER_THREAD // 2
    ids = {
        "editor_a": make_patients(database, seeded["editor_a"], half, "A", seed=3),
        "editor_b": make_patients(database, seeded["editor_b"], half, "B", seed=4),
    }
    work = [
        (editor, ids[editor][j * PER_THREAD : (j + 1) * PER_THREAD])
        for editor in ids
        for j in range(THREADS // 2)
    ]
    start = threading.Barrier(THREADS)
    results: list[trials.EnrolmentResult] = []
    conflicts: list[str] = []
    failures: list[BaseException] = []
    guard = threading.Lock()

    def run(editor: str, patients: list[str]) -> None:
        try:
            start.wait()
            for pid in patients:
                for _ in range(20):  # a lost race is a conflict the caller retries
                    try:
                        with database.write_sessions() as s:
                            res = trials.enrol(s, seeded[editor], "T1", pid)
                    except ConflictError as exc:
                        with guard:
                            conflicts.append(str(exc))
                        continue
                    with guard:
                        results.append(res)
                    break
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures, failures
    n = THREADS * PER_THREAD
    assert sorted(r.number for r in results) == list(range(n))  # none twice, none skipped
    assert len({r.patient for r in results}) == n
    with database.read_sessions() as s:
        rows = s.execute(
            select(TrialEnrolment.number, func.count()).group_by(TrialEnrolment.number)
        ).all()
        audits = s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity == "trial_allocation")
        )
        replay = trials.replay_trial(s, "T1")
    assert sorted(number for number, _ in rows) == list(range(n))
    assert all(count == 1 for _, count in rows)
    assert audits == n
    assert replay.identical, replay.differences
    assert replay.allocations == n
