"""The federation node surface ``/api/v1/federation/...`` (off unless enabled).

A trusted coordinator presents the node key (``X-Federation-Key``) and its identity
(``X-Federation-Coordinator``); the node answers with aggregates only, under its data
manager's policy, and audits every request and every release. While federation is off the
surface answers 404, as if it did not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse

__all__ = ["router"]

router = APIRouter(prefix="/federation", tags=["federation"])


def _node(request: Request) -> tuple[Any, Any, Any]:
    """Settings, policy and node data of this app (loaded once, kept on ``app.state``)."""
    from infantall.services.federation.registry_node import registry_node_data
    from infantall.services.federation.settings import FederationSettings, load_policy

    state = request.app.state
    settings = getattr(state, "federation_settings", None) or FederationSettings()
    policy = getattr(state, "federation_policy", None)
    if policy is None:
        policy = load_policy(settings.policy_file)
        state.federation_policy = policy
    data = getattr(state, "federation_data", None)
    if data is None and settings.enabled:
        key = state.settings.pseudonym_key.get_secret_value()
        data = registry_node_data(
            state.database,
            settings.node_name,
            key,
            protocol=settings.protocol,
            max_shift_days=state.settings.date_shift_max_days,
        )
        state.federation_data = data
    return settings, policy, data


def _error(status: int, body: dict[str, Any]) -> JSONResponse:
    """A problem+json answer like every other error of the API; the node's own details (code,
    reason, refusal) travel in the ``federation`` member, which the coordinator reads."""
    from infantall.web.errors import PROBLEM_MEDIA_TYPE, problem

    reply = problem(status, str(body.get("reason", "")), str(body.get("code", "federation_error")))
    content = {**json.loads(bytes(reply.body)), "federation": dict(body)}
    return JSONResponse(status_code=status, content=content, media_type=PROBLEM_MEDIA_TYPE)


@router.post("/query", response_model=None)
def query(
    request: Request,
    body: Annotated[dict[str, Any], Body()],
    x_federation_key: Annotated[str | None, Header()] = None,
    x_federation_coordinator: Annotated[str | None, Header()] = None,
) -> dict[str, Any] | JSONResponse:
    """Answer one federated request (``{"analysis": ..., ...}``) with aggregates only."""
    from infantall.errors import InvalidInputError
    from infantall.services.federation.disclosure import DisclosureRefusal
    from infantall.services.federation.registry_node import (
        FederationDenied,
        check_caller,
        serve_request,
    )
    from infantall.services.federation.settings import FederationSettings

    settings = getattr(request.app.state, "federation_settings", None) or FederationSettings()
    try:
        check_caller(settings, x_federation_key, x_federation_coordinator)
        settings, policy, data = _node(request)
        return serve_request(
            request.app.state.database, data, policy, str(x_federation_coordinator), body
        )
    except FederationDenied as exc:
        reason = "Not Found" if exc.status == 404 else exc.reason
        return _error(exc.status, {"code": "federation_denied", "reason": reason})
    except DisclosureRefusal as exc:
        return _error(403, {**exc.as_dict(), "refused": True})
    except InvalidInputError as exc:
        return _error(422, exc.as_dict())
