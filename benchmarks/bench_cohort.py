"""Benchmark: generate 1,000,000 SYNTHETIC infants (vectorised) against a per-patient loop.

Named baseline: :func:`loop_cohort`, the same feature and outcome model written the
obvious way — one patient at a time with scalar draws from the same
``numpy.random.Generator`` model parameters, rows appended to lists, frames built at the
end. It runs on BASELINE_N patients and is extrapolated per patient; the ratio printed is
(per-patient time x N) / vectorised time for N patients. Run with ``make bench``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from infantall.cohort import FeatureModel, calibrate, generate_cohort
from infantall.cohort.features import (
    FUSION_PARTNERS,
    SIX_MONTHS_DAYS,
    age_pmf,
    kmt2a_r_probability,
    partner_probabilities,
)

N = 1_000_000
BASELINE_N = 5_000
SEED = 20261121
RESULTS: dict[str, float] = {}


def _lognormal(rng: np.random.Generator, median_sigma: tuple[float, float]) -> float:
    median, sigma = median_sigma
    return max(1.0, round(median * math.exp(sigma * rng.standard_normal())))


def _patient(rng: np.random.Generator, fm: FeatureModel, tables: dict[str, Any]) -> dict[str, Any]:
    age = int(rng.choice(366, p=tables["pmf"]))
    r = rng.random() < tables["p_r"][age]
    partner = "none"
    if r:
        band = 0 if age < SIX_MONTHS_DAYS else 1
        partner = FUSION_PARTNERS[int(rng.choice(5, p=tables["partners"][band]))]
    median, sigma = fm.log_wbc_r if r else fm.log_wbc_g
    wbc = max(0.5, round(median * math.exp(sigma * rng.standard_normal()), 1))
    ppr_p = (fm.ppr_r_high_wbc if wbc >= 300 else fm.ppr_r) if r else fm.ppr_g
    poor = rng.random() < ppr_p
    if not r:
        group = "LR"
    elif age < SIX_MONTHS_DAYS and (wbc >= 300 or poor):
        group = "HR"
    else:
        group = "MR"
    return {"age_days": age, "kmt2a": "rearranged" if r else "germline",
            "fusion_partner": partner, "wbc": wbc, "poor": poor, "risk_group": group}  # fmt: skip


def _events(rng: np.random.Generator, pid: int, group: str, model: Any) -> list[dict[str, Any]]:
    rates, t = model.rates[group], model.timing
    eoi = int(rng.integers(t.end_of_induction[0], t.end_of_induction[1] + 1))
    u = rng.random()
    out: list[dict[str, Any]] = []
    if u < rates.induction_death:
        return [{"patient": pid, "kind": "death", "day": int(rng.uniform(3, eoi))}]
    if u < rates.induction_death + rates.induction_failure:
        out.append({"patient": pid, "kind": "response", "day": eoi, "status": "no_cr"})
        if rng.random() < t.failure_death_probability:
            day = eoi + _lognormal(rng, t.death_after_failure)
            out.append({"patient": pid, "kind": "death", "day": day})
        return out
    out.append({"patient": pid, "kind": "response", "day": eoi, "status": "cr"})
    v = rng.random()
    if v < model.relapse[group]:
        day = eoi + _lognormal(rng, t.relapse)
        out.append({"patient": pid, "kind": "relapse", "day": day})
        if rng.random() < model.death_after_relapse[group]:
            death = day + _lognormal(rng, t.death_after_relapse)
            out.append({"patient": pid, "kind": "death", "day": death})
    elif v < model.relapse[group] + rates.death_in_cr:
        out.append({"patient": pid, "kind": "death", "day": eoi + _lognormal(rng, t.death_in_cr)})
    return out


def loop_cohort(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The named baseline: one patient at a time (same model, scalar draws)."""
    rng = np.random.default_rng(seed)
    fm = FeatureModel()
    model = calibrate("interfant-06", features=fm)
    tables = {
        "pmf": age_pmf(fm),
        "p_r": kmt2a_r_probability(fm),
        "partners": partner_probabilities(fm),
    }
    patients, events = [], []
    for pid in range(n):
        p = _patient(rng, fm, tables)
        patients.append(p)
        events.extend(_events(rng, pid, p["risk_group"], model))
    return pd.DataFrame(patients), pd.DataFrame(events)


def _cpu_timed(fn: Callable[[], Any], key: str) -> Callable[[], Any]:
    """``fn`` that also records its process (CPU) time: robust on a shared, loaded machine."""

    def run() -> Any:
        start = time.process_time()
        out = fn()
        cpu = time.process_time() - start
        RESULTS[key] = min(RESULTS.get(key, math.inf), cpu)
        return out

    return run


def test_baseline_per_patient_loop(benchmark: Any) -> None:
    """Named baseline: the per-patient Python loop on BASELINE_N patients."""
    run = _cpu_timed(lambda: loop_cohort(BASELINE_N, SEED), "baseline_cpu_s")
    patients, _ = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(patients) == BASELINE_N
    RESULTS["per_patient_s"] = benchmark.stats.stats.min / BASELINE_N


def test_vectorised_one_million_and_ratio(benchmark: Any) -> None:
    """1,000,000 patients with full event histories, vectorised; prints the ratio."""
    run = _cpu_timed(lambda: generate_cohort(N, sites=18, seed=SEED), "vectorised_cpu_s")
    cohort = benchmark.pedantic(run, rounds=2, iterations=1)
    assert len(cohort.patients) == N
    vectorised = benchmark.stats.stats.min
    per_patient_total = RESULTS["per_patient_s"] * N
    cpu_total = RESULTS["baseline_cpu_s"] / BASELINE_N * N
    ratio = per_patient_total / vectorised
    cpu_ratio = cpu_total / RESULTS["vectorised_cpu_s"]
    print(
        f"\ngenerate {N:,} SYNTHETIC patients ({len(cohort.events):,} events): vectorised "
        f"{vectorised:.2f} s wall / {RESULTS['vectorised_cpu_s']:.2f} s CPU; per-patient loop "
        f"baseline {RESULTS['per_patient_s'] * 1e6:.0f} µs/patient -> {per_patient_total:.0f} s "
        f"wall / {cpu_total:.0f} s CPU extrapolated; ratio {ratio:.0f}x wall, "
        f"{cpu_ratio:.0f}x CPU"
    )
    assert ratio > 1


if __name__ == "__main__":  # quick manual run without pytest-benchmark
    t0 = time.perf_counter()
    generate_cohort(N, sites=18, seed=SEED)
    print(f"vectorised {N:,}: {time.perf_counter() - t0:.2f} s")
