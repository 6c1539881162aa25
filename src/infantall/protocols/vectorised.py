"""Stratify a DataFrame of patients at once (NumPy), with the same answers as per patient."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from infantall.protocols.conditions import ArrayFeatures
from infantall.protocols.engine import resolve_params
from infantall.protocols.exact import decide_arrays
from infantall.protocols.features import CATEGORIES, encode_frame
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
    "reachable_groups",
    "flag_missing_fields",
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


def _bits_to_codes(bits: list[npt.NDArray[np.bool_]], n: int) -> npt.NDArray[np.int64]:
    """One integer per row whose bit ``i`` is ``bits[i]`` (packed in C by ``packbits``)."""
    import numpy as np

    if not bits:
        return np.zeros(n, dtype=np.int64)
    packed = np.packbits(np.stack(bits), axis=0, bitorder="little")
    codes: npt.NDArray[np.int64] = packed[0].astype(np.int64)
    for i in range(1, packed.shape[0]):
        codes |= packed[i].astype(np.int64) << (8 * i)
    return codes


def _encode(codes: npt.NDArray[np.int64], size: int, label: Any) -> pd.Categorical:
    """Categorical of ``label(code)`` for small non-negative integer ``codes`` < ``size``.

    Uses a bincount over the code space instead of sorting (codes are bit patterns of a
    dozen flags at most).
    """
    import numpy as np

    present = np.flatnonzero(np.bincount(codes, minlength=size))
    remap = np.full(size, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    return _categorical(remap[codes], [label(int(c)) for c in present])


def _labels(bits: list[npt.NDArray[np.bool_]], names: list[str], n: int) -> pd.Categorical:
    """Join, row by row, the names whose bit is set."""

    def label(code: int) -> str:
        return ";".join(names[i] for i in range(len(names)) if (code >> i) & 1)

    return _encode(_bits_to_codes(bits, n), 1 << len(names), label)


def _decide_frame(
    proto: Protocol, data: ArrayFeatures, params: Mapping[str, Any], index: pd.Index[Any]
) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    n = data.n
    result = decide_arrays(proto, data, params, CATEGORIES)
    group_rules = proto.group_rules
    chosen = result.group
    fallback = INDETERMINATE if group_rules else NOT_APPLICABLE
    groups = [r.group for r in group_rules] + [fallback]
    flag_names = [r.flag for r in proto.flag_rules]
    fired = [v == 1 for v in result.flags]
    order = list(proto.group_fields)
    zeros = np.zeros(n, dtype=bool)
    reach_bits = [(result.reachable >> i & 1).astype(bool) for i in range(len(group_rules))]
    return pd.DataFrame(
        {
            "protocol": _categorical(np.zeros(n, dtype=np.int8), [proto.id]),
            "version": _categorical(np.zeros(n, dtype=np.int8), [proto.version]),
            "group": _categorical(chosen, groups),
            "flags": _labels(fired, flag_names, n),
            "undetermined_flags": _labels([v == -1 for v in result.flags], flag_names, n),
            "fired_rules": _fired_rules(proto, chosen, fired, n),
            "missing_fields": _labels([result.missing.get(f, zeros) for f in order], order, n),
            "reachable_groups": _labels(reach_bits, groups[:-1], n),
            "flag_missing_fields": _flag_missing(proto, result.flag_missing, n),
        },
        index=index,
    )


def _flag_missing(
    proto: Protocol, masks: list[dict[str, npt.NDArray[np.bool_]]], n: int
) -> pd.Categorical:
    """``flag:field,field;flag:field`` per row (the fields that can decide each flag)."""
    bits: list[npt.NDArray[np.bool_]] = []
    names: list[tuple[str, str]] = []
    for rule, mask in zip(proto.flag_rules, masks, strict=True):
        for name, m in mask.items():
            bits.append(m)
            names.append((rule.flag, name))

    def label(code: int) -> str:
        out: dict[str, list[str]] = {}
        for i, (flag, name) in enumerate(names):
            if (code >> i) & 1:
                out.setdefault(flag, []).append(name)
        return ";".join(f"{flag}:{','.join(fields)}" for flag, fields in out.items())

    codes = _bits_to_codes(bits, n)
    if len(names) <= 20:
        return _encode(codes, 1 << len(names), label)
    return _encode_sparse(codes, label)


def _encode_sparse(codes: npt.NDArray[np.int64], label: Any) -> pd.Categorical:
    """Categorical of ``label(code)`` for arbitrary non-negative ``codes`` (by unique)."""
    import numpy as np

    present, inverse = np.unique(codes, return_inverse=True)
    return _categorical(inverse.reshape(-1), [label(int(c)) for c in present])


def _fired_rules(
    proto: Protocol, chosen: npt.NDArray[np.int64], fired: list[npt.NDArray[np.bool_]], n: int
) -> pd.Categorical:
    """``group rule id;flag rule ids`` per row, from one integer code per row."""
    group_ids = [r.id for r in proto.group_rules]
    flag_ids = [r.id for r in proto.flag_rules]
    width = len(flag_ids)

    def label(code: int) -> str:
        g = code >> width
        names = [group_ids[g]] if g < len(group_ids) else []
        names += [flag_ids[i] for i in range(width) if (code >> i) & 1]
        return ";".join(names)

    codes = (chosen << width) | _bits_to_codes(fired, n)
    return _encode(codes, (len(group_ids) + 1) << width, label)
