"""``wrk`` as the load client of ``registry_load.py`` (``--driver wrk``).

wrk (Debian's package, written in C) spends a fraction of the CPU of the asyncio client of
``load_http.py`` per request, so on this 2-core machine, where client and server share the
cores, it leaves the server most of the machine. Each phase is one ``wrk`` run: 16 keep-alive
connections (``--clients``), each request a random patient of a random site with that site's
editor's token (reads: ``GET /api/v1/patients/{id}``; writes: ``POST .../events``, a last
contact on a random date). wrk cannot look into the answers, so the checks are made in the
database around each phase: every 2xx write answer is one more stored event, and every 2xx
read answer one more ``read`` audit row (committed before the answer started). The stored
count may exceed the answers by the requests still in flight when wrk stops (at most one per
connection); fewer stored than answered would be an acknowledged write (or read row) lost.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from infantall.registry.models import AuditEntry, Event

#: Patient ids per site written into the Lua script (enough to spread the requests).
IDS_PER_SITE = 500

_REQUEST = {
    "read": 'return wrk.format("GET", "/api/v1/patients/" .. pid, h)',
    "write": """h["Content-Type"] = "application/json"
  local d = string.format("%04d-%02d-%02d", 2030 + math.random(0, 7), math.random(1, 12),
    math.random(1, 28))
  return wrk.format("POST", "/api/v1/patients/" .. pid .. "/events", h,
    '{"kind": "last_contact", "date": "' .. d .. '"}')""",
}

_DONE = """
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "timeouts": %d, '
    .. '"socket_errors": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.timeout,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def wrk_available() -> bool:
    """Whether the ``wrk`` program is on the PATH."""
    return shutil.which("wrk") is not None


def lua_script(tokens: dict[str, str], by_site: dict[str, list[str]], kind: str) -> str:
    """The wrk script of a phase (``kind`` read or write)."""
    lines = ["local sites = {"]
    for site in sorted(by_site):
        ids = ",".join(f'"{i}"' for i in by_site[site][:IDS_PER_SITE])
        lines.append(f'  {{tok = "{tokens[site]}", ids = {{{ids}}}}},')
    lines.append("}")
    lines.append(
        "function init(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end"
    )
    lines.append("request = function()")
    lines.append("  local s = sites[math.random(#sites)]")
    lines.append("  local pid = s.ids[math.random(#s.ids)]")
    lines.append('  local h = {["Authorization"] = "Bearer " .. s.tok}')
    lines.append("  " + _REQUEST[kind])
    lines.append("end")
    return "\n".join(lines) + _DONE


def _counts(database: Any) -> tuple[int, int]:
    """(stored events, ``read`` audit rows)."""
    with database.read_sessions() as s:
        events = s.scalar(select(func.count()).select_from(Event)) or 0
        reads = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "read")
        )
    return int(events), int(reads or 0)


def run_phase(
    port: int, script: str, clients: int, seconds: float, threads: int = 2
) -> dict[str, Any]:
    """One wrk run against 127.0.0.1:``port``; its summary (the script's ``done``)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "30s",
             "-s", f.name, f"http://127.0.0.1:{port}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        Path(f.name).unlink()
    line = next(x for x in reversed(out.splitlines()) if x.startswith("{"))
    result: dict[str, Any] = json.loads(line)
    return result


def phase(
    database: Any,
    server_cpu: Any,
    port: int,
    script: str,
    kind: str,
    clients: int,
    seconds: float,
    database_cpu: Any = None,
) -> dict[str, Any]:
    """A measured phase with its database checks and the server's CPU per request (and,
    given ``database_cpu``, the local PostgreSQL server's)."""
    events0, reads0 = _counts(database)
    db0 = database_cpu() if database_cpu else None
    cpu0, t0 = server_cpu(), time.perf_counter()
    raw = run_phase(port, script, clients, seconds)
    cpu1, wall = server_cpu(), time.perf_counter() - t0
    db1 = database_cpu() if database_cpu else None
    db_cpu = (db1 - db0) if db0 is not None and db1 is not None else None
    events1, reads1 = _counts(database)
    ok = raw["requests"] - raw["status_errors"]
    stored = events1 - events0 if kind == "write" else reads1 - reads0
    cpu = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
    return {
        "phase": kind,
        "driver": "wrk",
        "requests": raw["requests"],
        "per_second": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "errors": raw["status_errors"] + raw["socket_errors"] + raw["timeouts"],
        "timeouts": raw["timeouts"],
        "answered_2xx": ok,
        # writes: events stored; reads: read audit rows committed (see the module).
        "stored_for_2xx": stored,
        "stored_minus_answered": stored - ok,
        "server_cpu_ms_per_request": round(cpu * 1000 / raw["requests"], 3)
        if cpu is not None and raw["requests"]
        else None,
        "database_cpu_ms_per_request": round(db_cpu * 1000 / raw["requests"], 3)
        if db_cpu is not None and raw["requests"]
        else None,
        "wall_seconds": round(wall, 1),
    }
