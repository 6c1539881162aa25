"""A node's federation settings: off by default; a node key, trusted coordinators, a policy.

Read from ``INFANTALL_FEDERATION_<FIELD>`` environment variables (or built in code by the
demo): ``ENABLED``, ``NODE_NAME``, ``NODE_KEY`` (the shared secret a coordinator presents),
``TRUSTED_COORDINATORS`` (JSON list of identities), ``POLICY_FILE`` (YAML or JSON: ``allowed``
analyses, ``nfilter``, ``min_grid_days``).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from infantall.errors import InvalidInputError
from infantall.services.federation.node import NodePolicy

__all__ = ["FederationSettings", "load_policy"]


class FederationSettings(BaseSettings):
    """Whether and for whom this registry answers federated requests."""

    model_config = SettingsConfigDict(env_prefix="INFANTALL_FEDERATION_", frozen=True)

    enabled: bool = False
    node_name: str = "node"
    node_key: SecretStr = SecretStr("")
    trusted_coordinators: tuple[str, ...] = ()
    policy_file: Path | None = None
    protocol: str = "interfant-06"
    timeout_seconds: float = Field(default=30.0, gt=0)


def load_policy(path: Path | None) -> NodePolicy:
    """The data manager's policy file; without one, nothing but ``describe`` is allowed.

    Raises
    ------
    InvalidInputError
        ``bad_policy`` naming the file when it cannot be read or parsed.
    """
    if path is None:
        return NodePolicy(allowed=frozenset({"describe"}))
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InvalidInputError("policy_file", f"{path}: {exc}", "bad_policy") from None
    if not isinstance(data, dict):
        raise InvalidInputError("policy_file", f"{path}: not a mapping", "bad_policy")
    return NodePolicy.from_mapping(data)
