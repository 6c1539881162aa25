"""Benchmark: stratify 1,000,000 patients under every protocol (vectorised) against the
per-patient path (named baseline: ``stratify_all`` on each validated Patient).

The patients are SYNTHETIC random feature values (not calibrated to any trial): the point
is throughput. The baseline runs on a sample of BASELINE_N patients and is extrapolated
per patient; the ratio printed is per-patient time / vectorised time for the same number
of patients. Both are timed in CPU time of this process (``time.process_time``) because
the machine is shared and wall-clock times swing with its load. Run with ``make bench``.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from infantall.domain import ImplausibleValueWarning, Patient
from infantall.protocols import PROTOCOLS, stratify_all, stratify_frame_all

N = 1_000_000
BASELINE_N = 2_000
SEED = 20261121
RESULTS: dict[str, float] = {}


def _choice(rng: np.random.Generator, values: list[Any], n: int, p: list[float]) -> Any:
    return pd.Categorical(rng.choice(np.array(values, dtype=object), size=n, p=p))


def synthetic_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """SYNTHETIC patients with ~10% of each feature missing."""

    def maybe_missing(x: np.ndarray) -> np.ndarray:
        x = x.astype(float)
        x[rng.random(n) < 0.1] = np.nan
        return x

    kmt2a = rng.choice(["rearranged", "germline", "unknown"], size=n, p=[0.7, 0.25, 0.05])
    partner = np.where(
        kmt2a == "rearranged",
        rng.choice(["AFF1", "MLLT1", "MLLT3", "other"], size=n),
        np.where(kmt2a == "germline", "none", "unknown"),
    )
    return pd.DataFrame(
        {
            "patient_id": np.arange(n).astype(str),
            "age_days": maybe_missing(rng.integers(1, 366, size=n)),
            "wbc": maybe_missing(rng.lognormal(4.0, 1.2, size=n).clip(0, 999)),
            "kmt2a": pd.Categorical(kmt2a),
            "fusion_partner": pd.Categorical(partner),
            "cns": _choice(rng, ["CNS1", "CNS2", "CNS3", "unknown"], n, [0.7, 0.1, 0.1, 0.1]),
            "cd10": _choice(rng, ["positive", "negative", "unknown"], n, [0.4, 0.5, 0.1]),
            "day15_marrow": _choice(rng, ["M1", "M2", "M3", "unknown"], n, [0.5, 0.2, 0.2, 0.1]),
            "day8_blasts": maybe_missing(rng.lognormal(5.5, 2.0, size=n)),
            "mrd_end_of_induction": maybe_missing(10 ** rng.uniform(-6, -1, size=n)),
            "mrd_start_of_octadad": maybe_missing(10 ** rng.uniform(-6, -1, size=n)),
            "mrd_after_blinatumomab_1": maybe_missing(10 ** rng.uniform(-6, -1, size=n)),
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame(N, np.random.default_rng(SEED))


PATIENT_COLUMNS = [
    "patient_id",
    "age_days",
    "wbc",
    "kmt2a",
    "fusion_partner",
    "cns",
    "cd10",
    "day15_marrow",
    "day8_blasts",
]


def _patients(df: pd.DataFrame) -> list[Patient]:
    cols = PATIENT_COLUMNS
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImplausibleValueWarning)  # synthetic extremes
        for rec in df[cols].astype(object).where(df[cols].notna(), None).to_dict("records"):
            if rec["age_days"] is not None:
                rec["age_days"] = int(rec["age_days"])
            out.append(Patient.from_dict(rec))
    return out


@pytest.mark.benchmark(timer=time.process_time)
def test_baseline_per_patient(benchmark: Any, frame: pd.DataFrame) -> None:
    """Named baseline: the per-patient path, ``stratify_all`` on validated patients."""
    sample = frame.head(BASELINE_N)
    patients = _patients(sample)
    frames = stratify_frame_all(sample[PATIENT_COLUMNS])  # Patients carry no MRD events
    for i, p in enumerate(patients):  # both paths agree on the sample
        for pid, d in stratify_all(p).items():
            assert frames[pid]["group"].iloc[i] == d.group

    def run() -> None:
        for p in patients:
            stratify_all(p)

    benchmark.pedantic(run, rounds=3, iterations=1)
    RESULTS["per_patient_s"] = benchmark.stats.stats.min / BASELINE_N


@pytest.mark.benchmark(timer=time.process_time)
def test_vectorised_all_protocols(benchmark: Any, frame: pd.DataFrame) -> None:
    """1,000,000 patients under every protocol, encoding the frame once."""
    out = benchmark.pedantic(lambda: stratify_frame_all(frame), rounds=3, iterations=1)
    assert set(out) == set(PROTOCOLS)
    assert all(len(f) == N for f in out.values())
    RESULTS["vectorised_s"] = benchmark.stats.stats.min
    if "per_patient_s" not in RESULTS:
        pytest.fail("run the whole module: the baseline must be measured in the same run")
    per_patient_total = RESULTS["per_patient_s"] * N
    ratio = per_patient_total / RESULTS["vectorised_s"]
    print(
        f"\nstratify {N:,} patients x {len(PROTOCOLS)} protocols: vectorised "
        f"{RESULTS['vectorised_s']:.2f} s; per-patient baseline "
        f"{RESULTS['per_patient_s'] * 1e6:.0f} µs/patient -> {per_patient_total:.0f} s "
        f"extrapolated; ratio {ratio:.0f}x"
    )
    assert ratio > 1


if __name__ == "__main__":  # quick manual run without pytest-benchmark
    df = synthetic_frame(N, np.random.default_rng(SEED))
    t0 = time.perf_counter()
    stratify_frame_all(df)
    print(f"{time.perf_counter() - t0:.2f} s")
