"""The coordinator over local nodes: equal to the pooled analysis; bad input named by node."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from infantall.outcomes import cox_ph, kaplan_meier, logrank_test
from infantall.outcomes.aggregates import DAYS_PER_YEAR
from infantall.services.federation import (
    FederationError,
    NodePolicy,
    check_nodes,
    federated_cif,
    federated_cox,
    federated_km,
    federated_logrank,
    federated_table,
    two_stage,
)
from infantall.synthesis import fit_model

from ._data import GROUPS, simulated
from ._nodes import local_nodes

COX_TOL = 1e-8  # the agreement for the distributed Cox fit


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulated()


def test_federated_cox_over_nodes_equals_pooled(data: pd.DataFrame) -> None:
    fed = federated_cox(local_nodes(data), "EFS", ["log_wbc", "kmt2a_r"])
    pooled = cox_ph(data, "time", "event", ["log_wbc", "kmt2a_r"], strata="node")
    np.testing.assert_allclose(fed.coef, pooled.coef, atol=COX_TOL, rtol=0)
    np.testing.assert_allclose(fed.se, pooled.se, atol=COX_TOL, rtol=0)
    json.dumps(fed.to_dict(), allow_nan=False)


def test_federated_logrank_equals_pooled(data: pd.DataFrame) -> None:
    fed = federated_logrank(local_nodes(data), "EFS", "group", GROUPS)
    group = pd.Categorical(data.group, categories=GROUPS)
    pooled = logrank_test(data.time, data.event, group, strata=data.node)
    assert fed.test.chisq == pytest.approx(pooled.chisq, rel=1e-13)
    np.testing.assert_array_equal(fed.test.observed, pooled.observed)
    json.dumps(fed.to_dict(), allow_nan=False)


def test_federated_km_uses_the_finest_grid_every_node_releases() -> None:
    data = simulated(sizes=(500, 400, 600))
    fed = federated_km(local_nodes(data), "EFS", group="group", levels=GROUPS)
    assert fed.grid not in fed.refused_grids
    # every grid refused before was finer or reached further
    assert all(g.width < fed.grid.width or g.horizon > fed.grid.horizon for g in fed.refused_grids)
    t, e = fed.grid.coarsen(data.time, data.event)
    for curve in fed.curves:
        m = (data.group == curve.label).to_numpy()
        np.testing.assert_array_equal(curve.survival, kaplan_meier(t[m], e[m]).survival)
    assert len(fed.curves) == len(GROUPS)
    json.dumps(fed.to_dict(), allow_nan=False)


def test_km_refused_at_every_grid_says_so_without_a_count() -> None:
    tiny = simulated(sizes=(140, 12, 170))
    with pytest.raises(FederationError) as exc:
        federated_km(local_nodes(tiny), "EFS", group="group", levels=GROUPS)
    assert exc.value.code == "refused" and exc.value.detail["code"] == "small_cell"


def test_federated_cif_runs_and_is_json(data: pd.DataFrame) -> None:
    fed = federated_cif(local_nodes(data), "CIR", cause=1, horizons=[4 * DAYS_PER_YEAR])
    assert (np.diff(fed.curve.estimate) >= 0).all()
    json.dumps(fed.to_dict(), allow_nan=False)


def test_two_stage_equals_synthesis_on_the_node_estimates(data: pd.DataFrame) -> None:
    res = two_stage(local_nodes(data), "EFS", "kmt2a_r")
    ys, vs = [], []
    for node in ("COG", "JPLSG", "Interfant"):
        fit = cox_ph(data[data.node == node], "time", "event", ["kmt2a_r"])
        ys.append(fit.coef[0])
        vs.append(fit.variance[0, 0])
    direct = fit_model(np.array(ys), np.array(vs), method="reml")
    assert res.fit.beta[0] == pytest.approx(direct.beta[0], abs=1e-12)
    assert res.fit.se[0] == pytest.approx(direct.se[0], abs=1e-12)
    assert res.fit.tau2 == pytest.approx(direct.tau2, abs=1e-12)
    assert res.summary.shape[0] == 4
    json.dumps(res.to_dict(), allow_nan=False)


def test_table_counts_sum_over_nodes_and_refuse_small_cells(data: pd.DataFrame) -> None:
    variables = {"kmt2a_r": {"levels": ["0", "1"]}, "log_wbc": {"bins": [0, 2, 4, 6, 20]}}
    res = federated_table(local_nodes(data), "EFS", variables, group="group", levels=GROUPS)
    if "kmt2a_r" in res.tables:
        rows, cells = res.tables["kmt2a_r"]
        expect = pd.crosstab(data.kmt2a_r.astype(str), data.group).reindex(
            index=list(rows), columns=list(GROUPS), fill_value=0
        )
        np.testing.assert_array_equal(cells, expect.to_numpy())
    # every patient is counted once per released variable (other and missing included)
    for _rows, cells in res.tables.values():
        np.testing.assert_array_equal(cells.sum(axis=0), res.n)
    assert set(res.tables) | set(res.refused) == set(variables)
    json.dumps(res.to_dict(), allow_nan=False)


def test_version_and_dictionary_mismatch_name_the_node(data: pd.DataFrame) -> None:
    with pytest.raises(FederationError, match="JPLSG") as exc:
        check_nodes(local_nodes(data, JPLSG="0.9"))
    assert exc.value.code == "version_mismatch"
    with pytest.raises(FederationError, match="Interfant") as exc:
        check_nodes(local_nodes(data, **{"Interfant-dict": "d2"}))
    assert exc.value.code == "dictionary_mismatch"
    assert len(check_nodes(local_nodes(data))) == 3


def test_policy_refusal_and_missing_covariate_name_the_node(data: pd.DataFrame) -> None:
    nodes = local_nodes(data, NodePolicy(allowed=frozenset({"describe", "km"})))
    with pytest.raises(FederationError, match="COG") as exc:
        federated_cox(nodes, "EFS", ["log_wbc"])
    assert exc.value.code == "refused" and exc.value.detail["code"] == "not_allowed"
    d = data.copy()
    with pytest.raises(FederationError, match="missing at node COG") as exc:
        federated_cox(local_nodes(d), "EFS", ["cns3"])
    assert exc.value.code == "invalid_request"


def test_small_node_is_refused_without_revealing_the_count() -> None:
    tiny = simulated(sizes=(140, 2, 170))
    with pytest.raises(FederationError) as exc:
        federated_logrank(local_nodes(tiny), "EFS", "group", GROUPS)
    assert exc.value.node == "JPLSG" and exc.value.detail["code"] == "small_cell"
    assert "2" not in exc.value.reason.replace("nfilter (3)", "")


class _Recording:
    """A node that records every request it answers."""

    def __init__(self, inner: Any, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.answered: list[dict[str, Any]] = []

    def request(self, payload: Any) -> dict[str, Any]:
        out: dict[str, Any] = self.inner.request(payload)
        self.answered.append(dict(payload))
        return out


def test_counts_leave_nodes_only_on_the_grid_every_node_releases() -> None:
    data = simulated(sizes=(500, 400, 600))
    nodes = [_Recording(n) for n in local_nodes(data)]
    fed = federated_km(nodes, "EFS", group="group", levels=GROUPS)
    assert fed.refused_grids  # some finer grid was refused by some node
    for node in nodes:
        released = [r for r in node.answered if not r.get("dry_run")]
        assert [r["grid"] for r in released] == [fed.grid.to_dict()]


def test_a_node_answering_under_another_name_is_unknown(data: pd.DataFrame) -> None:
    nodes = local_nodes(data)
    wrong = [nodes[0], _Recording(nodes[1], name="COG-2"), nodes[2]]
    with pytest.raises(FederationError, match="COG-2") as exc:
        check_nodes(wrong)
    assert exc.value.code == "unknown_node"
