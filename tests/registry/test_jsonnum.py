"""Audit JSON numbers that JSONB prints back differently are stored as it prints them
(:mod:`infantall.registry.jsonnum`), so an untouched row verifies on PostgreSQL."""

from __future__ import annotations

import json
import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from infantall.registry.jsonnum import jsonb_stable


def test_known_values_become_what_jsonb_prints_back() -> None:
    # psql: select '{"a":-0.0,"b":1e+16,"c":1.5e-07,"d":3.0,"e":1.5e+300}'::jsonb
    # -> {"a": 0.0, "b": 10000000000000000, "c": 0.00000015, "d": 3.0, "e": 15 and 299 zeros}
    got = jsonb_stable({"a": -0.0, "b": [1e16, {"c": 1.5e-07}], "d": 3.0, "e": 1.5e300})
    assert json.dumps(got) == json.dumps(
        {"a": 0.0, "b": [10000000000000000, {"c": 1.5e-07}], "d": 3.0, "e": 15 * 10**299}
    )
    assert math.copysign(1.0, got["a"]) == 1.0


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_the_value_is_kept(x: float) -> None:
    """Property: the number reads as the same float (only its JSON spelling may change:
    an int is the decimal Python writes for it, which JSONB prints back), and a second
    pass changes nothing."""
    y = jsonb_stable(x)
    assert float(y) == x
    if isinstance(y, int):
        assert Decimal(y) == Decimal(json.dumps(x))  # the decimal written, as JSONB keeps it
    assert jsonb_stable(y) == y and type(jsonb_stable(y)) is type(y)
