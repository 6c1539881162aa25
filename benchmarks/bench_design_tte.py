"""Benchmark: the time-to-event engine on a 3-arm design with 4 interims and an MRD predictor.

Design: ``examples/design/interfant21-like.yaml`` (3 arms, interims after 50, 80, 110, 140
patients and a final analysis, piecewise-exponential posteriors on 5 intervals, MRD measured
at 3 months with 8 multiple imputations per interim, predictive probability of success from
12 completions per interim, response-adaptive randomisation, the control arm's robust MAP
Gamma-mixture prior of KMT2A-r EFS with 7 components per interval).

Named baseline, in the same run: the one-rate-per-arm time-to-event path it replaces
(``infantall.design.adaptive.engine``'s conjugate exponential, no predictor, no predictive
probabilities) on the same arms, analyses and accrual. Printed: trials per second in
wall-clock and in CPU time (CPU time is robust on a shared, loaded machine), and the cost per
trial relative to the baseline. Run with ``make bench``. Side by side with an older checkout
(alternating fresh processes, CPU time): ``python benchmarks/bench_design_tte.py --old
<checkout>/src [rounds]``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infantall.design.adaptive import load_spec, run_trials

SPEC = load_spec(
    Path(__file__).resolve().parents[1] / "examples" / "design" / "interfant21-like.yaml"
)
#: The baseline: the same trial without the ``tte:`` block (one exponential rate per arm).
BASELINE = SPEC.model_copy(
    update={"tte": None, "arms": [a.model_copy(update={"tte": None}) for a in SPEC.arms]}
)
N = 4000
SEED = 20261206
RESULTS: dict[str, float] = {}


def _cpu_timed(fn: Callable[[], Any], key: str) -> Callable[[], Any]:
    """``fn`` that also records its process (CPU) time, keeping the minimum over rounds."""

    def run() -> Any:
        start = time.process_time()
        out = fn()
        RESULTS[key] = min(RESULTS.get(key, math.inf), time.process_time() - start)
        return out

    return run


def test_baseline_one_rate_per_arm(benchmark: Any) -> None:
    """Named baseline: the exponential (one rate per arm) vectorised path, N trials."""
    run = _cpu_timed(lambda: run_trials(BASELINE, N, SEED), "baseline_cpu_s")
    res = benchmark.pedantic(run, rounds=3, iterations=1)
    assert res.outcomes.n_total.size == N
    RESULTS["baseline_wall_s"] = benchmark.stats.stats.min


def test_tte_engine_with_predictor(benchmark: Any) -> None:
    """N trials of the piecewise-exponential engine with the MRD predictor."""
    run_trials(SPEC, 200, SEED)  # compile (or load the cached) numba kernels outside timing
    run = _cpu_timed(lambda: run_trials(SPEC, N, SEED), "tte_cpu_s")
    res = benchmark.pedantic(run, rounds=3, iterations=1)
    assert res.outcomes.n_total.size == N
    wall, cpu = benchmark.stats.stats.min, RESULTS["tte_cpu_s"]
    base_wall = RESULTS.get("baseline_wall_s", math.nan)
    base_cpu = RESULTS.get("baseline_cpu_s", math.nan)
    print(
        f"\n{N:,} trials of '{SPEC.name}': {wall:.2f} s wall ({N / wall:,.0f} trials/s), "
        f"{cpu:.2f} s CPU ({N / cpu:,.0f} trials/CPU-s); one-rate-per-arm baseline "
        f"{base_wall:.2f} s wall / {base_cpu:.2f} s CPU -> the new engine costs "
        f"{cpu / base_cpu:.1f}x the baseline's CPU per trial"
    )
    assert cpu > 0


def _cpu_rate(spec: Any, rounds: int) -> float:
    """Best trials per CPU-second over ``rounds`` runs of N trials (kernels compiled first)."""
    run_trials(spec, 200, SEED)
    best = math.inf
    for _ in range(rounds):
        c0 = time.process_time()
        run_trials(spec, N, SEED)
        best = min(best, time.process_time() - c0)
    return N / best


def _side_by_side(old_src: str, rounds: int) -> None:
    """Old code (``old_src`` on PYTHONPATH) and this code, alternating fresh processes: the
    honest comparison on a loaded machine (CPU time, best of 2 runs per process)."""
    here = str(Path(__file__).resolve().parents[1] / "src")
    for r in range(rounds):
        for label, src in (("old", old_src), ("new", here)):
            env = {**os.environ, "PYTHONPATH": src}
            out = subprocess.run(
                [sys.executable, __file__, "--rate"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            load = os.getloadavg()[0]
            print(f"round {r + 1} {label}: {out.stdout.strip()} trials/CPU-s (load {load:.1f})")


if __name__ == "__main__":  # manual runs without pytest-benchmark
    if sys.argv[1:2] == ["--rate"]:
        print(f"{_cpu_rate(SPEC, 2):.0f}")
    elif sys.argv[1:2] == ["--old"]:  # e.g. --old /path/to/previous/checkout/src
        _side_by_side(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3)
    else:
        for label, spec in (("baseline", BASELINE), ("tte engine", SPEC)):
            print(f"{label}: {N:,} trials, {_cpu_rate(spec, 1):,.0f} trials/CPU-s")
