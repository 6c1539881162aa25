"""Exact three-valued decisions: determinate whenever every completion agrees.

Kleene's three-valued logic (:func:`~infantall.protocols.conditions.evaluate_arrays`) is
sound but not complete: it cannot see that ``X or (not X and True)`` is true when ``X`` is
unknown. An Interfant-06 KMT2A-r infant of 100 days with the day-8 response missing and MRD
1e-3 after consolidation is HSCT-eligible whichever group it falls in, yet Kleene leaves the
flag unknown. This module decides exactly, by case splitting over the missing inputs that
the rules read:

- a categorical feature is split over its known values (every choice except ``unknown``);
- a numeric feature is split at the rule thresholds: one value at each threshold and one
  inside each interval between thresholds and the domain bounds (integer features such as
  ``age_days`` at the integers next to each threshold), which is every distinct answer the
  comparisons ``<``, ``<=``, ``>``, ``>=`` can give.

An outcome (the group, or one flag) is determinate iff it is the same on every completion;
the reachable outcomes are those of the completions; a missing field *can change the
answer* iff, for some setting of the other missing fields, two of its values give different
outcomes (the field's axis of the completion grid is not constant). Both the per-patient
and the vectorised engine call :func:`exact_outcomes`, so they agree by construction.

Rows are first decided by Kleene logic (sound, so a known Kleene answer is the exact
answer); only the others are split. Those are deduplicated by their *profile* (which side of
every threshold each known value lies, and which fields are missing), so the work is bounded
by the number of distinct profiles, not the number of patients.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from infantall.domain import INFANT_MAX_AGE_DAYS, MAX_BLASTS_PER_UL, MAX_WBC, MRD_MAX, MRD_MIN
from infantall.protocols.conditions import (
    All,
    Any_,
    ArrayFeatures,
    Cmp,
    Condition,
    Not,
    evaluate_arrays,
    fields_of,
)
from infantall.protocols.model import Protocol

__all__ = [
    "NUMERIC_BOUNDS",
    "ArrayDecision",
    "ExactOutcome",
    "decide_arrays",
    "exact_outcomes",
    "first_true",
    "missing_mask",
    "numeric_representatives",
    "thresholds_of",
]

IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
#: Computes an outcome code (>= 0) per row of features complete in the fields of interest.
Outcome: TypeAlias = Callable[[ArrayFeatures], IntArray]

#: (lower, upper, integer) bounds of numeric features: the domain of their completions
#: (``infantall.domain.bounds``). MRD features share the MRD bounds.
NUMERIC_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "age_days": (0.0, float(INFANT_MAX_AGE_DAYS), True),
    "wbc": (0.0, MAX_WBC, False),
    "day8_blasts": (0.0, MAX_BLASTS_PER_UL, False),
    "cr_to_hsct_days": (-36_525.0, 36_525.0, True),
}
_MRD_BOUNDS = (MRD_MIN, MRD_MAX, False)
#: Rows x completions evaluated at once (bounds memory).
_CHUNK = 400_000


@dataclass(frozen=True, slots=True)
class ExactOutcome:
    """Exact answer per row: ``value`` (-1 when indeterminate), ``reachable`` (bit ``k`` set
    when outcome ``k`` is reachable) and ``relevant[f]`` (field ``f`` can change it)."""

    value: IntArray
    reachable: IntArray
    relevant: dict[str, BoolArray]


def thresholds_of(conds: Sequence[Condition], params: Mapping[str, Any]) -> dict[str, list[float]]:
    """Numeric feature -> sorted thresholds that the conditions compare it with."""
    out: dict[str, set[float]] = {}

    def walk(cond: Condition) -> None:
        if isinstance(cond, Cmp):
            value = cond.value
            t = float(params[value.name]) if not isinstance(value, int | float) else float(value)
            out.setdefault(cond.field, set()).add(t)
        elif isinstance(cond, Not):
            walk(cond.part)
        elif isinstance(cond, All | Any_):
            for part in cond.parts:
                walk(part)

    for c in conds:
        walk(c)
    return {k: sorted(v) for k, v in out.items()}


def _bounds(name: str) -> tuple[float, float, bool]:
    if name.startswith("mrd_"):
        return _MRD_BOUNDS
    return NUMERIC_BOUNDS.get(name, (-math.inf, math.inf, False))


def numeric_representatives(name: str, thresholds: Sequence[float]) -> list[float]:
    """One value of ``name`` per distinct answer of comparisons with ``thresholds``."""
    lo, hi, integer = _bounds(name)
    if integer:
        points = {lo, hi}
        for t in thresholds:
            points.update({math.floor(t) - 1, math.floor(t), math.ceil(t), math.ceil(t) + 1})
        return sorted(float(p) for p in points if lo <= p <= hi)
    inside = sorted({t for t in thresholds if lo <= t <= hi})
    below = lo if math.isfinite(lo) else (inside[0] - 1.0 if inside else 0.0)
    above = hi if math.isfinite(hi) else (inside[-1] + 1.0 if inside else 0.0)
    edges = sorted({below, *inside, above})
    mids = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    return sorted({*edges, *mids})


def missing_mask(data: ArrayFeatures, name: str) -> BoolArray:
    """Rows where feature ``name`` is missing (NaN, code -1, ``unknown`` or no column)."""
    if name in data.numeric:
        return np.isnan(data.numeric[name])
    if name in data.categorical:
        codes, categories = data.categorical[name]
        unknown = categories.index("unknown") if "unknown" in categories else -1
        out: BoolArray = (codes == -1) | (codes == unknown)
        return out
    return np.ones(data.n, dtype=bool)


def _region_codes(data: ArrayFeatures, name: str, cuts: list[float]) -> IntArray:
    """Which side of every threshold each value lies (numeric) or the category code."""
    if name in data.numeric:
        x = data.numeric[name]
        t = np.asarray(cuts, dtype=np.float64)
        left = np.searchsorted(t, x, side="left")
        right = np.searchsorted(t, x, side="right")
        return np.asarray(left + right, dtype=np.int64)
    if name in data.categorical:
        return data.categorical[name][0].astype(np.int64)
    return np.zeros(data.n, dtype=np.int64)


def _profile_codes(
    data: ArrayFeatures,
    fields: Sequence[str],
    rows: IntArray,
    cuts: Mapping[str, list[float]],
    categories: Mapping[str, tuple[str, ...]],
) -> tuple[list[IntArray], IntArray]:
    """Per field, the region (or category) code of each row, -1 when missing; and the
    missing pattern (bit ``i`` set when field ``i`` is missing)."""
    pattern = np.zeros(rows.size, dtype=np.int64)
    codes = []
    for i, f in enumerate(fields):
        miss = missing_mask(data, f)[rows]
        codes.append(np.where(miss, -1, _region_codes(data, f, cuts.get(f, []))[rows]))
        pattern |= miss.astype(np.int64) << i
    return codes, pattern


def _combine(
    codes: list[IntArray],
    fields: Sequence[str],
    cuts: Mapping[str, list[float]],
    categories: Mapping[str, tuple[str, ...]],
) -> IntArray:
    """One integer per row identifying its profile (mixed radix over the field codes)."""
    sizes = [
        len(categories[f]) + 1 if f in categories else 2 * len(cuts.get(f, [])) + 2 for f in fields
    ]
    if math.prod(sizes) >= 2**62:
        stacked = np.stack(codes, axis=1)
        _, key = np.unique(stacked, axis=0, return_inverse=True)
        return np.asarray(key.reshape(-1), dtype=np.int64)
    key = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    for c, size in zip(codes, sizes, strict=True):
        key = key * size + (c + 1)
    return key


def _domain(
    name: str, cuts: Mapping[str, list[float]], categories: Mapping[str, tuple[str, ...]]
) -> list[Any]:
    if name in categories:
        return [i for i, c in enumerate(categories[name]) if c != "unknown"]
    return numeric_representatives(name, cuts.get(name, []))


def exact_outcomes(
    data: ArrayFeatures,
    fields: Sequence[str],
    outcome: Outcome,
    undecided: BoolArray,
    kleene_value: IntArray,
    cuts: Mapping[str, list[float]],
    categories: Mapping[str, tuple[str, ...]],
) -> ExactOutcome:
    """Exact outcome of every row.

    ``kleene_value`` is the outcome of rows already decided (sound three-valued logic);
    rows in ``undecided`` are split over their missing ``fields`` (domains from ``cuts``
    for numeric features, ``categories`` for categorical ones).
    """
    n = data.n
    value = np.where(undecided, -1, kleene_value).astype(np.int64)
    reachable = np.where(undecided, 0, np.left_shift(1, np.maximum(kleene_value, 0)))
    relevant = {f: np.zeros(n, dtype=bool) for f in fields}
    rows = np.flatnonzero(undecided)
    if rows.size == 0:
        return ExactOutcome(value, reachable.astype(np.int64), relevant)
    codes, pattern = _profile_codes(data, fields, rows, cuts, categories)
    key = _combine(codes, fields, cuts, categories)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    uniq_pattern = pattern[first]
    u_value = np.full(len(first), -1, dtype=np.int64)
    u_reach = np.zeros(len(first), dtype=np.int64)
    u_relevant = {f: np.zeros(len(first), dtype=bool) for f in fields}
    for pat in np.unique(uniq_pattern):
        members = np.flatnonzero(uniq_pattern == pat)
        miss = [f for i, f in enumerate(fields) if (int(pat) >> i) & 1]
        domains = [_domain(f, cuts, categories) for f in miss]
        sample = rows[first[members]]
        out = (u_value, u_reach, u_relevant)
        _split(data, sample, miss, domains, outcome, fields, categories, members, out)
    value[rows] = u_value[inverse]
    reachable[rows] = u_reach[inverse]
    for f in fields:
        relevant[f][rows] = u_relevant[f][inverse]
    return ExactOutcome(value, reachable.astype(np.int64), relevant)


def _split(
    data: ArrayFeatures,
    sample: IntArray,
    miss: list[str],
    domains: list[list[Any]],
    outcome: Outcome,
    fields: Sequence[str],
    categories: Mapping[str, tuple[str, ...]],
    members: IntArray,
    out: tuple[IntArray, IntArray, dict[str, BoolArray]],
) -> None:
    """Evaluate every completion of the ``sample`` rows (one per profile) over ``miss``."""
    u_value, u_reach, u_relevant = out
    dims = [len(d) for d in domains]
    grid = int(np.prod(dims)) if dims else 1
    step = max(1, _CHUNK // grid)
    for start in range(0, len(sample), step):
        part = sample[start : start + step]
        k = len(part)
        expanded = _expand(data, part, miss, domains, dims, fields, categories)
        codes = outcome(expanded).reshape(k, *dims) if dims else outcome(expanded).reshape(k)
        flat = codes.reshape(k, -1)
        same = (flat == flat[:, :1]).all(axis=1)
        idx = members[start : start + step]
        u_value[idx] = np.where(same, flat[:, 0], -1)
        u_reach[idx] = np.bitwise_or.reduce(np.left_shift(1, flat), axis=1)
        for axis, f in enumerate(miss, start=1):
            varies = (codes != codes.take([0], axis=axis)).reshape(k, -1).any(axis=1)
            u_relevant[f][idx] = varies


def _expand(
    data: ArrayFeatures,
    part: IntArray,
    miss: list[str],
    domains: list[list[Any]],
    dims: list[int],
    fields: Sequence[str],
    categories: Mapping[str, tuple[str, ...]],
) -> ArrayFeatures:
    """Rows ``part`` repeated once per completion, the missing fields set from the grid."""
    grid = int(np.prod(dims)) if dims else 1
    k = len(part)
    numeric: dict[str, npt.NDArray[np.float64]] = {}
    categorical: dict[str, tuple[npt.NDArray[np.int16], tuple[str, ...]]] = {}
    mesh = np.indices(dims).reshape(len(dims), -1) if dims else np.zeros((0, 1), np.int64)
    for f in fields:
        if f in miss:
            j = miss.index(f)
            values = np.asarray(domains[j])[mesh[j]]
            column = np.tile(values, k)
        elif f in categories:
            column = np.repeat(data.categorical[f][0][part], grid)
        else:
            column = np.repeat(data.numeric[f][part], grid)
        if f in categories:
            categorical[f] = (column.astype(np.int16), categories[f])
        else:
            numeric[f] = column.astype(np.float64)
    return ArrayFeatures(k * grid, numeric, categorical)


def first_true(conds: Sequence[Condition], params: Mapping[str, Any]) -> Outcome:
    """Outcome: index of the first condition that holds (``len(conds)`` when none does)."""

    def run(data: ArrayFeatures) -> IntArray:
        chosen = np.full(data.n, len(conds), dtype=np.int64)
        for i in reversed(range(len(conds))):
            t, _ = evaluate_arrays(conds[i], data, params)
            chosen[t] = i
        return chosen

    return run


@dataclass(frozen=True, slots=True)
class ArrayDecision:
    """Exact decisions of one protocol for many rows.

    ``group`` is the index of the group rule that holds on every completion (``len`` of the
    group rules when indeterminate or when the protocol has no groups); ``reachable`` has bit
    ``i`` set when group rule ``i`` holds on some completion; ``missing[f]`` marks the rows
    where field ``f`` can change the group. ``flags[j]`` is 1 (raised), 0 (not raised) or -1
    (undetermined) for flag rule ``j``; ``flag_missing[j][f]`` marks where ``f`` can change it.
    """

    group: IntArray
    reachable: IntArray
    missing: dict[str, BoolArray]
    flags: list[IntArray]
    flag_missing: list[dict[str, BoolArray]]


def decide_arrays(
    protocol: Protocol,
    data: ArrayFeatures,
    params: Mapping[str, Any],
    categories: Mapping[str, tuple[str, ...]],
) -> ArrayDecision:
    """Exact group and flags of every row of ``data`` under ``protocol``."""
    n = data.n
    conds = [r.condition for r in protocol.rules]
    cuts = thresholds_of(conds, params)
    group_conds = [r.condition for r in protocol.group_rules]
    if group_conds:
        kleene = first_true(group_conds, params)(data)
        undecided = kleene == len(group_conds)
        fields = list(protocol.group_fields)
        res = exact_outcomes(
            data, fields, first_true(group_conds, params), undecided, kleene, cuts, categories
        )
        group = np.where(res.value < 0, len(group_conds), res.value)
        reachable = res.reachable & ((1 << len(group_conds)) - 1)
        missing = {f: res.relevant[f] & (res.value < 0) for f in fields}
    else:
        group = np.zeros(n, dtype=np.int64)
        reachable = np.zeros(n, dtype=np.int64)
        missing = {}
    flags: list[IntArray] = []
    flag_missing: list[dict[str, BoolArray]] = []
    for rule in protocol.flag_rules:
        t, f = evaluate_arrays(rule.condition, data, params)
        kleene = np.where(t, 0, 1).astype(np.int64)
        outcome = first_true([rule.condition], params)
        fields = fields_of(rule.condition)
        res = exact_outcomes(data, fields, outcome, ~t & ~f, kleene, cuts, categories)
        flags.append(np.where(res.value < 0, -1, 1 - res.value).astype(np.int64))
        flag_missing.append({k: v & (res.value < 0) for k, v in res.relevant.items()})
    return ArrayDecision(group.astype(np.int64), reachable, missing, flags, flag_missing)
