"""Load test of the registry API on loopback (not a test: run by hand or by `make bench`).

Seeds ``--patients`` patients (default 100,000) across ``--sites`` sites (default 20), each
with one event and the audit rows a real registration leaves, starts ``infantall serve``'s
app with uvicorn, and drives it with ``--clients`` concurrent keep-alive connections:

* reads: ``GET /api/v1/patients/{id}`` of a random patient of the client's own site;
* writes: ``POST /api/v1/patients/{id}/events`` (an audited write whose whole history is
  re-validated by the domain model).

It reports requests/s, p50/p99 latency and errors per phase, then checks that every
acknowledged write is in the database, that it passes its integrity check, that no
response crossed sites and that the audit hash chain verifies. Usage::

    .venv/bin/python benchmarks/registry_load.py --backend sqlite
    .venv/bin/python benchmarks/registry_load.py --backend postgresql
    # the code before (another checkout's src) and this code, alternating on one database:
    PYTHONPATH=src .venv/bin/python benchmarks/registry_load.py --compare /work/main/src
    # wrk as the client (wrk_driver.py):
    .venv/bin/python benchmarks/registry_load.py --backend postgresql --driver wrk

The HTTP client (``load_http.py``) is a minimal asyncio HTTP/1.1 keep-alive client written
on purpose: on a 2-core machine a full client library (httpx) spends more CPU per request
than the server and would measure the client instead of the registry. Each phase also
reports the app server's CPU milliseconds per request (the figure that holds on a loaded
machine).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

import wrk_driver
from infantall.registry.audit import (
    AUDIT_CHAIN,
    CHAINED_COLUMNS,
    GENESIS_HASH,
    link_hash,
    snapshot,
    verify_chain,
)
from infantall.registry.db import Database, integrity_check, upgrade_database
from infantall.registry.models import AuditEntry, Event, Patient, Site, User
from infantall.registry.security import hash_password, password_hasher
from infantall.registry.testing import make_test_settings, postgres_url
from load_http import PASSWORD, Conn, Phase, database_cpu_seconds, login, server_cpu_seconds

#: Seconds after which a request counts as an error (and its connection is replaced).
REQUEST_TIMEOUT = 30.0
BATCH = 5000


def _database(backend: str, workdir: Path) -> tuple[Any, str | None]:
    if backend == "sqlite":
        return make_test_settings(f"sqlite:///{workdir / 'load.db'}"), None
    name = f"infantall_load_{secrets.token_hex(4)}"
    admin = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(postgres_url()).set(database=name).render_as_string(hide_password=False)
    return make_test_settings(url, db_pool_size=20), name


def _seed_accounts(database: Database, settings: Any, n_sites: int, now: dt.datetime) -> None:
    """Sites S01.. and one editor per site (editor01..), all with :data:`PASSWORD`."""
    pw = hash_password(password_hasher(settings), PASSWORD)
    sites = [
        {"id": i + 1, "code": f"S{i + 1:02d}", "name": f"Site {i + 1}", "version": 1,
         "created_at": now}
        for i in range(n_sites)
    ]  # fmt: skip
    users = [
        {"id": i + 1, "username": f"editor{i + 1:02d}", "password_hash": pw,
         "role": "site_editor", "site_id": i + 1, "active": True, "failed_logins": 0,
         "version": 1, "created_at": now}
        for i in range(n_sites)
    ]  # fmt: skip
    with database.engine.begin() as conn:
        conn.execute(insert(Site), sites)
        conn.execute(insert(User), users)


def _patient_and_event(
    pid: int, n_sites: int, rng: random.Random, now: dt.datetime
) -> tuple[Patient, Event]:
    """One registered patient at a random site and its one event (a last contact)."""
    site = rng.randrange(n_sites) + 1
    birth = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3000))
    diagnosis = birth + dt.timedelta(days=rng.randrange(366))
    p = Patient(
        id=pid,
        registry_id=f"P-{pid:016x}",
        site_id=site,
        local_code=f"L{pid}",
        sex=rng.choice(["female", "male"]),
        birth_date=birth,
        diagnosis_date=diagnosis,
        age_days=(diagnosis - birth).days,
        wbc=round(rng.lognormvariate(4, 1), 1),
        immunophenotype="unknown",
        cd10="unknown",
        kmt2a=rng.choice(["rearranged", "germline"]),
        fusion_partner="unknown",
        cns="unknown",
        day8_blasts=None,
        prednisone_response="unknown",
        day15_marrow="unknown",
        enrollment_date=None,
        protocol="unknown",
        notes=None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    contact = diagnosis + dt.timedelta(days=30)
    e = Event(
        id=pid,
        registry_id=f"E-{pid:016x}",
        patient_id=pid,
        kind="last_contact",
        event_date=contact,
        data={"kind": "last_contact", "date": contact.isoformat()},
        version=1,
        created_at=now,
        updated_at=now,
    )
    return p, e


def _audit_row(
    entity: str, snap: dict[str, Any], rid: str, site: int, now: dt.datetime
) -> dict[str, Any]:
    return {
        "at": now,
        "actor_username": "seed",
        "action": "create",
        "entity": entity,
        "entity_id": rid,
        "site_id": site,
        "new": dict(snap),
        "channel": "import",
    }


def _insertable(rows: list[dict[str, Any]], now: dt.datetime) -> None:
    """Snapshots (JSON-friendly) back to column values: dates parsed, timestamps set."""
    for r in rows:
        for k in ("birth_date", "diagnosis_date", "event_date", "enrollment_date"):
            if isinstance(r.get(k), str):
                r[k] = dt.date.fromisoformat(r[k])
        for k in ("created_at", "updated_at"):
            r[k] = now


def _seed_batch(
    database: Database,
    pids: range,
    n_sites: int,
    rng: random.Random,
    now: dt.datetime,
    by_site: dict[str, list[str]],
) -> None:
    """Insert the patients ``pids``, their events and audit rows in one transaction."""
    patients, events, audits = [], [], []
    for pid in pids:
        p, e = _patient_and_event(pid, n_sites, rng, now)
        by_site.setdefault(f"S{p.site_id:02d}", []).append(p.registry_id)
        patients.append(snapshot("patient", p))
        events.append(snapshot("event", e))
        audits.append(_audit_row("patient", patients[-1], p.registry_id, p.site_id, now))
        audits.append(_audit_row("event", events[-1], e.registry_id, p.site_id, now))
    _insertable(patients, now)
    _insertable(events, now)
    with database.engine.begin() as conn:
        conn.execute(insert(Patient), patients)
        conn.execute(insert(Event), events)
        conn.execute(insert(AuditEntry), audits)


def _seed_chain(database: Database) -> None:
    """Chain the bulk-loaded audit rows (as migration 0002 chains an existing trail), so the
    run starts from a 200,000-link chain and ``registry verify`` holds at the end."""
    table = AuditEntry.__table__
    query = select(*(table.c[name] for name in CHAINED_COLUMNS)).order_by(table.c.id)
    prev, links = GENESIS_HASH, []
    with database.engine.begin() as conn:
        for seq, row in enumerate(conn.execute(query).mappings(), start=1):
            day, digest = row["at"].astimezone(dt.UTC).date(), link_hash(prev, row)
            links.append(
                dict(seq=seq, audit_id=row["id"], day=day, prev_hash=prev, row_hash=digest)
            )
            prev = digest
        for start in range(0, len(links), BATCH):
            conn.execute(insert(AUDIT_CHAIN), links[start : start + BATCH])


def _reset_sequences(database: Database) -> None:
    """PostgreSQL: move the id sequences past the bulk-loaded ids, refresh statistics."""
    if database.engine.dialect.name != "postgresql":
        return
    with database.engine.begin() as conn:
        for table in ("sites", "users", "patients", "events"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        conn.execute(text("ANALYZE"))


def seed(
    database: Database, settings: Any, n_patients: int, n_sites: int, rng: random.Random
) -> dict[str, list[str]]:
    """Bulk-load sites, one editor per site, patients, one event each, their audit rows and
    the rows' hash chain."""
    now = dt.datetime.now(dt.UTC)
    by_site: dict[str, list[str]] = {}
    _seed_accounts(database, settings, n_sites, now)
    for start in range(0, n_patients, BATCH):
        pids = range(start + 1, min(start + BATCH, n_patients) + 1)
        _seed_batch(database, pids, n_sites, rng, now, by_site)
    _seed_chain(database)
    _reset_sequences(database)
    return by_site


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    settings: Any, port: int, workers: int, pythonpath: str | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **({"PYTHONPATH": pythonpath} if pythonpath is not None else {}),
        "INFANTALL_ENVIRONMENT": "test",
        "INFANTALL_DATABASE_URL": settings.database_url,
        "INFANTALL_SECRET_KEY": settings.secret_key.get_secret_value(),
        "INFANTALL_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value(),
        "INFANTALL_DB_POOL_SIZE": "20",
    }
    # `infantall serve`'s factory; code from before it existed is served by create_app.
    src = Path(pythonpath.split(os.pathsep)[0]) if pythonpath else Path(__file__).parents[1] / "src"
    app_py = src / "infantall/web/app.py"
    factory = "serve_app" if "def serve_app(" in app_py.read_text() else "create_app"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"infantall.web.app:{factory}",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    wait_for_port(proc, port, workers)
    return proc


def wait_for_port(proc: subprocess.Popen[bytes], port: int, workers: int) -> None:
    """Wait until the server ``proc`` listens on ``port`` (and its workers have started)."""
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                time.sleep(0.5 * workers)
                return
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


async def _client(
    port: int,
    token: str,
    site: str,
    ids: list[str],
    phase: Phase,
    kind: str,
    until: float,
    rng: random.Random,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = Conn(reader, writer)
    while time.perf_counter() < until:
        pid = rng.choice(ids)
        t0 = time.perf_counter()
        if kind == "read":
            call = conn.request("GET", f"/api/v1/patients/{pid}", token)
        else:
            date = (dt.date(2030, 1, 1) + dt.timedelta(days=rng.randrange(3000))).isoformat()
            payload = json.dumps({"kind": "last_contact", "date": date}).encode()
            call = conn.request("POST", f"/api/v1/patients/{pid}/events", token, payload)
        try:  # a request that never answers is an error, not a hung benchmark
            status, body = await asyncio.wait_for(call, REQUEST_TIMEOUT)
        except (TimeoutError, OSError, IndexError, asyncio.IncompleteReadError):
            phase.latencies.append(time.perf_counter() - t0)
            phase.errors += 1
            phase.timeouts += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            conn = Conn(reader, writer)
            continue
        phase.latencies.append(time.perf_counter() - t0)
        if status >= 400:
            phase.errors += 1
            continue
        doc = json.loads(body)
        if kind == "read" and doc.get("site_code") != site:
            phase.cross_site += 1
        if kind == "write":
            phase.acked.append(doc["registry_id"])
    writer.close()


async def run_phase(
    server_pid: int,
    port: int,
    tokens: dict[str, str],
    by_site: dict[str, list[str]],
    kind: str,
    clients: int,
    seconds: float,
    seed_value: int,
) -> Phase:
    phase = Phase(kind)
    sites = sorted(by_site)
    until = time.perf_counter() + seconds
    cpu0 = server_cpu_seconds(server_pid)
    start = time.perf_counter()
    await asyncio.gather(
        *[
            _client(
                port,
                tokens[sites[i % len(sites)]],
                sites[i % len(sites)],
                by_site[sites[i % len(sites)]],
                phase,
                kind,
                until,
                random.Random(seed_value + i),
            )
            for i in range(clients)
        ]
    )
    phase.seconds = time.perf_counter() - start
    cpu1 = server_cpu_seconds(server_pid)
    if cpu0 is not None and cpu1 is not None:
        phase.server_cpu = cpu1 - cpu0
    return phase


async def drive(
    server_pid: int, port: int, by_site: dict[str, list[str]], clients: int, seconds: float
) -> list[Phase]:
    tokens = {site: await login(port, f"editor{site[1:]}") for site in by_site}
    await run_phase(server_pid, port, tokens, by_site, "read", clients, 2.0, 1)  # warm-up
    reads = await run_phase(server_pid, port, tokens, by_site, "read", clients, seconds, 2)
    print(json.dumps(reads.report()), file=sys.stderr, flush=True)
    writes = await run_phase(server_pid, port, tokens, by_site, "write", clients, seconds, 3)
    print(json.dumps(writes.report()), file=sys.stderr, flush=True)
    return [reads, writes]


def _rounds(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(label, PYTHONPATH) of each server run: this code once, or with ``--compare`` the
    code before and this code alternating, ``--rounds`` times each (order swapped every
    round, so neither always runs first)."""
    if args.compare is None:
        return [("after", None)]
    pair = [("before", args.compare), ("after", None)]
    return [run for i in range(args.rounds) for run in (pair if i % 2 == 0 else pair[::-1])]


def _serve_and_drive(
    settings: Any, by_site: dict[str, list[str]], args: argparse.Namespace, pythonpath: str | None
) -> list[Phase]:
    port = _free_port()
    server = start_server(settings, port, args.workers, pythonpath)
    try:
        return asyncio.run(drive(server.pid, port, by_site, args.clients, args.seconds))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def _serve_and_wrk(
    database: Database,
    settings: Any,
    by_site: dict[str, list[str]],
    args: argparse.Namespace,
    pythonpath: str | None,
) -> list[dict[str, Any]]:
    """One server run driven by wrk: a 3-second warm-up, then reads, then writes."""
    port = _free_port()
    server = start_server(settings, port, args.workers, pythonpath)
    try:

        async def tokens() -> dict[str, str]:
            return {site: await login(port, f"editor{site[1:]}") for site in by_site}

        toks = asyncio.run(tokens())
        scripts = {k: wrk_driver.lua_script(toks, by_site, k) for k in ("read", "write")}
        wrk_driver.run_phase(port, scripts["read"], args.clients, 3)
        phases = []
        for kind in ("read", "write"):
            done = wrk_driver.phase(
                database, lambda: server_cpu_seconds(server.pid), port, scripts[kind], kind,
                args.clients, args.seconds,
                database_cpu_seconds if args.backend == "postgresql" else None,
            )  # fmt: skip
            print(json.dumps(done), file=sys.stderr, flush=True)
            phases.append(done)
        return phases
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def _wrk_runs(
    database: Database, settings: Any, by_site: dict[str, list[str]], args: argparse.Namespace
) -> dict[str, Any]:
    """Every run of ``--driver wrk`` (each round reported apart: wrk gives percentiles,
    not the latencies to pool)."""
    runs = []
    for label, pythonpath in _rounds(args):
        print(f"{label}: PYTHONPATH={pythonpath or 'unchanged'}", file=sys.stderr)
        runs.append(
            {"code": label, "phases": _serve_and_wrk(database, settings, by_site, args, pythonpath)}
        )
    return {"driver": "wrk", "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--compare",
        metavar="PYTHONPATH",
        help="also serve the code at this PYTHONPATH (the baseline, 'before') on the same "
        "seeded database, alternating with this code",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of --compare")
    parser.add_argument(
        "--driver",
        choices=["python", "wrk"],
        default="python",
        help="the load client: this package's asyncio client (checks every answer) or wrk "
        "(far less CPU per request; checks made in the database, see wrk_driver.py)",
    )
    args = parser.parse_args(argv)
    rng = random.Random(20261121)
    with tempfile.TemporaryDirectory() as tmp:
        settings, pg_name = _database(args.backend, Path(tmp))
        database = Database.from_settings(settings)
        try:
            upgrade_database(database.engine)
            t0 = time.perf_counter()
            by_site = seed(database, settings, args.patients, args.sites, rng)
            seeded_s = time.perf_counter() - t0
            print(f"seeded in {seeded_s:.0f} s", file=sys.stderr, flush=True)
            if args.driver == "wrk":
                report = {
                    "backend": args.backend,
                    "patients": args.patients,
                    "clients": args.clients,
                    "workers": args.workers,
                    "seed_seconds": round(seeded_s, 1),
                    **_wrk_runs(database, settings, by_site, args),
                }
                with database.read_sessions() as s:
                    report["audit_chain_problems"] = len(verify_chain(s))
                report["integrity_problems"] = integrity_check(database.engine)
                report["load_average"] = [round(x, 2) for x in os.getloadavg()]
                print(json.dumps(report, indent=2))
                return 0
            runs = _rounds(args)
            results: dict[str, list[Phase]] = {}
            for label, pythonpath in runs:
                print(f"{label}: PYTHONPATH={pythonpath or 'unchanged'}", file=sys.stderr)
                done = _serve_and_drive(settings, by_site, args, pythonpath)
                if label in results:
                    for mine, more in zip(results[label], done, strict=True):
                        mine.merge(more)
                else:
                    results[label] = done
            phases = results["after"]
            acked = {rid for pair in results.values() for rid in pair[1].acked}
            with database.read_sessions() as s:
                stored = set(
                    s.scalars(select(Event.registry_id).where(Event.registry_id.in_(list(acked))))
                )
                n_audit = s.scalar(select(text("count(*)")).select_from(AuditEntry.__table__))
                chain_problems = len(verify_chain(s))
            result = {
                "backend": args.backend,
                "code": os.environ.get("PYTHONPATH", ""),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "patients": args.patients,
                "sites": args.sites,
                "clients": args.clients,
                "workers": args.workers,
                "seed_seconds": round(seeded_s, 1),
                "phases": [p.report() for p in phases],
                **(
                    {"before": [p.report() for p in results["before"]], "rounds": args.rounds}
                    if "before" in results
                    else {}
                ),
                "acknowledged_writes_missing": len(acked - stored),
                "audit_rows": n_audit,
                "audit_chain_problems": chain_problems,
                "integrity_problems": integrity_check(database.engine),
            }
            print(json.dumps(result, indent=2))
        finally:
            database.dispose()
            if pg_name is not None:
                admin = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE "{pg_name}" WITH (FORCE)'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
