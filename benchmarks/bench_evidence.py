"""Benchmark: load and validate the evidence base (libyaml C loader, the shipped path)
against the named baseline of the same load with PyYAML's pure-Python ``SafeLoader``.

Both parse the same shipped files and validate every record with pydantic; the ratio printed
is baseline time / shipped time. CPU time of this process (``time.process_time``) is used
because the machine is shared and wall-clock times swing with its load. Run with
``make bench``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from infantall.evidence import SEED_FILES, TrialRecord, data_dir, load_evidence

ROUNDS = 5
RESULTS: dict[str, float] = {}


def _pure_python_load() -> list[TrialRecord]:
    records = []
    for name in SEED_FILES:
        doc = yaml.load((data_dir() / name).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        records += [TrialRecord.model_validate(r) for r in doc["records"]]
    return records


def _cpu_time(fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def test_baseline_pure_python_yaml(benchmark: Any) -> None:
    records = benchmark(_pure_python_load)
    RESULTS["baseline"] = _cpu_time(_pure_python_load)
    assert len(records) == len(load_evidence().records)


def test_shipped_loader(benchmark: Any) -> None:
    ev = benchmark(load_evidence)
    RESULTS["shipped"] = _cpu_time(load_evidence)
    assert len(ev.records) > 0
    if "baseline" not in RESULTS:
        pytest.fail("run the whole module: the baseline must be measured in the same run")
    ratio = RESULTS["baseline"] / RESULTS["shipped"]
    print(
        f"\nevidence load: shipped {RESULTS['shipped'] * 1e3:.1f} ms CPU, pure-Python baseline "
        f"{RESULTS['baseline'] * 1e3:.1f} ms CPU, ratio {ratio:.2f}x"
    )
