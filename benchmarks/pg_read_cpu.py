"""PostgreSQL's CPU per patient read, the read ended with ROLLBACK (the baseline: what
``Session.close()`` does) against COMMIT (:class:`infantall.registry.db.ReadSession`), on one
connection, in the same run (not a test: run by hand; needs the machine's PostgreSQL).

psycopg drops a connection's prepared statements at every ROLLBACK, so with the baseline the
server parses and plans the token lookup and the patient query of every read. Each round is
``--reads`` reads of one patient (token lookup with the row-level-security scope, then the
patient), alternating the two endings; the figure is the server backend's CPU (``/proc``) per
read, median over rounds, and this process's CPU per read beside it.

    INFANTALL_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        PYTHONPATH=src python benchmarks/pg_read_cpu.py --reads 3000 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from infantall.registry.auth import authenticate
from infantall.registry.patients import create_patient, get_patient
from infantall.registry.rls import scope_session
from infantall.registry.schemas import PatientCreate
from infantall.registry.testing import DatabaseTemplates


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _read(database: Any, token: str, pid: str, ending: str) -> None:
    session = database.read_sessions()
    principal = authenticate(session, token, scope=True)
    scope_session(session, principal, applied=True)
    get_patient(session, principal, pid)
    if ending == "rollback":
        Session.close(session)  # the baseline: ROLLBACK
    else:
        session.close()  # ReadSession: COMMIT for a clean read


@contextmanager
def one_patient() -> Iterator[tuple[Any, str, str]]:
    """A seeded PostgreSQL test database with one patient of SITE-A: (database, the SITE-A
    editor's bearer token, the patient's id); dropped afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        templates = DatabaseTemplates(Path(tmp))
        with templates.database("postgresql", Path(tmp), seeded=True) as (_, database):
            editor = templates.seeds["postgresql"][0]["editor_a"]
            token = templates.seeds["postgresql"][1]["editor_a"]
            with database.write_sessions() as s:
                pid = create_patient(s, editor, PatientCreate(
                    local_code="BENCH-1", birth_date=dt.date(2024, 1, 1),
                    diagnosis_date=dt.date(2024, 3, 1),
                )).registry_id  # fmt: skip
            yield database, token, pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"reads_per_round": args.reads, "rounds": args.rounds}
    with one_patient() as (database, token, pid):
        database.engine.dispose()
        with database.read_sessions() as s:  # the one pooled connection every read gets
            backend = int(s.execute(text("SELECT pg_backend_pid()")).scalar_one())
        server: dict[str, list[float]] = {"rollback": [], "commit": []}
        client: dict[str, list[float]] = {"rollback": [], "commit": []}
        for _ in range(args.rounds):
            for ending in ("rollback", "commit"):
                for _ in range(50):  # warm-up (psycopg prepares at the 5th execution)
                    _read(database, token, pid, ending)
                c0, p0 = _backend_cpu(backend), time.process_time()
                for _ in range(args.reads):
                    _read(database, token, pid, ending)
                server[ending].append(1000 * (_backend_cpu(backend) - c0) / args.reads)
                client[ending].append(1000 * (time.process_time() - p0) / args.reads)
        for ending in ("rollback", "commit"):
            out[ending] = {
                "postgresql_cpu_ms_per_read": round(statistics.median(server[ending]), 3),
                "client_cpu_ms_per_read": round(statistics.median(client[ending]), 3),
            }
        out["postgresql_cpu_ratio_commit_to_rollback"] = round(
            out["commit"]["postgresql_cpu_ms_per_read"]
            / out["rollback"]["postgresql_cpu_ms_per_read"],
            2,
        )
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
