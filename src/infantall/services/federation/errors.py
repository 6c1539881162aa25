"""Errors of a federated run: each names the node that failed and why."""

from __future__ import annotations

from infantall.errors import InfantallError

__all__ = ["FederationError"]


class FederationError(InfantallError):
    """A node failed, refused or disagreed; ``node`` names it, ``code`` says how.

    Codes: ``refused`` (disclosure or policy; ``reason`` is the node's, without the small
    count), ``unreachable`` (down, timed out after the retries), ``bad_response``,
    ``unauthorised``, ``version_mismatch``, ``dictionary_mismatch``, ``invalid_request``,
    ``unknown_node``.
    """

    def __init__(self, node: str, reason: str, code: str, detail: dict[str, str] | None = None):
        self.node = node
        self.reason = reason
        self.code = code
        self.detail = detail or {}
        super().__init__(f"node {node}: {reason} [{code}]")

    def as_dict(self) -> dict[str, object]:
        """The error as JSON (CLI, API)."""
        return {"node": self.node, "reason": self.reason, "code": self.code, **self.detail}
