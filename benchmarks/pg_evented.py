"""The server's CPU per PostgreSQL patient read served from threads (the baseline: how the
web app served every PostgreSQL read before ``infantall.registry.evented``) against on the
event loop (SQLAlchemy's asyncio extension), the same work on the same database in one run
(not a test: run by hand; needs the machine's PostgreSQL).

Each read is what ``GET /api/v1/patients/{id}`` does in the database: the token lookup that
sets the row-level-security scope, the patient query, and the end of the read (``COMMIT``),
by the very same functions (:func:`~infantall.registry.auth.authenticate`,
:func:`~infantall.registry.patients.get_patient`, :class:`~infantall.registry.db.ReadSession`).
``--tasks`` concurrent tasks on one uvloop event loop (as in one uvicorn worker) share
``--reads`` reads per round:

* ``threads``: the lookup in one thread of anyio's pool, the query and its COMMIT in another
  (two hops per read, as ``web.deps`` does without the event loop's engine);
* ``event_loop``: both in :meth:`AsyncSession.run_sync` on the loop (no hop).

The figure is this process's CPU (all threads) per read and the reads per second, median
over ``--rounds`` rounds that alternate the two; the HTTP layers and the read's audit row
are not in it (``registry_load.py`` measures the whole request)::

    INFANTALL_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        PYTHONPATH=src python benchmarks/pg_evented.py --reads 4000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop
from anyio import to_thread
from sqlalchemy.orm import Session

from infantall.registry.access import Principal
from infantall.registry.auth import authenticate
from infantall.registry.evented import evented_engine, evented_session
from infantall.registry.patients import get_patient
from infantall.registry.rls import scope_session
from pg_read_cpu import one_patient

Read = Callable[[], Awaitable[None]]


def _check(session: Session, token: str) -> Principal:
    principal = authenticate(session, token, scope=True)
    scope_session(session, principal, applied=True)
    return principal


def _query_and_end(session: Session, principal: Principal, pid: str) -> None:
    try:
        get_patient(session, principal, pid)
    finally:
        session.close()  # ReadSession: COMMIT for a clean read


def _readers(database: Any, engine: Any, token: str, pid: str) -> dict[str, Read]:
    async def threads() -> None:
        session = database.read_sessions()
        principal = await to_thread.run_sync(_check, session, token)
        await to_thread.run_sync(_query_and_end, session, principal, pid)

    async def event_loop() -> None:
        session = evented_session(engine, database.read_sessions)
        principal = await session.run_sync(_check, token)
        await session.run_sync(_query_and_end, principal, pid)

    return {"threads": threads, "event_loop": event_loop}


async def _round(read: Read, reads: int, tasks: int) -> tuple[float, float]:
    left = [reads]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            await read()

    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return 1000 * cpu / reads, reads / wall


async def _run(database: Any, token: str, pid: str, args: argparse.Namespace) -> dict[str, Any]:
    engine = evented_engine(database, pool_size=args.tasks)
    assert engine is not None, "PostgreSQL only"
    try:
        readers = _readers(database, engine, token, pid)
        cpu: dict[str, list[float]] = {k: [] for k in readers}
        rate: dict[str, list[float]] = {k: [] for k in readers}
        for i in range(args.rounds):
            order = list(readers) if i % 2 == 0 else list(readers)[::-1]
            for name in order:
                await _round(readers[name], 100, args.tasks)  # warm-up: pools, prepared plans
                ms, per_s = await _round(readers[name], args.reads, args.tasks)
                cpu[name].append(ms)
                rate[name].append(per_s)
        out: dict[str, Any] = {
            name: {
                "cpu_ms_per_read": round(statistics.median(cpu[name]), 3),
                "reads_per_second": round(statistics.median(rate[name]), 1),
                "cpu_ms_per_read_each_round": [round(x, 3) for x in cpu[name]],
            }
            for name in readers
        }
        out["cpu_ratio_event_loop_to_threads"] = round(
            out["event_loop"]["cpu_ms_per_read"] / out["threads"]["cpu_ms_per_read"], 2
        )
        return out
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=8)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"reads_per_round": args.reads, "rounds": args.rounds}
    out["tasks"] = args.tasks
    with one_patient() as (database, token, pid):
        out.update(uvloop.run(_run(database, token, pid, args)))
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
