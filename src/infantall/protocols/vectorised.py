"""Stratify a DataFrame of patients at once (NumPy), with the same answers as per patient."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from infantall.protocols.conditions import ArrayFeatures, evaluate_arrays, missing_fields_arrays
from infantall.protocols.engine import resolve_params
from infantall.protocols.features import encode_frame
from infantall.protocols.model import INDETERMINATE, NOT_APPLICABLE, Protocol
from infantall.protocols.registry import PROTOCOLS, get_protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = ["FRAME_COLUMNS", "stratify_frame", "stratify_frame_all"]

#: Columns of the frames returned by :func:`stratify_frame`; tuple-valued fields of a
#: :class:`~infantall.protocols.Decision` are joined with ``";"``.
FRAME_COLUMNS = (
    "protocol",
    "version",
    "group",
    "flags",
    "undetermined_flags",
    "fired_rules",
    "missing_fields",
)


def stratify_frame(
    df: pd.DataFrame,
    protocol: str | Protocol = "interfant-06",
    params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Stratify every row of ``df`` (one patient per row) under ``protocol``.

    Gives the same group, flags, fired rules and missing fields as
    :func:`infantall.protocols.stratify` on each patient (property-tested), as columns
    :data:`FRAME_COLUMNS` indexed like ``df``. The input columns are those of
    :func:`infantall.protocols.features.encode_frame`; rows are not validated beyond
    their types (validate records on import, e.g. with ``Patient.collect_errors``).
    """
    proto = get_protocol(protocol)
    return _decide_frame(proto, encode_frame(df), resolve_params(proto, params), df.index)


def stratify_frame_all(
    df: pd.DataFrame,
    protocols: Iterable[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`stratify_frame` under several protocols (default: all), encoding ``df`` once.

    ``params`` maps a protocol id to its parameter overrides.
    """
    data = encode_frame(df)
    out = {}
    for pid in protocols if protocols is not None else PROTOCOLS:
        proto = get_protocol(pid)
        values = resolve_params(proto, (params or {}).get(proto.id))
        out[proto.id] = _decide_frame(proto, data, values, df.index)
    return out


def _categorical(codes: npt.NDArray[Any], labels: list[str]) -> pd.Categorical:
    import numpy as np
    import pandas as pd

    categories = pd.Index(labels, dtype=object)
    return cast("pd.Categorical", pd.Categorical.from_codes(np.asarray(codes), categories))


def _labels(
    bits: list[npt.NDArray[np.bool_]], names: list[str], n: int, prefix: tuple[str, ...] = ()
) -> pd.Categorical:
    """Join, row by row, the names whose bit is set; via unique bit patterns (fast)."""
    import numpy as np

    codes = np.zeros(n, dtype=np.int64)
    for i, b in enumerate(bits):
        codes |= b.astype(np.int64) << i
    uniq, inverse = np.unique(codes, return_inverse=True)
    labels = [
        ";".join([*prefix, *(names[i] for i in range(len(names)) if (int(u) >> i) & 1)])
        for u in uniq
    ]
    return _categorical(inverse.reshape(-1), labels)


def _decide_frame(
    proto: Protocol, data: ArrayFeatures, params: Mapping[str, Any], index: pd.Index[Any]
) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    n = data.n
    group_rules = proto.group_rules
    chosen = np.full(n, -1, dtype=np.int64)
    for i, rule in enumerate(group_rules):
        t, _ = evaluate_arrays(rule.condition, data, params)
        chosen[(chosen == -1) & t] = i
    missing: dict[str, npt.NDArray[np.bool_]] = {}
    undecided = chosen == -1
    if group_rules and undecided.any():
        for rule in group_rules:
            missing_fields_arrays(rule.condition, data, params, undecided, missing)
    fallback = INDETERMINATE if group_rules else NOT_APPLICABLE
    groups = [r.group for r in group_rules] + [fallback]
    group = _categorical(np.where(undecided, len(group_rules), chosen), groups)
    flag_rules = proto.flag_rules
    truths = [evaluate_arrays(r.condition, data, params) for r in flag_rules]
    fired = [t for t, _ in truths]
    unknown = [~t & ~f for t, f in truths]
    fired_rules = _fired_rules(proto, chosen, fired, n)
    order = list(proto.group_fields)
    frame = pd.DataFrame(
        {
            "protocol": _categorical(np.zeros(n, dtype=np.int8), [proto.id]),
            "version": _categorical(np.zeros(n, dtype=np.int8), [proto.version]),
            "group": group,
            "flags": _labels(fired, [r.flag for r in flag_rules], n),
            "undetermined_flags": _labels(unknown, [r.flag for r in flag_rules], n),
            "fired_rules": fired_rules,
            "missing_fields": _labels(
                [missing.get(f, np.zeros(n, dtype=bool)) for f in order], order, n
            ),
        },
        index=index,
    )
    return frame


def _fired_rules(
    proto: Protocol, chosen: npt.NDArray[np.int64], fired: list[npt.NDArray[np.bool_]], n: int
) -> pd.Categorical:
    import numpy as np

    flag_ids = [r.id for r in proto.flag_rules]
    parts: list[tuple[str, ...]] = []
    index = np.zeros(n, dtype=np.int64)
    for i, rule in enumerate(proto.group_rules):
        sel = chosen == i
        index[sel] = len(parts)
        parts.append((rule.id,))
    none = chosen == -1
    index[none] = len(parts)
    parts.append(())
    pieces: list[list[str]] = []
    codes = np.empty(n, dtype=np.int64)
    for k, prefix in enumerate(parts):
        rows = index == k
        if not rows.any():
            continue
        sub = _labels([b[rows] for b in fired], flag_ids, int(rows.sum()), prefix)
        offset = sum(len(p) for p in pieces)
        codes[rows] = np.asarray(sub.codes, dtype=np.int64) + offset
        pieces.append([str(c) for c in sub.categories])
    return _categorical(codes, [c for p in pieces for c in p])
