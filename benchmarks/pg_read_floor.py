"""What a PostgreSQL patient read costs the registry's server, against the floor: the same
database work from a bare ASGI app on raw psycopg (not a test: run by hand; needs the
machine's PostgreSQL and Debian's ``wrk``).

Why: issue 14 asks for 1,000 PostgreSQL reads/s on this 2-core machine, where wrk, two
server workers and PostgreSQL share the cores. This measures how much of a read's CPU is the
database work itself and how much the layers above it (FastAPI's dependencies and
middleware, SQLAlchemy's session, the audit chain, pydantic), side by side, on one seeded
database, in one run, with the same wrk script (``wrk_driver.lua_script``), the two servers
alternating ``--rounds`` times:

* ``registry``: ``infantall serve``'s app, ``GET /api/v1/patients/{id}`` as users get it;
* ``floor``: :func:`app` below, per request the same round trips as the registry's read on
  the event loop: ``BEGIN``, the token lookup that sets the row-level-security scope (the
  registry's own statement, :data:`infantall.registry.tokens._TOKEN_SCOPED`), the patient
  query (:data:`infantall.registry.patients._PATIENT`), ``COMMIT``, and one row per read in
  a batched insert (into a side table: no hash chain), the answer sent once that batch is
  committed. It checks nothing (no token expiry, role or site check, no validation, no
  chain): it is the lower bound of that I/O from Python, not another way to serve reads.

Reported per server: reads/s, p50/p99, and the CPU milliseconds per read of the server's
processes and of PostgreSQL (``load_http.server_cpu_seconds``/``database_cpu_seconds``)::

    INFANTALL_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        PYTHONPATH=src:benchmarks python benchmarks/pg_read_floor.py --seconds 20 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

#: The floor's side table of read rows (in the benchmark's own database).
FLOOR_TABLE = "floor_read_audit"
#: Pooled connections per floor worker (the registry's db_pool_size in registry_load).
FLOOR_POOL = 10

# --- the floor app (imported by uvicorn in its workers: FLOOR_DSN set) -------------------

_state: dict[str, Any] = {}


def _sql(statement: Any) -> str:
    from sqlalchemy.dialects import postgresql

    return str(statement.compile(dialect=postgresql.dialect(paramstyle="pyformat")))


async def _open_pool() -> None:
    """The worker's connections, opened at startup (its lifespan)."""
    import psycopg

    queue: asyncio.Queue[Any] = asyncio.Queue()
    for _ in range(FLOOR_POOL):
        queue.put_nowait(await psycopg.AsyncConnection.connect(os.environ["FLOOR_DSN"]))
    _state["pool"] = queue


async def _pool() -> asyncio.Queue[Any]:
    pool: asyncio.Queue[Any] = _state["pool"]
    return pool


async def _flush_rows() -> None:
    """Insert the queued read rows in one autocommit statement (group commit), then
    release the reads waiting for it."""
    await asyncio.sleep(0)  # let the reads of this loop turn queue their rows
    rows, _state["rows"] = _state.get("rows", []), []
    _state["flushing"] = None
    pool = await _pool()
    conn = await pool.get()
    try:
        await conn.set_autocommit(True)
        async with conn.cursor() as cur:
            await cur.executemany(
                f"INSERT INTO {FLOOR_TABLE} (user_id, patient, at) VALUES (%s, %s, now())",
                [(user, patient) for user, patient, _ in rows],
            )
        await conn.set_autocommit(False)
    finally:
        pool.put_nowait(conn)
    for _, _, done in rows:
        done.set_result(None)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The floor: one patient read with the registry's statements (see the module)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await _open_pool()
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    from infantall.registry.patients import _PATIENT
    from infantall.registry.security import token_digest
    from infantall.registry.tokens import _TOKEN_SCOPED

    if "token_sql" not in _state:
        _state["token_sql"], _state["patient_sql"] = _sql(_TOKEN_SCOPED), _sql(_PATIENT)
    patient_id = scope["path"].rsplit("/", 1)[1]
    token = dict(scope["headers"]).get(b"authorization", b"")[len("Bearer ") :].decode()
    pool = await _pool()
    conn = await pool.get()
    try:
        async with conn.cursor() as cur:
            await cur.execute(_state["token_sql"], {"digest": token_digest(token)})
            caller = await cur.fetchone()
            await cur.execute(_state["patient_sql"], {"registry_id": patient_id})
            row = await cur.fetchone()
            names = [d.name for d in cur.description or []]
        await conn.commit()
    finally:
        pool.put_nowait(conn)
    if caller is None or row is None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = json.dumps(dict(zip(names, row, strict=True)), default=str).encode()
    done = asyncio.get_running_loop().create_future()
    _state.setdefault("rows", []).append((caller[5], patient_id, done))
    if _state.get("flushing") is None:
        _state["flushing"] = asyncio.ensure_future(_flush_rows())
    await done
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- the driver ----------------------------------------------------------------------------


def _serve_floor(dsn: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    import registry_load

    env = {**os.environ, "FLOOR_DSN": dsn}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pg_read_floor:app", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning",
         "--no-access-log"],
        env=env,
    )  # fmt: skip
    registry_load.wait_for_port(proc, port, workers)
    return proc


def _measure(server: subprocess.Popen[bytes], port: int, script: str, seconds: float) -> Any:
    import wrk_driver
    from load_http import database_cpu_seconds, server_cpu_seconds

    wrk_driver.run_phase(port, script, 16, 3)  # warm-up
    cpu0, db0 = server_cpu_seconds(server.pid), database_cpu_seconds()
    raw = wrk_driver.run_phase(port, script, 16, seconds)
    cpu1, db1 = server_cpu_seconds(server.pid), database_cpu_seconds()
    n = raw["requests"]
    errors = raw["status_errors"] + raw["socket_errors"] + raw["timeouts"]

    def per(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or n == 0 else round(1000 * (b - a) / n, 3)

    return {
        "requests": n,
        "per_second": round(n / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "errors": errors,
        "server_cpu_ms_per_read": per(cpu0, cpu1),
        "database_cpu_ms_per_read": per(db0, db1),
    }


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    server.wait(30)


def _alternate(
    settings: Any, by_site: dict[str, list[str]], args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    """``args.rounds`` rounds of the registry's server, then the floor's, on one database."""
    import registry_load
    import wrk_driver
    from load_http import login

    dsn = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    results: dict[str, list[dict[str, Any]]] = {"registry": [], "floor": []}
    script = ""
    for _ in range(args.rounds):
        port = registry_load._free_port()
        server = registry_load.start_server(settings, port, args.workers)
        try:
            if not script:  # tokens of the seeded editors, valid for the whole run

                async def tokens(p: int = port) -> dict[str, str]:
                    return {s: await login(p, f"editor{s[1:]}") for s in by_site}

                script = wrk_driver.lua_script(asyncio.run(tokens()), by_site, "read")
            results["registry"].append(_measure(server, port, script, args.seconds))
        finally:
            _stop(server)
        print(json.dumps({"registry": results["registry"][-1]}), file=sys.stderr)
        port = registry_load._free_port()
        server = _serve_floor(dsn, port, args.workers)
        try:
            results["floor"].append(_measure(server, port, script, args.seconds))
        finally:
            _stop(server)
        print(json.dumps({"floor": results["floor"][-1]}), file=sys.stderr)
    return results


def _report(
    args: argparse.Namespace, results: dict[str, list[dict[str, Any]]], floor_rows: int
) -> dict[str, Any]:
    def median(code: str, key: str) -> float | None:
        values = [r[key] for r in results[code] if r[key] is not None]
        return round(statistics.median(values), 3) if values else None

    keys = ("per_second", "server_cpu_ms_per_read", "database_cpu_ms_per_read")
    summary = {code: {k: median(code, k) for k in keys} for code in results}
    cpu_registry = summary["registry"]["server_cpu_ms_per_read"]
    cpu_floor = summary["floor"]["server_cpu_ms_per_read"]
    return {
        "patients": args.patients,
        "workers": args.workers,
        "seconds": args.seconds,
        "runs": results,
        "median": summary,
        "server_cpu_ratio_registry_to_floor": (
            round(cpu_registry / cpu_floor, 2) if cpu_registry and cpu_floor else None
        ),
        "floor_rows_stored": floor_rows,
        "floor_rows_answered": sum(r["requests"] - r["errors"] for r in results["floor"]),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    from sqlalchemy import create_engine, text

    import registry_load
    import wrk_driver
    from infantall.registry.db import Database, upgrade_database
    from infantall.registry.testing import postgres_url

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not wrk_driver.wrk_available():
        raise SystemExit("wrk is not installed (Debian: apt install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        settings, pg_name = registry_load._database("postgresql", Path(tmp))
        database = Database.from_settings(settings)
        try:
            upgrade_database(database.engine)
            by_site = registry_load.seed(
                database, settings, args.patients, args.sites, random.Random(20261121)
            )
            with database.engine.begin() as conn:
                conn.execute(text(
                    f"CREATE TABLE {FLOOR_TABLE} (id bigserial PRIMARY KEY, user_id integer, "
                    "patient text, at timestamptz)"
                ))  # fmt: skip
            results = _alternate(settings, by_site, args)
            with database.engine.connect() as conn:
                floor_rows = conn.execute(text(f"SELECT count(*) FROM {FLOOR_TABLE}")).scalar()
        finally:
            database.dispose()
            admin = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{pg_name}" WITH (FORCE)'))
            admin.dispose()
    print(json.dumps(_report(args, results, int(floor_rows or 0)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
