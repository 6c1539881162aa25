"""The node surface over HTTP: off by default, key and coordinator checked, every request
and release audited; the httpx transport names a failing node and does not hang."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from infantall.registry.models import AuditEntry
from infantall.registry.testing import DatabaseTemplates
from infantall.services.federation import FederationError, NodePolicy, federated_cox
from infantall.services.federation.node import node_data_from_frames
from infantall.services.federation.settings import FederationSettings, load_policy
from infantall.services.federation.transport import HttpNode, load_nodes

from ._data import simulated
from ._nodes import frames

KEY = "node-key-for-tests-0123456789"
PATH = "/api/v1/federation/query"
HEAD = {"X-Federation-Key": KEY, "X-Federation-Coordinator": "stats-centre"}


@pytest.fixture
def node_app(backend: str, tmp_path: Path, templates: DatabaseTemplates) -> Iterator[Any]:
    from infantall.web import create_app

    with templates.database(backend, tmp_path, seeded=False) as (settings, database):
        app = create_app(settings, database=database)
        data = node_data_from_frames(
            "COG", frames(simulated(), "COG"), software_version="1", dictionary_version="d"
        )
        app.state.federation_data = data
        app.state.federation_policy = NodePolicy(allowed=frozenset({"describe", "cox", "km"}))
        yield app


def _enable(app: Any) -> None:
    app.state.federation_settings = FederationSettings(
        enabled=True, node_name="COG", node_key=KEY, trusted_coordinators=("stats-centre",)
    )


def _audit(app: Any) -> list[AuditEntry]:
    with app.state.database.read_sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.entity == "federation")).all())


def test_surface_is_off_by_default(node_app: Any) -> None:
    with TestClient(node_app) as c:
        r = c.post(PATH, json={"analysis": "describe"}, headers=HEAD)
    assert r.status_code == 404
    assert _audit(node_app) == []


def test_key_and_coordinator_are_checked(node_app: Any) -> None:
    _enable(node_app)
    with TestClient(node_app) as c:
        bad_key = c.post(
            PATH, json={"analysis": "describe"}, headers={**HEAD, "X-Federation-Key": "x"}
        )
        stranger = c.post(
            PATH, json={"analysis": "describe"}, headers={**HEAD, "X-Federation-Coordinator": "eve"}
        )
    assert bad_key.status_code == 401 and stranger.status_code == 401
    assert "eve" in stranger.json()["federation"]["reason"]


def test_requests_and_releases_are_audited_and_policy_refusals_too(node_app: Any) -> None:
    _enable(node_app)
    with TestClient(node_app) as c:
        ok = c.post(
            PATH,
            json={"analysis": "cox", "endpoint": "EFS", "covariates": ["kmt2a_r"], "beta": [0.0]},
            headers=HEAD,
        )
        refused = c.post(
            PATH, json={"analysis": "logrank", "endpoint": "EFS", "group": "group"}, headers=HEAD
        )
    assert ok.status_code == 200 and set(ok.json()) >= {"score", "information", "loglik"}
    assert refused.status_code == 403 and refused.json()["federation"]["code"] == "not_allowed"
    rows = [(a.action, a.entity_id) for a in _audit(node_app)]
    assert rows == [
        ("federation_request", "cox"),
        ("federation_release", "cox"),
        ("federation_request", "logrank"),
        ("federation_refusal", "logrank"),
    ]
    released = _audit(node_app)[1].new
    assert released is not None and released["score"] == ok.json()["score"]
    assert all(a.actor_username == "federation:stats-centre" for a in _audit(node_app))


def test_transport_over_http_equals_local(node_app: Any) -> None:
    _enable(node_app)
    with TestClient(node_app) as c:
        node = HttpNode("COG", "http://testserver", KEY, "stats-centre", transport=c._transport)
        res = federated_cox([node], "EFS", ["kmt2a_r"])
    assert res.converged and res.n_strata == 1


def test_a_node_that_is_down_is_named_and_does_not_hang() -> None:
    calls = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    node = HttpNode(
        "JPLSG",
        "http://127.0.0.1:9",
        "k",
        "c",
        retries=2,
        backoff=0.0,
        transport=httpx.MockTransport(down),
    )
    with pytest.raises(FederationError, match="node JPLSG: unreachable") as exc:
        node.request({"analysis": "describe"})
    assert exc.value.code == "unreachable" and len(calls) == 3


def test_a_silent_node_times_out() -> None:
    """A loopback socket that accepts connections but never answers: the read times out."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        node = HttpNode(
            "COG", f"http://127.0.0.1:{port}", "k", "c", timeout=0.3, retries=1, backoff=0.0
        )
        with pytest.raises(FederationError, match="node COG: unreachable") as exc:
            node.request({"analysis": "describe"})
    assert "Timeout" in exc.value.reason


def test_nodes_file_and_policy_file_errors_name_the_entry(tmp_path: Path) -> None:
    from infantall.errors import InvalidInputError

    f = tmp_path / "nodes.yaml"
    f.write_text("coordinator: c\nnodes:\n  - name: A\n    url: http://a\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="no key for node A"):
        load_nodes(f)
    f.write_text(
        "coordinator: c\nnodes:\n  - {name: A, url: 'http://a', key: k}\n", encoding="utf-8"
    )
    assert load_nodes(f)[0].name == "A"
    assert load_policy(None).allowed == frozenset({"describe"})
    p = tmp_path / "policy.yaml"
    p.write_text("allowed: [cox, sql]\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="sql"):
        load_policy(p)


def test_enabled_node_loads_its_registry_and_refuses_an_empty_one(
    backend: str, tmp_path: Path, templates: DatabaseTemplates
) -> None:
    """Without preloaded frames the node reads its registry (here: no patient yet)."""
    from infantall.web import create_app

    with templates.database(backend, tmp_path, seeded=True) as (settings, database):
        app = create_app(settings, database=database)
        _enable(app)
        app.state.federation_policy = NodePolicy()
        with TestClient(app) as c:
            r = c.post(PATH, json={"analysis": "describe"}, headers=HEAD)
    assert r.status_code == 422 and r.json()["federation"]["code"] == "empty_data"
