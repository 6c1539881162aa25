"""The exact pieces of a federated analysis equal the pooled analysis of the same patients.

The pooled functions (``cox_ph``, ``logrank_test``, ``kaplan_meier``,
``cumulative_incidence``) are those checked against R survival/cmprsk in tests/outcomes;
``reference/stratified_cox.json`` is R's own ``coxph(... + strata(node))`` on the same data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from infantall.outcomes import cox_ph, cumulative_incidence, kaplan_meier, logrank_test
from infantall.outcomes.aggregates import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    CoxSums,
    LogRankSums,
    TimeGrid,
    cif_from_grid_counts,
    cox_sums,
    grid_counts,
    km_from_grid_counts,
    logrank_from_sums,
    logrank_sums,
    newton_from_sums,
)

from ._data import GROUPS, NODES, simulated

#: the issue's agreement for the distributed Cox fit (coefficients and SE)
COX_TOL = 1e-8
#: summing the same per-stratum floating-point numbers in the same order: bit-identical,
#: allowing only the last-bit rounding of a different summation order
EXACT = 1e-13
REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulated()


def _node(data: pd.DataFrame, node: str) -> pd.DataFrame:
    return data[data.node == node]


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_distributed_cox_equals_pooled_stratified_cox(data: pd.DataFrame, ties: str) -> None:
    cov = ["log_wbc", "kmt2a_r"]

    def evaluate(beta: np.ndarray) -> list[CoxSums]:
        return [
            cox_sums(d[cov].to_numpy(), d.time, d.event, beta, ties=ties)
            for d in (_node(data, n) for n in NODES)
        ]

    fed = newton_from_sums(evaluate, cov)
    pooled = cox_ph(data, "time", "event", cov, strata="node", ties=ties)
    np.testing.assert_allclose(fed.coef, pooled.coef, rtol=0, atol=COX_TOL)
    np.testing.assert_allclose(fed.se, pooled.se, rtol=0, atol=COX_TOL)
    assert fed.loglik == pytest.approx(pooled.loglik, abs=1e-8)
    assert fed.score_test == pytest.approx(pooled.score_test, abs=1e-8)
    assert fed.lr_test == pytest.approx(pooled.lr_test, abs=1e-8)
    assert (fed.n, fed.n_events, fed.n_strata) == (pooled.n, pooled.n_events, 3)
    assert fed.converged
    assert list(fed.summary.columns) == list(pooled.summary.columns)


def test_distributed_cox_equals_r_coxph_strata(data: pd.DataFrame) -> None:
    """R: coxph(Surv(time, event) ~ log_wbc + kmt2a_r + strata(node)) (make_reference.R)."""
    ref = json.loads((REFERENCE / "stratified_cox.json").read_text(encoding="utf-8"))
    cov = ["log_wbc", "kmt2a_r"]
    fed = newton_from_sums(
        lambda b: [
            cox_sums(_node(data, n)[cov].to_numpy(), _node(data, n).time, _node(data, n).event, b)
            for n in NODES
        ],
        cov,
    )
    np.testing.assert_allclose(fed.coef, ref["coef"], rtol=0, atol=COX_TOL)
    np.testing.assert_allclose(fed.se, ref["se"], rtol=0, atol=COX_TOL)


def test_cox_sums_do_not_depend_on_the_node_centring(data: pd.DataFrame) -> None:
    d = _node(data, "COG")
    x = d[["log_wbc", "kmt2a_r"]].to_numpy()
    beta = np.array([0.3, -0.2])
    a = cox_sums(x, d.time, d.event, beta)
    b = cox_sums(x + 10.0, d.time, d.event, beta)
    np.testing.assert_allclose(a.score, b.score, atol=1e-10)
    np.testing.assert_allclose(a.information, b.information, atol=1e-10)
    assert CoxSums.from_dict(json.loads(json.dumps(a.to_dict()))).loglik == a.loglik


def test_stratified_logrank_from_node_sums_equals_pooled(data: pd.DataFrame) -> None:
    parts = [
        LogRankSums.from_dict(
            json.loads(json.dumps(logrank_sums(d.time, d.event, d.group, GROUPS).to_dict()))
        )
        for d in (_node(data, n) for n in NODES)
    ]
    fed = logrank_from_sums(parts)
    # the pooled test with the groups in the same (declared) order
    group = pd.Categorical(data.group, categories=GROUPS)
    pooled = logrank_test(data.time, data.event, group, strata=data.node)
    assert pooled.groups == fed.groups
    np.testing.assert_allclose(fed.observed, pooled.observed, rtol=0, atol=0)
    np.testing.assert_allclose(fed.expected, pooled.expected, rtol=EXACT)
    np.testing.assert_allclose(fed.variance, pooled.variance, rtol=EXACT, atol=EXACT)
    assert fed.chisq == pytest.approx(pooled.chisq, rel=EXACT)
    assert fed.df == pooled.df and fed.stratified


@pytest.mark.parametrize("width", [DAYS_PER_MONTH, 3 * DAYS_PER_MONTH, DAYS_PER_YEAR])
def test_grid_km_from_node_counts_equals_pooled_km_on_coarsened_times(
    data: pd.DataFrame, width: float
) -> None:
    grid = TimeGrid(width, 5 * DAYS_PER_YEAR)
    total = sum(
        grid_counts(d.time, d.event, grid, group=d.group, groups=GROUPS)
        for d in (_node(data, n) for n in NODES)
    )
    t, e = grid.coarsen(data.time, data.event)
    for k, g in enumerate(GROUPS):
        fed = km_from_grid_counts(total[:, k, :], grid, label=g)
        m = (data.group == g).to_numpy()
        pooled = kaplan_meier(t[m], e[m], label=g)
        for col in ("time", "n_risk", "n_event", "n_censor", "survival", "std_err"):
            np.testing.assert_array_equal(getattr(fed, col), getattr(pooled, col), err_msg=col)
        assert fed.n == pooled.n


def test_grid_cif_from_node_counts_equals_pooled_aalen_johansen(data: pd.DataFrame) -> None:
    grid = TimeGrid(3 * DAYS_PER_MONTH, 6 * DAYS_PER_YEAR)
    total = sum(grid_counts(d.time, d.status, grid) for d in (_node(data, n) for n in NODES))
    fed = cif_from_grid_counts(total[:, 0, :], grid, cause=1)
    t, s = grid.coarsen(data.time, data.status)
    pooled = cumulative_incidence(t, s).curve(1)
    np.testing.assert_array_equal(fed.time, pooled.time)
    np.testing.assert_allclose(fed.estimate, pooled.estimate, rtol=0, atol=1e-15)
    np.testing.assert_allclose(fed.variance, pooled.variance, rtol=0, atol=1e-15)


def test_grid_coarsening_rules() -> None:
    grid = TimeGrid(30.0, 90.0)
    t, s = grid.coarsen([0, 1, 30, 31, 90, 91, 400], [1, 1, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(t, [30, 30, 30, 60, 90, 90, 90])
    np.testing.assert_array_equal(s, [1, 1, 0, 1, 1, 0, 0])


@pytest.mark.parametrize(("width", "horizon"), [(0.0, 10.0), (-1.0, 10.0), (30.0, 10.0)])
def test_bad_grid_is_refused(width: float, horizon: float) -> None:
    from infantall.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="grid"):
        TimeGrid(width, horizon)
