"""HTTP transport to federation nodes (httpx): timeouts, retries, the failing node named.

``nodes.yaml``::

    coordinator: consortium-stats          # the identity nodes trust
    nodes:
      - name: COG
        url: https://cog.example.org
        key_env: INFANTALL_NODE_KEY_COG    # or key: ... (not recommended)

A node that is down or slow does not hang the run: every call has a timeout and a bounded
number of retries with back-off, then :class:`FederationError` (``unreachable``) names it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from infantall.errors import InvalidInputError
from infantall.services.federation.errors import FederationError

__all__ = ["HttpNode", "load_nodes"]

QUERY_PATH = "/api/v1/federation/query"
_RETRY_STATUS = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class HttpNode:
    """A node over HTTP(S)."""

    name: str
    url: str
    key: str = field(repr=False)
    coordinator: str
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.2
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)

    def request(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``payload`` to the node's query endpoint; raise naming the node on failure."""
        headers = {"X-Federation-Key": self.key, "X-Federation-Coordinator": self.coordinator}
        last = "no attempt"
        with httpx.Client(
            base_url=self.url, timeout=self.timeout, transport=self.transport
        ) as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                try:
                    resp = client.post(QUERY_PATH, json=dict(payload), headers=headers)
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                    continue
                if resp.status_code in _RETRY_STATUS:
                    last = f"HTTP {resp.status_code}"
                    continue
                return self._parse(resp)
        raise FederationError(
            self.name,
            f"unreachable at {self.url} after {self.retries + 1} tries ({last})",
            "unreachable",
        )

    def _parse(self, resp: httpx.Response) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            raise FederationError(
                self.name, f"HTTP {resp.status_code} without JSON", "bad_response"
            ) from None
        if resp.status_code == 200 and isinstance(body, dict):
            return body
        detail = body.get("federation") if isinstance(body, dict) else None
        info = {str(k): str(v) for k, v in detail.items()} if isinstance(detail, dict) else {}
        reason = info.get("reason", f"HTTP {resp.status_code}")
        code = {401: "unauthorised", 403: "refused", 404: "unauthorised", 422: "invalid_request"}
        raise FederationError(self.name, reason, code.get(resp.status_code, "bad_response"), info)


def load_nodes(path: Path, *, timeout: float = 10.0, retries: int = 2) -> list[HttpNode]:
    """The nodes of a ``nodes.yaml`` file.

    Raises
    ------
    InvalidInputError
        ``bad_nodes_file`` naming the file and the entry that is wrong.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError("nodes", f"{path}: {exc}", "bad_nodes_file") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not data["nodes"]:
        raise InvalidInputError("nodes", f"{path}: needs a 'nodes' list", "bad_nodes_file")
    coordinator = str(data.get("coordinator", ""))
    if not coordinator:
        raise InvalidInputError("coordinator", f"{path}: name the coordinator", "bad_nodes_file")
    nodes = []
    for i, entry in enumerate(data["nodes"]):
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("url"):
            raise InvalidInputError(f"nodes[{i}]", "needs name and url", "bad_nodes_file")
        key = entry.get("key") or os.environ.get(str(entry.get("key_env", "")), "")
        if not key:
            raise InvalidInputError(
                f"nodes[{i}].key_env", f"no key for node {entry['name']}", "bad_nodes_file"
            )
        nodes.append(
            HttpNode(str(entry["name"]), str(entry["url"]), str(key), coordinator, timeout, retries)
        )
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise InvalidInputError("nodes", f"{path}: node names repeat", "bad_nodes_file")
    return nodes
