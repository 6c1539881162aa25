"""HTTP plumbing of the load tests (``registry_load.py``): phase figures, a minimal
keep-alive HTTP/1.1 client and the app server's CPU time.

The client is written here on purpose: on a 2-core machine a full client library (httpx)
spends more CPU per request than the server and would measure the client instead of the
registry.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASSWORD = "load-test-password"


@dataclass
class Phase:
    """Latencies (s) and outcomes of one phase."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    timeouts: int = 0
    cross_site: int = 0
    acked: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: CPU seconds the app server (supervisor and workers) spent in the phase, if known.
    server_cpu: float | None = None

    def merge(self, other: Phase) -> None:
        """Add ``other`` (the same phase of another round) to this one."""
        self.latencies += other.latencies
        self.acked += other.acked
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.cross_site += other.cross_site
        self.seconds += other.seconds
        if self.server_cpu is None or other.server_cpu is None:
            self.server_cpu = None
        else:
            self.server_cpu += other.server_cpu

    def report(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(q: float) -> float:
            return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0

        return {
            "phase": self.name,
            "requests": len(lat),
            "per_second": round(len(lat) / self.seconds, 1),
            "p50_ms": round(pct(0.50), 2),
            "p99_ms": round(pct(0.99), 2),
            "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else 0.0,
            "errors": self.errors,
            "timeouts_or_dropped": self.timeouts,
            "cross_site_rows": self.cross_site,
            "server_cpu_ms_per_request": (
                round(self.server_cpu * 1000 / len(lat), 3)
                if self.server_cpu is not None and lat
                else None
            ),
        }


def server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` and its children (Linux ``/proc``).

    The figure that means something on a shared machine: wall-clock rates swing with the
    other jobs' load, the server's CPU per request much less (PostgreSQL's own backends are
    other processes and are not counted).
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended meanwhile
            if int(entry.name) == pid or int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / tick
    except OSError:
        return None
    return total


def database_cpu_seconds() -> float | None:
    """User + system CPU seconds of every process named ``postgres`` on this machine (the
    local PostgreSQL server: its backends, WAL writer and the rest), or None if there is
    none. Only meaningful where the server runs beside the benchmark, as here; backends
    that end during a phase take their CPU with them (the pool keeps its connections)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, found = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        name, rest = text.split("(", 1)[1].rsplit(")", 1)
        if name == "postgres":
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / tick
            found = True
    return total if found else None


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(
        self, method: str, path: str, token: str, body: bytes = b""
    ) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        return status, await self.reader.readexactly(length)


async def login(port: int, username: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = Conn(reader, writer)
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    status, payload = await conn.request("POST", "/api/v1/auth/login", "", body)
    writer.close()
    if status != 200:
        raise SystemExit(f"login failed: {status} {payload[:200]!r}")
    return str(json.loads(payload)["access_token"])
