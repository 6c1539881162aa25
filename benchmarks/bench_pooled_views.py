"""Benchmark: the coordinator's pooled export read through the pooled views (migration
0009) against the named baseline *base tables*: the same export of the same data in the
same run, read by the owner role from ``patients`` and ``events`` directly (no row-level
security, no views), alternating round by round.

PostgreSQL only (SQLite has no views of this kind). ``python benchmarks/bench_pooled_views.py
--patients 2000 --rounds 7``: a seeded registry with ``--patients`` patients over two sites
and two events each; the least-privilege app role made by ``grant_app_role``; each round
runs the export once each way (order alternating) and checks that both tables are equal.
Prints the median wall-clock time of each, their ratio, and the client process's CPU time
of each (the server's work is in the PostgreSQL backend, so wall time is the figure that
includes the views; run it on a quiet machine or read it under the printed load average).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from infantall.domain import LastContact, Response
from infantall.registry import io
from infantall.registry.db import Database
from infantall.registry.events import add_event
from infantall.registry.patients import create_patient
from infantall.registry.rls import scope_session
from infantall.registry.roles import grant_app_role
from infantall.registry.schemas import PatientCreate
from infantall.registry.testing import (
    isolated_database,
    make_test_settings,
    postgres_unavailable_reason,
    seed_registry,
)

KEY = "benchmark-pseudonym-key-0123456789"


def _fill(database: Database, principals: dict[str, Any], n: int) -> None:
    with database.write_sessions() as s:
        for i in range(n):
            who = principals["editor_a" if i % 2 else "editor_b"]
            birth = dt.date(2020, 1, 1) + dt.timedelta(days=i % 1500)
            p = create_patient(s, who, PatientCreate(
                local_code=f"B-{i}", birth_date=birth,
                diagnosis_date=birth + dt.timedelta(days=30 + i % 300), notes="free text",
            ))  # fmt: skip
            start = birth + dt.timedelta(days=400)
            add_event(s, who, p.registry_id, Response(date=start, status="cr"))
            add_event(s, who, p.registry_id, LastContact(date=start + dt.timedelta(days=200)))


def _export(database: Database, coord: Any, scoped: bool) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    with database.write_sessions() as s:
        if scoped:
            scope_session(s, coord)
        table = io.pooled_export(s, coord, KEY, io.DeidOptions(k=1)).table
    return time.perf_counter() - wall, time.process_time() - cpu, table


def main() -> None:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if reason := postgres_unavailable_reason():
        raise SystemExit(f"PostgreSQL needed: {reason}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        isolated_database("postgresql", Path(tmp)) as (settings, owner),
    ):
        principals = seed_registry(owner, settings)
        _fill(owner, principals, args.patients)
        role = f"infantall_bench_{secrets.token_hex(4)}"
        grant_app_role(owner.engine, role, None)
        url = make_url(settings.database_url).set(username=role)
        app = Database.from_settings(make_test_settings(url.render_as_string(hide_password=False)))
        coord = principals["coord"]
        times: dict[str, list[tuple[float, float]]] = {"base tables": [], "pooled views": []}
        try:
            for r in range(args.rounds):
                order = [("base tables", owner, False), ("pooled views", app, True)]
                for name, db, scoped in order if r % 2 == 0 else order[::-1]:
                    wall, cpu, table = _export(db, coord, scoped)
                    times[name].append((wall, cpu))
                    if name == "base tables":
                        expected = table
                    else:
                        got = table
                assert got.equals(expected), "the exports differ"
        finally:
            app.dispose()
            with owner.engine.begin() as conn:
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
    base = statistics.median(w for w, _ in times["base tables"])
    views = statistics.median(w for w, _ in times["pooled views"])
    print(f"load average {os.getloadavg()}; {args.patients} patients, {len(table)} rows")
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:>13}: median wall {wall * 1000:.0f} ms, client CPU {cpu * 1000:.0f} ms")
    print(f"pooled views / base tables (wall): {views / base:.2f}x; exports equal")


if __name__ == "__main__":
    main()
