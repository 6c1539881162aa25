"""The coordinator side: run an analysis over nodes and build the same results as locally.

A node is anything with a ``name`` and ``request(payload) -> dict`` (:class:`Node`):
:class:`LocalNode` answers in-process (tests, the pure pieces), the HTTP client of
:mod:`infantall.services.federation.transport` over the network. The analyses:

* :func:`check_nodes` — every node's software and data-dictionary versions must agree;
* :func:`federated_km`, :func:`federated_cif` — curves on the coarsest-needed grid: the
  grids are tried finest first and the first that every node releases is used;
* :func:`federated_logrank` — the stratified log-rank test, node as stratum;
* :func:`federated_cox` — site-stratified Cox by distributed Newton–Raphson;
* :func:`two_stage` — each node's Cox estimate pooled by the synthesis part (random effects);
* :func:`federated_table` — counts by variable level and group, summed over nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from infantall.errors import InvalidInputError
from infantall.outcomes.aggregates import (
    CoxSums,
    FederatedCoxResult,
    LogRankSums,
    TimeGrid,
    cif_from_grid_counts,
    km_from_grid_counts,
    logrank_from_sums,
    newton_from_sums,
)
from infantall.services.federation.disclosure import DisclosureRefusal
from infantall.services.federation.errors import FederationError
from infantall.services.federation.node import NodeData, NodePolicy, answer
from infantall.services.federation.results import (
    FederatedCurves,
    FederatedIncidence,
    FederatedLogRank,
    FederatedTable,
    TwoStageResult,
)
from infantall.synthesis import fit_model

__all__ = [
    "LocalNode",
    "Node",
    "check_nodes",
    "federated_cif",
    "federated_cox",
    "federated_km",
    "federated_logrank",
    "federated_table",
    "two_stage",
]

#: Grid widths tried, finest first (month, quarter, half-year, year, two years; days).
DAY_GRIDS = (365.25 / 12, 365.25 / 4, 365.25 / 2, 365.25, 2 * 365.25)
#: Horizons tried, longest first (5, 3, 2 and 1 years; days).
HORIZONS = (5 * 365.25, 3 * 365.25, 2 * 365.25, 365.25)


class Node(Protocol):
    """A federation node as the coordinator sees it."""

    @property
    def name(self) -> str:
        """The node's name (used in every error)."""
        ...

    def request(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request; raise :class:`FederationError` naming the node on failure."""
        ...


@dataclass(frozen=True, slots=True)
class LocalNode:
    """A node answered in-process (same rules and payloads as over HTTP)."""

    data: NodeData
    policy: NodePolicy

    @property
    def name(self) -> str:
        """The node's name."""
        return self.data.name

    def request(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Answer through :func:`~infantall.services.federation.node.answer`."""
        try:
            return answer(payload, self.data, self.policy)
        except DisclosureRefusal as exc:
            raise FederationError(self.name, exc.reason, "refused", exc.as_dict()) from None
        except InvalidInputError as exc:
            raise FederationError(self.name, str(exc), "invalid_request", exc.as_dict()) from None


def _all(nodes: Sequence[Node], payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    if not nodes:
        raise InvalidInputError("nodes", "name at least one node", "no_nodes")
    return [node.request(payload) for node in nodes]


def check_nodes(nodes: Sequence[Node]) -> list[dict[str, Any]]:
    """Every node's description; refuse a run across different versions.

    Raises
    ------
    FederationError
        ``unknown_node`` when the server at a node's address is another node;
        ``version_mismatch`` / ``dictionary_mismatch`` naming the first node that differs
        from the first node.
    """
    described = _all(nodes, {"analysis": "describe"})
    for node, desc in zip(nodes, described, strict=True):
        if desc.get("node") != node.name:
            raise FederationError(
                node.name,
                f"the server answering there is node {desc.get('node')!r}, not {node.name!r}",
                "unknown_node",
            )
    ref = described[0]
    for node, desc in zip(nodes[1:], described[1:], strict=True):
        for key, code in (
            ("software_version", "version_mismatch"),
            ("dictionary_version", "dictionary_mismatch"),
        ):
            if desc.get(key) != ref.get(key):
                raise FederationError(
                    node.name,
                    f"{key} {desc.get(key)!r} differs from {ref.get(key)!r} at {nodes[0].name}",
                    code,
                )
    return described


def _grid_run(
    nodes: Sequence[Node],
    base: Mapping[str, Any],
    widths: Sequence[float],
    horizons: Sequence[float],
) -> tuple[TimeGrid, list[dict[str, Any]], list[TimeGrid]]:
    """The first grid every node releases: finest width first at the longest horizon (down to
    two intervals and one), then shorter horizons; and the grids refused on the way (each
    refusal says only that some count was below a node's nfilter). Grids are probed with
    dry runs, so no node releases counts on a grid another node refuses."""
    if not widths or not horizons:
        raise InvalidInputError("widths", "give at least one grid width and horizon", "bad_grid")
    refused: list[TimeGrid] = []
    last: FederationError | None = None
    for horizon in horizons:
        # then coarser: two intervals, and one (the proportion event-free at the horizon)
        tried = sorted({*(w for w in widths if w <= horizon), horizon / 2, horizon})
        for width in tried:
            grid = TimeGrid(width, horizon)
            request = {**base, "grid": grid.to_dict()}
            try:
                _all(nodes, {**request, "dry_run": True})
            except FederationError as exc:
                if exc.code != "refused" or exc.detail.get("code") not in _COARSEN:
                    raise
                refused.append(grid)
                last = exc
                continue
            return grid, _all(nodes, request), refused
    if last is None:
        raise InvalidInputError("widths", "no width fits within the horizons", "bad_grid")
    raise last


_COARSEN = ("small_cell", "grid_too_fine")


def _counts(payloads: Sequence[dict[str, Any]]) -> np.ndarray:
    total: np.ndarray = sum(np.asarray(p["counts"], dtype=np.float64) for p in payloads)  # type: ignore[assignment]
    return total


def federated_km(
    nodes: Sequence[Node],
    endpoint: str,
    *,
    group: str | None = None,
    levels: Sequence[str] = (),
    horizons: Sequence[float] = HORIZONS,
    widths: Sequence[float] = DAY_GRIDS,
) -> FederatedCurves:
    """Kaplan–Meier by group from node grid counts (equal to the pooled KM on the grid)."""
    base = {"analysis": "km", "endpoint": endpoint, "group": group, "levels": list(levels)}
    grid, payloads, refused = _grid_run(nodes, base, widths, horizons)
    total = _counts(payloads)
    labels = list(levels) if group else ["all"]
    curves = tuple(
        km_from_grid_counts(total[:, k, :], grid, label=lab)
        for k, lab in enumerate(labels)
        if total[:, k, :].sum() > 0
    )
    return FederatedCurves(
        endpoint, group, grid, curves, tuple(n.name for n in nodes), tuple(refused)
    )


def federated_cif(
    nodes: Sequence[Node],
    endpoint: str,
    *,
    cause: int = 1,
    horizons: Sequence[float] = HORIZONS,
    widths: Sequence[float] = DAY_GRIDS,
) -> FederatedIncidence:
    """Aalen–Johansen cumulative incidence of ``cause`` (e.g. relapse, death in CR competing)."""
    base = {"analysis": "cif", "endpoint": endpoint}
    grid, payloads, refused = _grid_run(nodes, base, widths, horizons)
    total = _counts(payloads)
    curve = cif_from_grid_counts(total[:, 0, :], grid, cause=cause)
    return FederatedIncidence(endpoint, grid, curve, tuple(n.name for n in nodes), tuple(refused))


def federated_logrank(
    nodes: Sequence[Node], endpoint: str, group: str, levels: Sequence[str]
) -> FederatedLogRank:
    """The log-rank test of ``group`` stratified by node (R ``survdiff(... + strata(node))``)."""
    payloads = _all(
        nodes, {"analysis": "logrank", "endpoint": endpoint, "group": group, "levels": list(levels)}
    )
    parts = [LogRankSums.from_dict(p) for p in payloads]
    return FederatedLogRank(endpoint, group, logrank_from_sums(parts), tuple(n.name for n in nodes))


def federated_cox(
    nodes: Sequence[Node], endpoint: str, covariates: Sequence[str], *, ties: str = "efron"
) -> FederatedCoxResult:
    """Site-stratified Cox model by distributed Newton–Raphson (R ``coxph(... + strata(node))``)."""
    base = {"analysis": "cox", "endpoint": endpoint, "covariates": list(covariates), "ties": ties}

    def evaluate(beta: np.ndarray) -> list[CoxSums]:
        return [CoxSums.from_dict(p) for p in _all(nodes, {**base, "beta": beta.tolist()})]

    return newton_from_sums(evaluate, list(covariates))


def two_stage(
    nodes: Sequence[Node], endpoint: str, covariate: str, *, method: str = "reml"
) -> TwoStageResult:
    """Node Cox log HRs of ``covariate`` pooled by :func:`infantall.synthesis.fit_model`."""
    payloads = _all(
        nodes, {"analysis": "estimate", "endpoint": endpoint, "covariates": [covariate]}
    )
    y = np.array([p["coef"][0] for p in payloads])
    se = np.array([p["se"][0] for p in payloads])
    fit = fit_model(y, se**2, method=method)
    return TwoStageResult(
        endpoint,
        covariate,
        tuple(n.name for n in nodes),
        y,
        se,
        tuple(int(p["n"]) for p in payloads),
        tuple(int(p["n_events"]) for p in payloads),
        fit,
    )


def federated_table(
    nodes: Sequence[Node],
    endpoint: str,
    variables: Mapping[str, Mapping[str, Any]],
    *,
    group: str | None = None,
    levels: Sequence[str] = (),
) -> FederatedTable:
    """Counts by variable level and group summed over nodes (table one by risk group).

    A variable any node refuses (a small cell there) is reported as refused by that node
    and left out of the sums: a partial sum would misstate the total.
    """
    payloads = _all(
        nodes,
        {
            "analysis": "table",
            "endpoint": endpoint,
            "variables": {k: dict(v) for k, v in variables.items()},
            "group": group,
            "levels": list(levels),
        },
    )
    cols = list(levels) if group else ["all"]
    refused = {
        name: tuple(n.name for n, p in zip(nodes, payloads, strict=True) if name in p["refused"])
        for name in variables
    }
    tables: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    for name in variables:
        if refused[name]:
            continue
        rows = tuple(payloads[0]["tables"][name]["rows"])
        cells = sum(np.asarray(p["tables"][name]["cells"], dtype=np.float64) for p in payloads)
        tables[name] = (rows, np.asarray(cells))
    n = np.sum([p["level_n"] for p in payloads], axis=0)
    return FederatedTable(
        endpoint,
        group,
        tuple(cols),
        tables,
        {k: v for k, v in refused.items() if v},
        n,
        tuple(x.name for x in nodes),
    )
