"""Side-by-side benchmark of infantall's survival kernels and their peers (same data, same run).

Usage::

    python benchmarks/peers.py                      # n = 1e4, 1e5, 1e6; 3 rounds
    python benchmarks/peers.py --sizes 10000 --rounds 3 --out benchmarks/results

For each size one SYNTHETIC data set is generated (3 groups, 5 covariates, exponential event
times rounded up to whole days, uniform censoring, 2 competing causes) and written as raw
float64 columns. Every measurement runs in a FRESH process (Python worker of this script, or
``Rscript benchmarks/peers.R``) that imports its libraries and reads the data first, then
times the computation only (``time.perf_counter`` / R ``proc.time``). Peak memory is the
growth of the process's resident set during the computation: the kernel's high-water mark
(``VmHWM``) is reset through ``/proc/self/clear_refs`` just before the timer, read right after,
and the resident size before the timer is subtracted; the same method for Python and R.

Rounds are interleaved (round 1 of every implementation, then round 2, ...); the table gives
the median of the rounds, the ratio infantall / peer (< 1: infantall faster) and the slope of
log(time) on log(n). The work compared is the same for every implementation of a row:

* ``km``: Kaplan–Meier curves with Greenwood SE for each of 3 groups + the 3-group log-rank
  test. infantall ``kaplan_meier_by_group`` + ``logrank_test``; statsmodels ``SurvfuncRight``
  per group + ``survdiff``; lifelines ``KaplanMeierFitter`` per group +
  ``multivariate_logrank_test``; R ``survfit(~ group)`` + ``survdiff``; ``floor``: one
  ``argsort`` of the times and a cumulative sum of the events (the sort floor).
* ``cif``: cumulative incidence of 2 causes in 3 groups with variances + Gray's test for each
  cause. infantall ``cumulative_incidence(time, cause, group)``; R ``cmprsk::cuminc``.
* ``cox``: Cox model, 5 covariates, Efron ties, with Harrell's concordance (R's default).
  infantall ``cox_ph``; R ``coxph`` (its fit always carries the concordance).

Writes ``peers.json`` and ``peers.md`` in ``--out`` and prints the Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261206
COLUMNS = ("time", "event", "cause", "group", "x0", "x1", "x2", "x3", "x4")
HERE = Path(__file__).resolve().parent
# (task, implementation): the peers of each task, infantall first
PLAN: dict[str, tuple[str, ...]] = {
    "km": ("infantall", "statsmodels", "lifelines", "R", "floor"),
    "cif": ("infantall", "R"),
    "cox": ("infantall", "R"),
}
LABELS = {
    "km": "KM (3 groups, Greenwood SE) + 3-group log-rank",
    "cif": "CIF 2 causes x 3 groups + variances + Gray's test",
    "cox": "Cox, 5 covariates, Efron, with concordance",
}
PEER_NAMES = {
    "statsmodels": "statsmodels SurvfuncRight + survdiff",
    "lifelines": "lifelines KaplanMeierFitter + multivariate_logrank_test",
    "R": "R survival/cmprsk",
    "floor": "numpy argsort + cumsum (sort floor)",
}


def generate(n: int, folder: Path) -> None:
    """Write the synthetic data set of size ``n`` as raw float64 columns in ``folder``."""
    rng = np.random.default_rng(SEED + n)
    x = rng.standard_normal((n, 5))
    group = rng.integers(0, 3, n)
    rate = 1 / 1500 * np.exp(x @ np.array([0.3, -0.2, 0.1, 0.0, 0.05]) + 0.3 * group)
    t_ev = rng.exponential(1 / rate)
    t_c = rng.uniform(30, 3650, n)
    time_ = np.ceil(np.minimum(t_ev, t_c))
    event = (t_ev <= t_c).astype(np.float64)
    cause = np.where(event == 1, rng.choice([1, 2], n, p=[0.7, 0.3]), 0)
    cols = {"time": time_, "event": event, "cause": cause, "group": group}
    cols.update({f"x{i}": x[:, i] for i in range(5)})
    folder.mkdir(parents=True, exist_ok=True)
    for name in COLUMNS:
        np.asarray(cols[name], dtype=np.float64).tofile(folder / f"{name}.f64")


def _load(folder: Path) -> dict[str, np.ndarray]:
    return {c: np.fromfile(folder / f"{c}.f64", dtype=np.float64) for c in COLUMNS}


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(key)


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _python_job(task: str, impl: str, d: dict[str, np.ndarray]) -> Callable[[], Any]:
    """Import the implementation and prepare its inputs; return the computation to time."""
    t, e, cause, g = d["time"], d["event"].astype(np.int64), d["cause"].astype(np.int64), d["group"]
    gi = g.astype(np.int64)
    if impl == "floor":
        return lambda: np.cumsum(e[np.argsort(t)])
    if impl == "infantall":
        import pandas as pd

        from infantall.outcomes import (
            cox_ph,
            cumulative_incidence,
            kaplan_meier_by_group,
            logrank_test,
        )

        if task == "km":
            return lambda: (kaplan_meier_by_group(t, e, gi), logrank_test(t, e, gi))
        if task == "cif":
            return lambda: cumulative_incidence(t, cause, gi)
        covs = [f"x{i}" for i in range(5)]
        frame = pd.DataFrame({"time": t, "event": e, **{c: d[c] for c in covs}})
        return lambda: cox_ph(frame, "time", "event", covs)
    if impl == "statsmodels":
        from statsmodels.duration.survfunc import SurvfuncRight, survdiff

        masks = [gi == k for k in range(3)]
        return lambda: (
            [SurvfuncRight(t[m], e[m]) for m in masks],
            survdiff(t, e, gi),
        )
    if impl == "lifelines":
        from lifelines import KaplanMeierFitter
        from lifelines.statistics import multivariate_logrank_test

        masks = [gi == k for k in range(3)]
        return lambda: (
            [KaplanMeierFitter().fit(t[m], e[m]) for m in masks],
            multivariate_logrank_test(t, gi, e),
        )
    raise ValueError(f"{task}/{impl}")


def worker(task: str, impl: str, folder: Path) -> None:
    """Run one measurement in this (fresh) process and print it as JSON."""
    job = _python_job(task, impl, _load(folder))
    rss0 = _status_kb("VmRSS")
    _reset_peak()
    t0 = time.perf_counter()
    job()
    seconds = time.perf_counter() - t0
    peak = _status_kb("VmHWM")
    print(json.dumps({"seconds": seconds, "peak_mb": max(peak - rss0, 0) / 1024}))


def _measure(task: str, impl: str, folder: Path, n: int) -> dict[str, float]:
    if impl == "R":
        cmd = ["Rscript", str(HERE / "peers.R"), task, str(folder), str(n)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", task, impl, str(folder)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=3600)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _slope(sizes: list[int], secs: list[float]) -> float | None:
    if len(sizes) < 2:
        return None
    fit = np.polyfit(np.log(sizes), np.log(secs), 1)
    return float(fit[0])


def _summarise(
    raw: dict[str, dict[str, dict[int, list[dict[str, float]]]]],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for task, impls in raw.items():
        ours = {
            n: statistics.median(r["seconds"] for r in runs)
            for n, runs in impls["infantall"].items()
        }
        for impl, per_n in impls.items():
            sizes = sorted(per_n)
            med = [statistics.median(r["seconds"] for r in per_n[n]) for n in sizes]
            mem = [statistics.median(r["peak_mb"] for r in per_n[n]) for n in sizes]
            for n, s, m in zip(sizes, med, mem, strict=True):
                rows.append(
                    {
                        "task": task,
                        "implementation": impl,
                        "n": n,
                        "median_s": s,
                        "rounds": [r["seconds"] for r in per_n[n]],
                        "peak_mb": m,
                        "infantall_over_peer": None if impl == "infantall" else ours[n] / s,
                        "slope": _slope(sizes, med),
                    }
                )
    return rows


def _markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"Machine: {meta['machine']}; {meta['date']}; command: `{meta['command']}`; "
        f"median of {meta['rounds']} fresh-process rounds, interleaved; computation only.",
        "",
        "| work | implementation | n | median s | peak MB | infantall / peer "
        "| slope log t / log n |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = "" if r["infantall_over_peer"] is None else f"{r['infantall_over_peer']:.2f}"
        slope = "" if r["slope"] is None else f"{r['slope']:.2f}"
        name = (
            "infantall" if r["implementation"] == "infantall" else PEER_NAMES[r["implementation"]]
        )
        lines.append(
            f"| {r['task']} | {name} | {r['n']:,} | {r['median_s']:.4f} | {r['peak_mb']:.1f} "
            f"| {ratio} | {slope} |"
        )
    lines += ["", "Work per row: " + "; ".join(f"{k}: {v}" for k, v in LABELS.items()) + "."]
    return "\n".join(lines) + "\n"


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "pandas", "scipy", "statsmodels", "lifelines"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "absent"
    if shutil.which("Rscript"):
        r = subprocess.run(
            [
                "Rscript",
                "-e",
                "cat(R.version.string, 'survival', format(packageVersion('survival')),"
                " 'cmprsk', format(packageVersion('cmprsk')))",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        out["R"] = r.stdout.strip()
    return out


def main(argv: list[str] | None = None) -> None:
    """Generate the data, run every implementation interleaved, write the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", nargs=3, metavar=("TASK", "IMPL", "DIR"))
    ap.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tasks", nargs="+", default=list(PLAN))
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1], Path(args.worker[2]))
        return
    has_r = shutil.which("Rscript") is not None
    raw: dict[str, dict[str, dict[int, list[dict[str, float]]]]] = {
        task: {i: {} for i in PLAN[task] if i != "R" or has_r} for task in args.tasks
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = Path(tmp) / str(n)
            generate(n, folder)
            for rnd in range(args.rounds):
                for task, impls in raw.items():
                    for impl in impls:
                        res = _measure(task, impl, folder, n)
                        impls[impl].setdefault(n, []).append(res)
                        print(
                            f"n={n:>9,} round {rnd + 1} {task:4} {impl:12} "
                            f"{res['seconds']:8.4f} s {res['peak_mb']:8.1f} MB",
                            flush=True,
                        )
    meta = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f} at end",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/peers.py " + " ".join(sys.argv[1:]),
        "rounds": args.rounds,
        "versions": _versions(),
    }
    rows = _summarise(raw)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    md_text = _markdown(rows, meta)
    (args.out / "peers.md").write_text(md_text)
    print(md_text)


if __name__ == "__main__":
    main()
