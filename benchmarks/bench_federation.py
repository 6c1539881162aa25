"""Benchmark: the federated site-stratified Cox fit and stratified log-rank test against the
pooled ones on the same patients (three in-process nodes, 100,000 patients each).

Named baseline: the pooled analysis (``cox_ph(..., strata="node")``,
``logrank_test(..., strata=node)``) that a consortium would run if patients could be
pooled. The federated fit does the same Newton steps, each one round of node requests
(score and information at the coordinator's beta), so the ratio is the price of federation
without the network. Run with ``make bench``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from infantall.outcomes import cox_ph, logrank_test
from infantall.services.federation import (
    LocalNode,
    NodePolicy,
    federated_cox,
    federated_logrank,
    node_data_from_frames,
)

N_PER_NODE = 100_000
SEED = 20261206
NODES = ("A", "B", "C")
GROUPS = ("LR", "MR", "HR")
COV = ["x0", "x1", "x2"]


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x = rng.standard_normal((n, 3))
    g = rng.integers(0, 3, n)
    rate = np.exp(x @ np.array([0.3, -0.2, 0.1]) + 0.4 * g) / 1500
    t_ev, t_c = rng.exponential(1 / rate), rng.uniform(30, 3650, n)
    return pd.DataFrame(x, columns=COV).assign(
        time=np.ceil(np.minimum(t_ev, t_c)),
        status=(t_ev <= t_c).astype(int),
        group=np.array(GROUPS)[g],
    )


@pytest.fixture(scope="module")
def setup() -> tuple[list[LocalNode], pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    frames = {name: _frame(rng, N_PER_NODE) for name in NODES}
    nodes = [
        LocalNode(
            node_data_from_frames(name, {"EFS": f}, software_version="b", dictionary_version="b"),
            NodePolicy(),
        )
        for name, f in frames.items()
    ]
    pooled = pd.concat([f.assign(node=k) for k, f in frames.items()], ignore_index=True)
    return nodes, pooled


def test_federated_cox(benchmark: Any, setup: Any) -> None:
    nodes, _ = setup
    benchmark(federated_cox, nodes, "EFS", COV)


def test_pooled_cox_baseline(benchmark: Any, setup: Any) -> None:
    _, pooled = setup
    benchmark(cox_ph, pooled, "time", "status", COV, strata="node", concordance=False)


def test_federated_logrank(benchmark: Any, setup: Any) -> None:
    nodes, _ = setup
    benchmark(federated_logrank, nodes, "EFS", "group", GROUPS)


def test_pooled_logrank_baseline(benchmark: Any, setup: Any) -> None:
    _, pooled = setup
    benchmark(logrank_test, pooled.time, pooled.status, pooled.group, strata=pooled.node)
