"""Property test: no payload of any analysis carries a count below nfilter or an identifier.

The checks here are written independently of the node's own gate
(``disclosure.inspect_payload``): counts and the numbers at risk derived from them are
recomputed from each payload's structure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infantall.services.federation import DisclosureRefusal, NodePolicy, answer
from infantall.services.federation.node import node_data_from_frames

from ._data import GROUPS, NODES, simulated
from ._nodes import frames

GRIDS = [{"width": 365.25 / 12 * k, "horizon": 365.25 * h} for k in (1, 3, 12) for h in (2, 5)]
REQUESTS: list[dict[str, Any]] = [
    {"analysis": "describe"},
    *({"analysis": "km", "endpoint": "EFS", "grid": g} for g in GRIDS),
    *(
        {"analysis": "km", "endpoint": "EFS", "grid": g, "group": "group", "levels": list(GROUPS)}
        for g in GRIDS
    ),
    *({"analysis": "cif", "endpoint": "CIR", "grid": g} for g in GRIDS),
    {"analysis": "logrank", "endpoint": "EFS", "group": "group", "levels": list(GROUPS)},
    {
        "analysis": "cox",
        "endpoint": "EFS",
        "covariates": ["log_wbc", "kmt2a_r"],
        "beta": [0.1, 0.2],
    },
    {"analysis": "estimate", "endpoint": "EFS", "covariates": ["kmt2a_r"]},
    {
        "analysis": "table",
        "endpoint": "EFS",
        "group": "group",
        "levels": list(GROUPS),
        "variables": {"kmt2a_r": {"levels": ["0", "1"]}, "log_wbc": {"bins": [0, 3, 5, 20]}},
    },
]


def _strings(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, dict):
        return [s for k, x in v.items() for s in [str(k), *_strings(x)]]
    if isinstance(v, list):
        return [s for x in v for s in _strings(x)]
    return []


def _lists(v: Any) -> list[list[Any]]:
    if isinstance(v, dict):
        return [x for y in v.values() for x in _lists(y)]
    if isinstance(v, list):
        return [v, *(x for y in v for x in _lists(y))]
    return []


def _counts_of(payload: dict[str, Any]) -> list[np.ndarray]:
    """Every patient count a payload states or implies."""
    a = payload["analysis"]
    if a in ("km", "cif"):
        c = np.asarray(payload["counts"], dtype=float)  # (grid, group, status)
        at_risk = np.cumsum(c.sum(axis=2)[::-1], axis=0)[::-1]
        return [c, at_risk, c.sum(axis=(0, 2))]
    if a == "logrank":
        return [np.asarray(payload["n"]), np.asarray(payload["observed"])]
    if a in ("cox", "estimate"):
        return [np.asarray([payload["n"], payload["n_events"]])]
    if a == "table":
        return [np.asarray(t["cells"]) for t in payload["tables"].values()] + [
            np.asarray(payload["level_n"])
        ]
    return [np.asarray(list(payload["n"].values()))]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    size=st.integers(1, 60),
    nfilter=st.integers(2, 6),
    which=st.integers(0, len(REQUESTS) - 1),
)
def test_no_payload_breaks_the_rules(seed: int, size: int, nfilter: int, which: int) -> None:
    data = simulated(seed=seed, sizes=(size, 1, 1))
    node = node_data_from_frames(
        NODES[0], frames(data, NODES[0]), software_version="1", dictionary_version="d"
    )
    policy = NodePolicy(nfilter=nfilter)
    try:
        payload = answer(REQUESTS[which], node, policy)
    except DisclosureRefusal as exc:
        # a refusal never states a count
        assert not any(ch.isdigit() for ch in exc.reason.replace(f"({nfilter})", ""))
        return
    except ValueError:  # e.g. a Cox model without events: refused as invalid input
        return
    for arr in _counts_of(payload):
        assert not ((arr > 0) & (arr < nfilter)).any(), payload["analysis"]
    ids = set(node.identifiers)
    assert not ids & set(_strings(payload))
    # no patient-level row: no list as long as the node's patient count
    n = len(next(iter(node.frames.values())))
    if n > 70:
        assert all(len(x) != n for x in _lists(payload))


def test_the_gate_refuses_identifiers_and_small_counts() -> None:
    from infantall.services.federation.disclosure import inspect_payload

    for bad in ({"n": [5, 2]}, {"counts": [[0, 1]]}, {"x": {"observed": 1}}):
        try:
            inspect_payload(bad, 3, ())
        except DisclosureRefusal as exc:
            assert exc.code == "small_cell"
        else:
            raise AssertionError(bad)
    try:
        inspect_payload({"note": "P-1"}, 3, {"P-1"})
    except DisclosureRefusal as exc:
        assert exc.code == "identifier"
    else:
        raise AssertionError("identifier passed")
    inspect_payload({"n": [0, 3], "counts": [[0, 4]]}, 3, {"P-1"})
