"""Load test of a large CSV import beside another site's writes (issue 14, defect 5).

Not a test: run by hand. For each backend it imports a ``--rows`` CSV (default 100,000
rows: half patient rows, half event rows) into SITE-A twice, each time into a fresh copy of
the seeded registry, while a writer thread keeps registering patients at SITE-B (one audited
write after another, as ``POST /api/v1/patients`` does: the process's write lock on SQLite,
then a transaction with its audit row and chain link):

* ``job``: the import job of :mod:`infantall.registry.import_jobs` (stream-validated as a
  whole, then committed in batches of ``--batch-rows`` rows);
* ``single``: the old path, one transaction for the whole file, holding the write lock for
  the whole import as the old request did (``import_csv(batch_rows=None)``).

It reports the import's seconds (wall clock; the CPU seconds of this process, all its
threads, not the PostgreSQL server; and the CPU seconds of the import's own thread: the
figures least sensitive to a loaded machine) and the other
site's writes during it (count, p50, p99, max latency), and the ratio job/single of both.
``--chain-cost`` also prices the audit hash chain: the same audited writes through
sessions with and without the chain hook, interleaved rounds. Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/import_load.py --backend sqlite
    PYTHONPATH=src .venv/bin/python benchmarks/import_load.py --backend postgresql --chain-cost
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import io
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from infantall.domain import LastContact
from infantall.registry import import_jobs
from infantall.registry.audit_chain import insert_unchained
from infantall.registry.csv_import import import_csv
from infantall.registry.db import Database
from infantall.registry.events import add_event
from infantall.registry.import_jobs import ImportJob, create_job, run_job
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.registry.testing import DatabaseTemplates

HEADER = ["record_id", "redcap_repeat_instrument", "birth_date", "diagnosis_date", "sex",
          "wbc", "kmt2a", "notes", "event_kind", "event_date"]  # fmt: skip


def make_csv(rows: int) -> bytes:
    """``rows`` CSV rows: ``rows // 2`` patients, each followed by a last-contact row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for i in range(rows // 2):
        birth = dt.date(2015, 1, 1) + dt.timedelta(days=i % 3000)
        diagnosis = birth + dt.timedelta(days=30 + i % 300)
        code = f"IMP-{i:07d}"
        writer.writerow([code, "", birth, diagnosis, ("female", "male")[i % 2],
                         round(5 + (i % 400) * 1.25, 2), ("rearranged", "germline")[i % 2],
                         "load test", "", ""])  # fmt: skip
        contact = diagnosis + dt.timedelta(days=90)
        writer.writerow([code, "event", "", "", "", "", "", "", "last_contact", contact])
    return out.getvalue().encode()


class OtherSite(threading.Thread):
    """Registers patients at SITE-B one after another until stopped; keeps the latencies."""

    def __init__(self, database: Database, principal: Any, tag: str) -> None:
        super().__init__(daemon=True)
        self.database, self.principal, self.tag = database, principal, tag
        self.latencies: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            data = PatientCreate(local_code=f"B-{self.tag}-{i}", birth_date=dt.date(2024, 1, 1),
                                 diagnosis_date=dt.date(2024, 3, 1))  # fmt: skip
            t0 = time.perf_counter()
            try:
                with _writer(self.database) as s:
                    create_patient(s, self.principal, data)
            except Exception:  # counted, the run goes on
                self.errors += 1
            self.latencies.append(time.perf_counter() - t0)
            i += 1
            time.sleep(0.02)  # a steady stream (about 50/s offered), not a flood

    def report(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(q: float) -> float:
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1) if lat else 0.0

        return {"other_site_writes": len(lat), "other_site_errors": self.errors,
                "other_p50_ms": pct(0.5), "other_p99_ms": pct(0.99),
                "other_max_ms": round(lat[-1] * 1000, 1) if lat else 0.0}  # fmt: skip


@contextlib.contextmanager
def _writer(database: Database) -> Iterator[Session]:
    lock = database.write_lock or contextlib.nullcontext()
    with lock, database.write_sessions() as session:
        yield session


def _import_job(database: Database, settings: Any, seeds: dict[str, Any], content: bytes) -> Any:
    with database.write_sessions() as s:
        job = create_job(s, seeds["editor_a"], settings, content, "load.csv")
        s.commit()
    run_job(database, settings, job.id, seeds["editor_a"])
    with database.read_sessions() as s:
        done = s.get(ImportJob, job.id)
        assert done is not None
        return (done.state, done.patients_committed, done.events_committed, done.message)


def _import_single(database: Database, settings: Any, seeds: dict[str, Any], content: bytes) -> Any:
    with _writer(database) as s:  # the old request held the writer for the whole import
        report = import_csv(s, seeds["editor_a"], content, max_rows=settings.max_import_rows)
    state = "succeeded" if report.ok else "failed"
    return (state, report.imported_patients, report.imported_events, None)


def run_mode(mode: str, backend: str, templates: DatabaseTemplates, workdir: Path,
             content: bytes, batch_rows: int) -> dict[str, Any]:  # fmt: skip
    """One import (``job`` or ``single``) into a fresh seeded registry, beside SITE-B writes."""
    with templates.database(backend, workdir, seeded=True, import_batch_rows=batch_rows,
                            max_import_bytes=50_000_000) as (settings, database):  # fmt: skip
        seeds = templates.seeds[backend][0]
        other = OtherSite(database, seeds["editor_b"], mode)
        other.start()
        time.sleep(0.5)  # the other site's stream is running before the upload arrives
        t0, cpu0, own0 = time.perf_counter(), time.process_time(), time.thread_time()
        run = _import_job if mode == "job" else _import_single
        state, patients, events, message = run(database, settings, seeds, content)
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0  # this process, all threads (not the PG server)
        own = time.thread_time() - own0  # the import alone (it runs on this thread)
        other.stop.set()
        other.join()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        return {"mode": mode, "backend": backend, "state": state, "patients": patients,
                "events": events, "message": message, "seconds": round(seconds, 2),
                "process_cpu_seconds": round(cpu, 2), "import_cpu_seconds": round(own, 2),
                "process_peak_rss_mb_so_far": round(peak), **other.report()}  # fmt: skip


def chain_cost(backend: str, templates: DatabaseTemplates, workdir: Path, n: int,
               rounds: int) -> dict[str, Any]:  # fmt: skip
    """Audited writes per second with and without the audit chain hook (same database,
    alternating rounds of ``n`` writes), for two writes: a new patient (its audit row an
    ORM object, chained at commit) and a new event of an existing patient (the registry's
    loaded write, ``POST .../events``: its audit row deferred to the commit)."""
    with templates.database(backend, workdir, seeded=True) as (_, database):
        editor = templates.seeds[backend][0]["editor_a"]
        plain = sessionmaker(bind=database.engine, expire_on_commit=False)
        sa_event.listen(plain, "before_commit", insert_unchained)  # every audit row, no links
        with database.write_sessions() as s:  # events spread over patients (short histories)
            ids = [create_patient(s, editor, PatientCreate(
                local_code=f"E-{i}", birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1))).registry_id for i in range(n)]  # fmt: skip

        def patient(s: Session, name: str, r: int, i: int) -> None:
            create_patient(s, editor, PatientCreate(
                local_code=f"C-{name}-{r}-{i}", birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1)))  # fmt: skip

        def event(s: Session, name: str, r: int, i: int) -> None:
            day = dt.date(2030, 1, 1) + dt.timedelta(days=r * 2 + (name == "chained"))
            add_event(s, editor, ids[i], LastContact(date=day))

        out: dict[str, Any] = {"backend": backend, "writes_per_round": n, "rounds": rounds}
        for write_name, write in (("patient", patient), ("event", event)):
            times: dict[str, list[float]] = {"chained": [], "unchained": []}
            cpu: dict[str, list[float]] = {"chained": [], "unchained": []}
            for r in range(rounds):
                for name, maker in (("chained", database.write_sessions), ("unchained", plain)):
                    t0, c0 = time.perf_counter(), time.process_time()
                    for i in range(n):
                        with maker() as s:
                            write(s, name, r, i)
                    times[name].append(n / (time.perf_counter() - t0))
                    cpu[name].append(1000 * (time.process_time() - c0) / n)
            chained = statistics.median(times["chained"])
            unchained = statistics.median(times["unchained"])
            cost = round(100 * (1 - chained / unchained), 1)
            # This process's CPU per write (the server's, on PostgreSQL, not counted): less
            # moved by fsync latency than the rate, so steadier from run to run.
            cpu_c, cpu_u = statistics.median(cpu["chained"]), statistics.median(cpu["unchained"])
            out[write_name] = {"chained_writes_per_s": round(chained, 1),
                               "unchained_writes_per_s": round(unchained, 1),
                               "chain_cost_percent": cost,
                               "cpu_ms_per_write": [round(cpu_c, 3), round(cpu_u, 3)],
                               "chain_cpu_percent": round(100 * (cpu_c / cpu_u - 1), 1),
                               }  # fmt: skip
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-rows", type=int, default=200)
    parser.add_argument("--modes", default="job,single")
    parser.add_argument("--chain-cost", action="store_true")
    parser.add_argument("--chain-rounds", type=int, default=5, help="rounds of --chain-cost")
    parser.add_argument("--chain-writes", type=int, default=500, help="writes per round")
    parser.add_argument("--pause-share", type=float, nargs=2, metavar=("SQLITE", "PG"),
                        help="pause after each batch as a share of its time (default: the "
                             "job's own)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.pause_share:
        import_jobs._YIELD_SHARE = tuple(args.pause_share)
    content = make_csv(args.rows)
    out: dict[str, Any] = {"rows": args.rows, "bytes": len(content),
                           "batch_rows": args.batch_rows,
                           "pause_share": getattr(import_jobs, "_YIELD_SHARE", None),
                           "load_before": os.getloadavg(), "runs": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        templates = DatabaseTemplates(Path(tmp))
        try:
            for mode in filter(None, args.modes.split(",")):
                out["runs"].append(run_mode(mode, args.backend, templates, Path(tmp), content,
                                            args.batch_rows))  # fmt: skip
                print(json.dumps(out["runs"][-1]), file=sys.stderr, flush=True)
            if args.chain_cost:
                rounds = args.chain_rounds
                out["chain"] = chain_cost(
                    args.backend, templates, Path(tmp), args.chain_writes, rounds
                )
        finally:
            templates.close()
    runs = {r["mode"]: r for r in out["runs"]}
    if {"job", "single"} <= set(runs):
        job, single = runs["job"], runs["single"]
        out["ratio_seconds_job_over_single"] = round(job["seconds"] / single["seconds"], 2)
        out["ratio_other_p99_job_over_single"] = round(
            job["other_p99_ms"] / max(single["other_p99_ms"], 1e-9), 3
        )
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
