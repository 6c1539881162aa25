"""Fuzzing the OpenAPI schema with schemathesis (anchors-reliability F2): every operation,
positive and negative examples, as a user allowed to call it: never a 5xx, never a stack
trace, and every answer conforms to the schema's own promises (issue 14 defect 13: the
status code is documented for the operation, the media type is the documented one, e.g.
``application/problem+json`` for errors; the body matches the documented schema).
Bounded (8 examples per operation) to keep the suite fast."""

from __future__ import annotations

import warnings
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infantall.registry.testing import SEED_PASSWORD
from infantall.web.ratelimit import RateLimiter

#: Examples per operation (and backend); raise it locally for a deeper run.
EXAMPLES_PER_OPERATION = 8
#: Who calls which operations (a role allowed to reach the code behind them).
CALLER_BY_PREFIX = (
    ("/api/v1/sites", "admin"),
    ("/api/v1/users", "admin"),
    ("/api/v1/audit", "admin"),
    ("/api/v1/export/pooled", "coord"),
)
#: The schema's own checks every answer must pass.
SCHEMA_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
#: Operations that spend the caller's token get a fresh one per example.
SPENDS_TOKEN = ("/api/v1/auth/logout", "/api/v1/auth/tokens/{token_id}/revoke")


def _token(client: Any, username: str) -> str:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": SEED_PASSWORD})
    return str(r.json()["access_token"])


def _fuzz(op: Any, caller: str, client: Any, tokens: dict[str, str], failures: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy())
    def run(case: Any) -> None:
        token = _token(client, caller) if op.path in SPENDS_TOKEN else tokens[caller]
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        if response.status_code >= 500 or b"Traceback" in response.content:
            failures.append(
                f"{op.method.upper()} {op.path}: {response.status_code} {response.content[:200]!r}"
            )
        try:
            case.validate_response(response, checks=SCHEMA_CHECKS)
        except Exception as exc:  # schemathesis raises a group of check failures
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:300]}")

    run()


def test_fuzzed_requests_never_cause_server_errors(
    app: Any, client: Any, tokens: dict[str, str]
) -> None:
    # The fuzzer logs in far more often than a person: lift the login limits (tested in
    # test_account_security.py) so that they do not hide the operations behind a 429.
    unlimited = {"login_rate_per_ip": "100000/minute", "login_rate_per_account": "100000/minute"}
    app.state.rate_limiter = RateLimiter(app.state.settings.model_copy(update=unlimited))
    with warnings.catch_warnings():
        # schemathesis warns about its own optional features (not about our schema)
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
    failures: list[str] = []
    for op in operations:
        caller = next((u for p, u in CALLER_BY_PREFIX if op.path.startswith(p)), "editor_a")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _fuzz(op, caller, client, tokens, failures)
    assert len(operations) >= 25
    assert failures == []
