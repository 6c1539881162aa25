"""Conditions of protocol rules: a tiny expression language evaluated in three-valued logic.

A condition is data (frozen dataclasses) over the patient features of
:mod:`infantall.protocols.features`. It evaluates to True, False or None (unknown) with
Kleene's strong three-valued logic: ``and`` is False as soon as one part is False, ``or`` is
True as soon as one part is True, otherwise unknown parts make the result unknown. This is
what lets the engine answer "indeterminate" only when a missing field could change the
answer, and name exactly those fields; and it guarantees that adding information never
turns a known answer unknown (Kleene logic is monotone).

The same tree is evaluated per patient (:func:`evaluate`) and over NumPy arrays
(:func:`evaluate_arrays`, returning a pair of masks "definitely true", "definitely false").
Thresholds, operators and category sets may be :class:`Param` references resolved from the
protocol's named parameters (the conventions a seed leaves open).

Hand-written because no maintained library offers three-valued rule evaluation that is
both per-record and vectorised with "which unknown inputs matter" reporting.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = [
    "OPERATORS",
    "All",
    "Any_",
    "Cmp",
    "Condition",
    "In",
    "Not",
    "Param",
    "Truth",
    "describe",
    "evaluate",
    "evaluate_arrays",
    "fields_of",
    "missing_fields",
    "missing_fields_arrays",
]

Truth: TypeAlias = bool | None
BoolArray: TypeAlias = npt.NDArray[np.bool_]

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SYMBOL = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


@dataclass(frozen=True, slots=True)
class Param:
    """A reference to a named protocol parameter (resolved at evaluation time)."""

    name: str


@dataclass(frozen=True, slots=True)
class Cmp:
    """``field op value`` on a numeric feature; unknown when the feature is missing."""

    field: str
    op: str | Param
    value: float | Param


@dataclass(frozen=True, slots=True)
class In:
    """The categorical ``field`` is one of ``members``; unknown when the feature is unknown."""

    field: str
    members: tuple[str, ...] | Param


@dataclass(frozen=True, slots=True)
class All:
    """Every part holds (Kleene ``and``)."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    """At least one part holds (Kleene ``or``)."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The part does not hold."""

    part: Condition


Condition: TypeAlias = Cmp | In | All | Any_ | Not


def _resolve(value: Any, params: Mapping[str, Any]) -> Any:
    return params[value.name] if isinstance(value, Param) else value


def _leaf(cond: Cmp | In, features: Mapping[str, Any], params: Mapping[str, Any]) -> Truth:
    x = features.get(cond.field)
    if isinstance(cond, Cmp):
        if x is None:
            return None
        op = OPERATORS[_resolve(cond.op, params)]
        return bool(op(float(x), float(_resolve(cond.value, params))))
    if x is None or x == "unknown":
        return None
    return str(x) in _resolve(cond.members, params)


def evaluate(cond: Condition, features: Mapping[str, Any], params: Mapping[str, Any]) -> Truth:
    """Three-valued truth of ``cond`` for one patient's features."""
    if isinstance(cond, Cmp | In):
        return _leaf(cond, features, params)
    if isinstance(cond, Not):
        inner = evaluate(cond.part, features, params)
        return None if inner is None else not inner
    results = [evaluate(p, features, params) for p in cond.parts]
    decisive = isinstance(cond, Any_)  # the value that settles the combination
    if decisive in results:
        return decisive
    if None in results:
        return None
    return not decisive


def missing_fields(
    cond: Condition, features: Mapping[str, Any], params: Mapping[str, Any]
) -> list[str]:
    """The missing features that keep ``cond`` unknown (empty when it is known).

    Only the unknown parts of an unknown combination are followed: a part that is already
    decided cannot change the outcome, so its fields are not reported.
    """
    if evaluate(cond, features, params) is not None:
        return []
    if isinstance(cond, Cmp | In):
        return [cond.field]
    if isinstance(cond, Not):
        return missing_fields(cond.part, features, params)
    out: list[str] = []
    for part in cond.parts:
        for name in missing_fields(part, features, params):
            if name not in out:
                out.append(name)
    return out


def fields_of(cond: Condition) -> list[str]:
    """Every feature that ``cond`` reads, in order of appearance."""
    if isinstance(cond, Cmp | In):
        return [cond.field]
    parts = (cond.part,) if isinstance(cond, Not) else cond.parts
    out: list[str] = []
    for part in parts:
        out.extend(f for f in fields_of(part) if f not in out)
    return out


# --- vectorised ---------------------------------------------------------------------------


class ArrayFeatures:
    """Encoded features of many patients for :func:`evaluate_arrays`.

    ``numeric`` maps a feature to a float array (NaN = missing); ``categorical`` maps a
    feature to ``(codes, categories)`` with code -1 or the code of ``"unknown"`` = unknown.
    """

    __slots__ = ("categorical", "n", "numeric")

    def __init__(
        self,
        n: int,
        numeric: Mapping[str, npt.NDArray[np.float64]],
        categorical: Mapping[str, tuple[npt.NDArray[np.int16], tuple[str, ...]]],
    ) -> None:
        self.n = n
        self.numeric = dict(numeric)
        self.categorical = dict(categorical)


def _leaf_arrays(
    cond: Cmp | In, data: ArrayFeatures, params: Mapping[str, Any]
) -> tuple[BoolArray, BoolArray]:
    if isinstance(cond, Cmp):
        x = data.numeric.get(cond.field)
        if x is None:
            none = np.zeros(data.n, dtype=bool)
            return none, none.copy()
        known = ~np.isnan(x)
        with np.errstate(invalid="ignore"):
            hit = OPERATORS[_resolve(cond.op, params)](x, float(_resolve(cond.value, params)))
        return known & hit, known & ~hit
    entry = data.categorical.get(cond.field)
    if entry is None:
        none = np.zeros(data.n, dtype=bool)
        return none, none.copy()
    codes, categories = entry
    members = set(_resolve(cond.members, params))
    # Lookup tables indexed by code; the extra last slot is code -1 (missing).
    hit_table = np.array([c in members for c in categories] + [False])
    miss_table = np.array([c not in members and c != "unknown" for c in categories] + [False])
    return hit_table[codes], miss_table[codes]


Cache: TypeAlias = dict[Condition, tuple[BoolArray, BoolArray]]


def evaluate_arrays(
    cond: Condition,
    data: ArrayFeatures,
    params: Mapping[str, Any],
    cache: Cache | None = None,
) -> tuple[BoolArray, BoolArray]:
    """Masks (definitely true, definitely false) of ``cond`` over many patients.

    ``cache`` (a dict owned by the caller, for one ``data`` and ``params``) memoises shared
    sub-conditions.
    """
    if cache is not None and cond in cache:
        return cache[cond]
    result: tuple[BoolArray, BoolArray]
    if isinstance(cond, Cmp | In):
        result = _leaf_arrays(cond, data, params)
    elif isinstance(cond, Not):
        t, f = evaluate_arrays(cond.part, data, params, cache)
        result = (f, t)
    else:
        pairs = [evaluate_arrays(p, data, params, cache) for p in cond.parts]
        t, f = pairs[0]
        for t2, f2 in pairs[1:]:
            t, f = (t & t2, f | f2) if isinstance(cond, All) else (t | t2, f & f2)
        result = (t, f)
    if cache is not None:
        cache[cond] = result
    return result


def missing_fields_arrays(
    cond: Condition,
    data: ArrayFeatures,
    params: Mapping[str, Any],
    rows: BoolArray,
    out: dict[str, BoolArray],
    cache: Cache | None = None,
) -> None:
    """Vectorised :func:`missing_fields`: OR into ``out[field]`` the rows (within ``rows``)
    where ``field`` keeps ``cond`` unknown."""
    t, f = evaluate_arrays(cond, data, params, cache)
    rows = rows & ~t & ~f
    if not rows.any():
        return
    if isinstance(cond, Cmp | In):
        prev = out.get(cond.field)
        out[cond.field] = rows if prev is None else prev | rows
        return
    parts = (cond.part,) if isinstance(cond, Not) else cond.parts
    for part in parts:
        missing_fields_arrays(part, data, params, rows, out, cache)


# --- text ---------------------------------------------------------------------------------


def describe(cond: Condition, params: Mapping[str, Any]) -> str:
    """The condition as text, with parameter values substituted (e.g. ``age_days < 182.625``)."""
    if isinstance(cond, Cmp):
        op = _SYMBOL[_resolve(cond.op, params)]
        return f"{cond.field} {op} {float(_resolve(cond.value, params)):g}"
    if isinstance(cond, In):
        members = tuple(_resolve(cond.members, params))
        if len(members) == 1:
            return f"{cond.field} = {members[0]}"
        return f"{cond.field} in {{{', '.join(members)}}}"
    if isinstance(cond, Not):
        return f"not ({describe(cond.part, params)})"
    joiner = " and " if isinstance(cond, All) else " or "
    texts = [
        f"({describe(p, params)})" if isinstance(p, All | Any_) else describe(p, params)
        for p in cond.parts
    ]
    return joiner.join(texts)
