"""Federated infantall: one analysis across registries without pooling patients.

Node side: :mod:`.node` (aggregates of the node's analysis frames), :mod:`.disclosure`
(nfilter, grids, identifiers: what may leave), :mod:`.registry_node` (a registry as a node,
audited). Coordinator side: :mod:`.coordinator` (the analyses), :mod:`.transport` (HTTP with
httpx: timeouts, retries, the failing node named). Exact pieces are in
:mod:`infantall.outcomes.aggregates`.
"""

from infantall.services.federation.coordinator import (
    LocalNode,
    Node,
    check_nodes,
    federated_cif,
    federated_cox,
    federated_km,
    federated_logrank,
    federated_table,
    two_stage,
)
from infantall.services.federation.disclosure import DEFAULT_NFILTER, DisclosureRefusal
from infantall.services.federation.errors import FederationError
from infantall.services.federation.node import NodeData, NodePolicy, answer, node_data_from_frames

__all__ = [
    "DEFAULT_NFILTER",
    "DisclosureRefusal",
    "FederationError",
    "LocalNode",
    "Node",
    "NodeData",
    "NodePolicy",
    "answer",
    "check_nodes",
    "federated_cif",
    "federated_cox",
    "federated_km",
    "federated_logrank",
    "federated_table",
    "node_data_from_frames",
    "two_stage",
]
