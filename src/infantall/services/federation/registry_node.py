"""A registry as a federation node: its patients as analysis frames, every request audited.

:func:`registry_node_data` loads the registry's histories (every site, pseudonymised as in
the pooled export) once and derives the endpoint frames; :func:`serve_request` checks the
caller (node key, trusted coordinator), answers, and writes one audit row for the request
and one for what was released (or refused) — the node's trail lists exactly what left it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import warnings
from collections.abc import Mapping
from typing import Any

from infantall import __version__
from infantall.errors import InvalidInputError
from infantall.outcomes.endpoints import ENDPOINTS, derive_endpoints
from infantall.registry import audit
from infantall.registry.access import Principal
from infantall.registry.db import Database
from infantall.registry.deidentify import DEFAULT_MAX_SHIFT_DAYS
from infantall.registry.dictionary import DATA_DICTIONARY
from infantall.registry.models import Role
from infantall.services.datasets import scoped_histories
from infantall.services.federation.disclosure import DisclosureRefusal
from infantall.services.federation.node import NodeData, NodePolicy, answer, node_data_from_frames
from infantall.services.federation.settings import FederationSettings

__all__ = [
    "FederationDenied",
    "dictionary_version",
    "registry_node_data",
    "serve_request",
]

#: The endpoints a node offers.
NODE_ENDPOINTS = ("EFS", "OS", "CIR")


class FederationDenied(Exception):
    """The caller is not a trusted coordinator with the node key (HTTP 401/404)."""

    def __init__(self, reason: str, status: int) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason)


def dictionary_version() -> str:
    """A fingerprint of the registry's data dictionary (names, forms, types)."""
    spec = [[v.name, v.form, v.field_type, list(v.choices)] for v in DATA_DICTIONARY]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:12]


def _reader(name: str) -> Principal:
    return Principal(
        user_id=0, username=f"federation:{name}", role=Role.coordinator, site_id=None, channel="api"
    )


def registry_node_data(
    database: Database,
    name: str,
    pseudonym_key: str,
    *,
    protocol: str = "interfant-06",
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS,
) -> NodeData:
    """The registry's endpoint frames (patient ids pseudonymised) as a node's data."""
    with database.write_sessions() as session:
        histories = scoped_histories(
            session, _reader(name), pseudonym_key, max_shift_days=max_shift_days
        )
    if not histories:
        raise InvalidInputError("registry", f"node {name} has no patient", "empty_data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = derive_endpoints(histories, protocol=protocol)
    frames = {p: dataset.endpoint(p) for p in NODE_ENDPOINTS if p in ENDPOINTS}
    return node_data_from_frames(
        name, frames, software_version=__version__, dictionary_version=dictionary_version()
    )


def check_caller(settings: FederationSettings, key: str | None, coordinator: str | None) -> None:
    """Refuse unless federation is on, the key matches and the coordinator is trusted.

    Raises
    ------
    FederationDenied
        404 while federation is off (the surface does not exist), 401 otherwise.
    """
    if not settings.enabled:
        raise FederationDenied("federation is not enabled on this node", 404)
    expected = settings.node_key.get_secret_value()
    if not expected or key is None or not hmac.compare_digest(expected, key):
        raise FederationDenied("a valid node key is required", 401)
    if coordinator not in settings.trusted_coordinators:
        raise FederationDenied(f"coordinator {coordinator!r} is not trusted by this node", 401)


def _summary(request: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("analysis", "endpoint", "group", "levels", "covariates", "grid", "beta", "variables")
    return {k: request[k] for k in keep if k in request}


def serve_request(
    database: Database,
    data: NodeData,
    policy: NodePolicy,
    coordinator: str,
    request: Mapping[str, Any],
) -> dict[str, Any]:
    """Answer one request, auditing the request and the release (or the refusal).

    Raises
    ------
    DisclosureRefusal, InvalidInputError
        As :func:`~infantall.services.federation.node.answer` (audited as refused).
    """
    who = f"federation:{coordinator}"[:64]
    asked = _summary(request)
    try:
        payload = answer(request, data, policy)
    except (DisclosureRefusal, InvalidInputError) as exc:
        _audit(database, who, asked, ("federation_refusal", exc.as_dict()))
        raise
    _audit(database, who, asked, ("federation_release", payload))
    return payload


def _audit(
    database: Database, who: str, asked: dict[str, Any], outcome: tuple[str, dict[str, Any]]
) -> None:
    """The request and its outcome (release or refusal) as two audit rows, one transaction."""
    entity = str(asked.get("analysis"))[:64]
    with database.write_sessions.begin() as session:
        for action, new in (("federation_request", asked), outcome):
            audit.record(session, None, action, "federation", entity, new=new, username=who)
