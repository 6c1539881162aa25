"""Benchmark: ``infantall stratify COHORT.csv -o OUT.csv`` at scale (issue 15 item 5).

The cohort is SYNTHETIC, generated with :func:`infantall.cohort.generate_cohort` (every
:class:`~infantall.domain.Patient` column; the cohort's own ``risk_group`` and
``synthetic`` columns are dropped because a cohort CSV holds patient fields only). Each
run is a separate process, so its wall time and peak resident memory (``ru_maxrss`` of
``os.wait4``) are its own:

- **streaming** (the command): chunks of ``CHUNK_ROWS`` rows read, validated, stratified
  under every protocol and appended to the output file;
- **baseline** (named: the whole-file path the command used before): every row validated
  into one frame, every decision materialised as a list of dicts, then written with
  ``csv.DictWriter``.

Targets: 285,783 patients to a file in under 10 s; 1,000,000 patients under 1 GB.
Run: ``python benchmarks/bench_stratify.py [N ...]`` (default 285783); ``--no-baseline``
skips the baseline (for the 1,000,000-patient memory run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infantall.cohort import generate_cohort
from infantall.domain import PATIENT_FIELDS

STREAMING = """
import sys
from infantall.cli import app
sys.argv = ["infantall", "stratify", sys.argv[1], "-o", sys.argv[2]]
app()
"""

BASELINE = """
import csv, sys, warnings
from pathlib import Path
from infantall.protocols import PROTOCOLS
from infantall.protocols.cohort_csv import read_cohort_csv, stratify_cohort
cohort = read_cohort_csv(Path(sys.argv[1]))
records = stratify_cohort(cohort, list(PROTOCOLS))
with open(sys.argv[2], "w", newline="", encoding="utf-8") as fh:
    writer = csv.DictWriter(fh, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
"""


GENERATE = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from bench_stratify import write_cohort_csv
write_cohort_csv(int(sys.argv[1]), Path(sys.argv[2]))
"""


def write_cohort_csv(n: int, path: Path, seed: int = 20261206) -> None:
    """A SYNTHETIC cohort of ``n`` patients as a cohort CSV (Patient columns only)."""
    cohort = generate_cohort(n, seed=seed)
    columns = [c for c in PATIENT_FIELDS if c in cohort.patients.columns]
    cohort.patients[columns].to_csv(path, index=False, date_format="%Y-%m-%d")


def run(script: str, src: Path, out: Path) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS in MB, exit code) of ``script`` in a fresh process. CPU time
    (user + system) is reported beside wall time because the machine may be shared."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(src), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main(argv: list[str]) -> None:
    baseline = "--no-baseline" not in argv
    sizes = [int(a) for a in argv if a.isdigit()] or [285_783]
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            src = Path(tmp) / f"cohort_{n}.csv"
            # generated in its own process: a child forked from a parent holding the cohort
            # would report the parent's pages in its peak RSS
            subprocess.run([sys.executable, "-c", GENERATE, str(n), str(src)], check=True)
            size_mb = src.stat().st_size / 1e6
            print(f"{n:,} patients, {size_mb:.1f} MB CSV (synthetic, infantall.cohort)")
            rows = [("streaming (infantall stratify -o)", STREAMING)]
            if baseline:
                rows.append(("baseline (whole file, list of dicts)", BASELINE))
            for name, script in rows:
                out = Path(tmp) / "out.csv"
                wall, cpu, rss, code = run(script, src, out)
                lines = sum(1 for _ in out.open(encoding="utf-8")) - 1 if out.exists() else 0
                print(
                    f"  {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MB, "
                    f"exit {code}, "
                    f"{lines:,} decisions written"
                )
                out.unlink(missing_ok=True)


if __name__ == "__main__":
    main(sys.argv[1:])
