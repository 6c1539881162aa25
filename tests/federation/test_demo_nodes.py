"""The demo's registries as nodes: registry -> node frames -> federated = pooled, and the
report shows each result beside the pooled one (in-process nodes; HTTP is tested apart)."""

from __future__ import annotations

import pytest

from infantall.reports.federation_section import federation_report
from infantall.services.federation import LocalNode, NodePolicy
from infantall.services.federation.comparison import compare
from infantall.services.federation.demo import DEMO_NODES, build_demo_nodes
from infantall.services.federation.registry_node import dictionary_version, serve_request


@pytest.fixture(scope="module")
def demo_nodes(tmp_path_factory: pytest.TempPathFactory) -> list:  # type: ignore[type-arg]
    nodes = build_demo_nodes(tmp_path_factory.mktemp("fed"), n=400, seed=3)
    yield nodes
    for node in nodes:
        node.database.dispose()


def test_demo_registries_become_nodes_and_agree_with_pooled(demo_nodes: list) -> None:  # type: ignore[type-arg]
    assert [n.name for n in demo_nodes] == list(DEMO_NODES)
    assert all(n.data.dictionary_version == dictionary_version() for n in demo_nodes)
    clients = [LocalNode(n.data, NodePolicy()) for n in demo_nodes]
    cmp = compare(clients, [n.data for n in demo_nodes])
    assert cmp.all_agree, cmp.summary[~cmp.summary.agrees]
    page = federation_report(cmp, {n.name: [] for n in demo_nodes}, 1.0)
    assert "Federated versus pooled" in page and "SYNTHETIC" in page


def test_serve_request_audits_what_left(demo_nodes: list) -> None:  # type: ignore[type-arg]
    from sqlalchemy import select

    from infantall.registry.models import AuditEntry

    node = demo_nodes[0]
    req = {"analysis": "describe"}
    payload = serve_request(node.database, node.data, NodePolicy(), "stats", req)
    with node.database.read_sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.entity == "federation")).all()
        assert [r.action for r in rows][-2:] == ["federation_request", "federation_release"]
        assert rows[-1].new == payload
