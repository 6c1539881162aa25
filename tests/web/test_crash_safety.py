"""Crash safety (anchors-reliability G1): SIGKILL the server in the middle of a stream of
concurrent writes, restart it, and find every acknowledged write present, the database
integrity check clean and the audit trail still rebuilding the data exactly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx

from infantall.registry.audit import audit_entries, current_state, replay
from infantall.registry.db import integrity_check
from infantall.registry.testing import SEED_PASSWORD

#: Acknowledged writes to wait for before the kill (the stream is still running then).
WRITES_BEFORE_KILL = 25
WRITERS = 4
STARTUP_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(settings: Any, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "INFANTALL_ENVIRONMENT": "test",
        "INFANTALL_DATABASE_URL": settings.database_url,
        "INFANTALL_SECRET_KEY": settings.secret_key.get_secret_value(),
        "INFANTALL_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value(),
        "INFANTALL_ARGON2_TIME_COST": "1",
        "INFANTALL_ARGON2_MEMORY_KIB": "64",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "infantall.web.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2).status_code
                == 200
            ):
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not start")


def _writer(base: str, token: str, prefix: str, acked: list[str], stop: threading.Event) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
        n = 0
        while not stop.is_set():
            body = {
                "local_code": f"{prefix}-{n}",
                "birth_date": "2024-01-01",
                "diagnosis_date": "2024-03-01",
            }
            n += 1
            try:
                r = c.post("/api/v1/patients", json=body)
            except httpx.HTTPError:
                return  # the server died mid-request: not acknowledged
            if r.status_code == 201:
                acked.append(r.json()["registry_id"])


def test_sigkill_mid_stream_loses_no_acknowledged_write(registry: Any, seeded: Any) -> None:
    settings, database = registry
    database.dispose()  # the server owns the database while it runs
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start(settings, port)
    acked: list[str] = []
    stop = threading.Event()
    try:
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"username": "editor_a", "password": SEED_PASSWORD}
        ).json()["access_token"]
        threads = [
            threading.Thread(target=_writer, args=(base, token, f"W{i}", acked, stop))
            for i in range(WRITERS)
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < WRITES_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        stop.set()
        for t in threads:
            t.join(15)
        assert len(acked) >= WRITES_BEFORE_KILL
        acknowledged = set(acked)
        server = _start(settings, port)
        headers = {"Authorization": f"Bearer {token}"}
        listed = httpx.get(f"{base}/api/v1/patients", params={"limit": 500}, headers=headers).json()
        present = {p["registry_id"] for p in listed["items"]}
        assert acknowledged <= present
    finally:
        stop.set()
        server.kill()
        server.wait(10)
    assert integrity_check(database.engine) == []
    with database.read_sessions() as s:
        assert replay(audit_entries(s)) == current_state(s)
