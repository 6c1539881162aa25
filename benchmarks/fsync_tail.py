"""How long this machine's disk takes to make a small write durable (``fdatasync``), tail
included: the floor under every committed write's latency (not a test: run by hand).

Every acknowledged registry write waits for one: PostgreSQL flushes its WAL at COMMIT
(``synchronous_commit = on``) and SQLite syncs its WAL (``synchronous=FULL``). A disk whose
flush sometimes stalls for hundreds of milliseconds stalls every write then in flight, so the
write p99 of ``registry_load.py`` cannot be lower than these stalls allow, whatever the
server does. The baseline is the same loop's median: the report gives the tail as a
multiple of it. Run it in the directory of the database (``--dir``, default: PostgreSQL's
data directory where it exists, else the current one), on a quiet machine.

    python benchmarks/fsync_tail.py --seconds 15
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

_PG_DATA = Path("/var/lib/postgresql")


def measure(directory: Path, seconds: float, size: int = 8192) -> dict[str, float | int]:
    """Rewrite one ``size``-byte block and ``fdatasync`` it, for ``seconds``."""
    block = os.urandom(size)
    handle, name = tempfile.mkstemp(prefix="fsync-tail-", dir=directory)
    latencies: list[float] = []
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            os.pwrite(handle, block, 0)
            start = time.perf_counter()
            os.fdatasync(handle)
            latencies.append(1000 * (time.perf_counter() - start))
    finally:
        os.close(handle)
        os.unlink(name)
    latencies.sort()
    n = len(latencies)
    median = statistics.median(latencies)
    return {
        "syncs": n,
        "p50_ms": round(median, 3),
        "p99_ms": round(latencies[int(0.99 * (n - 1))], 3),
        "p999_ms": round(latencies[int(0.999 * (n - 1))], 3),
        "max_ms": round(latencies[-1], 1),
        "max_over_median": round(latencies[-1] / median, 1),
        "stalls_over_50ms": sum(1 for x in latencies if x > 50),
        "stalls_over_50ms_per_minute": round(60 * sum(1 for x in latencies if x > 50) / seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    default = _PG_DATA if _PG_DATA.is_dir() and os.access(_PG_DATA, os.W_OK) else Path.cwd()
    parser.add_argument("--dir", type=Path, default=default)
    args = parser.parse_args(argv)
    report = {"dir": str(args.dir), "seconds": args.seconds, **measure(args.dir, args.seconds)}
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
