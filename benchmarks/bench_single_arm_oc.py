"""Benchmark: operating characteristics of the 160-infant single-arm design against a MAP prior.

Design: ``single_arm_bayes_design`` with the robust (w = 0.8) MAP prior of KMT2A-r 2-year EFS
built from the evidence base (as ``infantall design single-arm --population kmt2a-r
--horizon 2 --robust-weight 0.8 --n 160``), success if ``P(p_new - p_control > 0) >= 0.95``;
the nine default scenarios (control at the MAP mean and 0.10 below/above it, x gains 0, +0.10,
+0.20), 10,000 simulated trials each: 90,000 trials. Target: under 60 s.

Named baseline, same run: a per-trial loop as a direct transcription would do it: draw one
trial's successes, compute its posterior probability by the final-analysis function
(:func:`single_arm_analysis`, quadrature over the MAP prior) and record the decision. It runs
``BASELINE_PER_SCENARIO`` trials per scenario and is extrapolated to 10,000; the ratio printed
is the extrapolated loop time over the vectorised time, in wall-clock and CPU time. Both give
the same decision for the same number of successes (checked).

Run: ``make bench`` or ``pytest benchmarks/bench_single_arm_oc.py -q -s --benchmark-only
-p no:cacheprovider``; or ``python benchmarks/bench_single_arm_oc.py`` for a quick timing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from infantall.design.borrowing import (
    BetaMixture,
    borrowing_prior_from_options,
    single_arm_analysis,
    single_arm_bayes_design,
)
from infantall.design.borrowing.singlearm import _default_scenarios
from infantall.evidence import load_evidence

N_INFANTS = 160
TRIALS = 10_000
THRESHOLD = 0.95
BASELINE_PER_SCENARIO = 40
SEED = 2026
RESULTS: dict[str, float] = {}


def _prior() -> BetaMixture:
    res = borrowing_prior_from_options(
        data=None,
        trials=None,
        population="kmt2a-r",
        endpoint="efs",
        horizon_years=2.0,
        robust_weight=0.8,
        evidence=load_evidence().frame,
    )
    return res.prior


PRIOR = _prior()


def _cpu_timed(fn: Callable[[], Any], key: str) -> Callable[[], Any]:
    def run() -> Any:
        start = time.process_time()
        out = fn()
        RESULTS[key] = min(RESULTS.get(key, math.inf), time.process_time() - start)
        return out

    return run


def per_trial_loop(per_scenario: int) -> list[float]:
    """Named baseline: each simulated trial analysed on its own (final-analysis function)."""
    rng = np.random.default_rng(SEED)
    rates = []
    for _pc, pt, _label in _default_scenarios(PRIOR.mean(), 0.0):
        wins = 0
        for _ in range(per_scenario):
            y = int(rng.binomial(N_INFANTS, pt))
            wins += single_arm_analysis(PRIOR, y, N_INFANTS, threshold=THRESHOLD).success
        rates.append(wins / per_scenario)
    return rates


def vectorised() -> Any:
    return single_arm_bayes_design(PRIOR, N_INFANTS, threshold=THRESHOLD, trials=TRIALS, seed=SEED)


def test_baseline_per_trial_loop(benchmark: Any) -> None:
    run = _cpu_timed(lambda: per_trial_loop(BASELINE_PER_SCENARIO), "loop_cpu_s")
    out = benchmark.pedantic(run, rounds=2, iterations=1)
    assert len(out) == 9
    RESULTS["loop_per_trial_s"] = benchmark.stats.stats.min / (9 * BASELINE_PER_SCENARIO)


def test_vectorised_oc_and_ratio(benchmark: Any) -> None:
    run = _cpu_timed(vectorised, "vectorised_cpu_s")
    design = benchmark.pedantic(run, rounds=3, iterations=1)
    wall = benchmark.stats.stats.min
    assert len(design.scenarios) == 9 and design.trials_per_scenario == TRIALS
    # the loop's decision rule is the design's: same decision at, and just below, y*
    crit = design.critical_successes
    assert crit is not None
    assert single_arm_analysis(PRIOR, crit, N_INFANTS, threshold=THRESHOLD).success
    assert not single_arm_analysis(PRIOR, crit - 1, N_INFANTS, threshold=THRESHOLD).success
    n_trials = 9 * TRIALS
    loop_wall = RESULTS["loop_per_trial_s"] * n_trials
    loop_cpu = RESULTS["loop_cpu_s"] / (9 * BASELINE_PER_SCENARIO) * n_trials
    worst_se = max(s["mc_se"] for s in design.scenarios)
    print(
        f"\nsingle-arm OC, {N_INFANTS} infants, 9 scenarios x {TRIALS:,} trials: vectorised "
        f"{wall:.3f} s wall / {RESULTS['vectorised_cpu_s']:.3f} s CPU (target < 60 s); "
        f"per-trial loop baseline {RESULTS['loop_per_trial_s'] * 1e3:.2f} ms/trial -> "
        f"{loop_wall:.0f} s wall / {loop_cpu:.0f} s CPU extrapolated; ratio "
        f"{loop_wall / wall:.0f}x wall, {loop_cpu / RESULTS['vectorised_cpu_s']:.0f}x CPU; "
        f"y* = {crit}, largest MC SE {worst_se:.4f}"
    )
    assert wall < 60.0


if __name__ == "__main__":
    t0 = time.perf_counter()
    d = vectorised()
    t1 = time.perf_counter()
    per_trial_loop(BASELINE_PER_SCENARIO)
    t2 = time.perf_counter()
    per_trial = (t2 - t1) / (9 * BASELINE_PER_SCENARIO)
    loop = per_trial * 9 * TRIALS
    print(
        f"vectorised 9 x {TRIALS:,} trials: {t1 - t0:.3f} s; loop {per_trial * 1e3:.2f} ms/trial "
        f"-> {loop:.0f} s extrapolated ({loop / (t1 - t0):.0f}x); y* = {d.critical_successes}"
    )
