"""Validation of the plain arrays every analysis in :mod:`infantall.outcomes` accepts.

Each check raises :class:`~infantall.errors.InvalidInputError` naming the field, the reason
and a stable code (listed in :data:`ERROR_CODES`), or issues an
:class:`OutcomesWarning` for data that are analysable but worth a second look.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from infantall.errors import InfantallWarning, InvalidInputError

__all__ = [
    "ERROR_CODES",
    "WARNING_CODES",
    "OutcomesWarning",
    "as_entry",
    "as_event",
    "as_groups",
    "as_time",
    "as_weights",
    "check_groups",
    "warn_counts",
    "warn_groups",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ERROR_CODES: dict[str, str] = {
    "missing_time": "a time is missing (NaN or empty)",
    "negative_time": "a time is negative",
    "non_numeric_time": "times are not numbers",
    "bad_event_code": "an event/status code is outside the allowed set",
    "missing_event": "an event/status code is missing",
    "bad_group": "a group value is not among the declared groups (federated aggregates)",
    "no_nodes": "no federation node contributed to an aggregate analysis",
    "bad_grid": "a time grid's width or horizon is not a positive number of days",
    "length_mismatch": "arrays of one analysis have different lengths",
    "empty_data": "there are no observations",
    "too_few_groups": "a comparison needs at least two groups",
    "entry_after_exit": "a delayed-entry time is not before the exit time",
    "missing_group": "a group label is missing",
    "non_numeric_covariate": "a Cox/Fine-Gray covariate is not numeric",
    "missing_covariate": "a covariate value is missing",
    "collinear_covariates": "covariates are collinear (the information matrix is singular)",
    "no_events": "there are no events, so the model or test is not estimable",
    "bad_horizon": "a horizon/landmark/tau is not a positive number",
    "bad_conf_type": "unknown confidence-interval type",
    "bad_option": "an option has a value outside its allowed set",
    "unknown_column": "a named column is not in the data",
    "bad_weight": "a case weight is missing, not a number, or not > 0",
    "not_estimable": "the model cannot be estimated on these data (singular information)",
}

# codes carried by OutcomesWarning (analysable data, but the result needs a second look)
WARNING_CODES: dict[str, str] = {
    "single_patient_group": "a group has a single patient",
    "all_censored_group": "a group has no events (all censored)",
    "monotone_likelihood": "a coefficient diverges (monotone likelihood); the fit did not converge",
}


class OutcomesWarning(InfantallWarning):
    """Analysable data that deserve attention (all-censored group, one-patient group, ...).

    ``code`` is one of :data:`WARNING_CODES`.
    """

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(f"{message} [{code}]" if code else message)
        self.code = code


def as_time(values: Any, field: str = "time") -> FloatArray:
    """Return ``values`` as a float64 array of non-negative, non-missing times."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(field, "times must be numbers", "non_numeric_time") from exc
    arr = np.atleast_1d(arr)
    if arr.size == 0:
        raise InvalidInputError(field, "there are no observations", "empty_data")
    if arr.min() >= 0:  # one pass for the usual case (NaN makes min NaN and fails it)
        return arr
    if np.isnan(arr).any():
        n = int(np.isnan(arr).sum())
        raise InvalidInputError(
            field, f"{n} time(s) are missing; drop or impute them first", "missing_time"
        )
    if (arr < 0).any():
        first = float(arr[arr < 0][0])
        raise InvalidInputError(field, f"times must be >= 0, found {first:g}", "negative_time")
    return arr


def as_event(
    values: Any, n: int, allowed: Sequence[int] = (0, 1), field: str = "event"
) -> IntArray:
    """Return event codes as int64, checking length, missingness and the allowed set."""
    raw = np.atleast_1d(np.asarray(values))
    if raw.shape[0] != n:
        raise InvalidInputError(
            field, f"has {raw.shape[0]} values but time has {n}", "length_mismatch"
        )
    if raw.dtype == bool:
        raw = raw.astype(np.int64)
    allowed_arr = np.unique(np.asarray(allowed, dtype=np.int64))
    lo, hi = int(allowed_arr[0]), int(allowed_arr[-1])
    contiguous = allowed_arr.shape[0] == hi - lo + 1
    if np.issubdtype(raw.dtype, np.integer) and contiguous and raw.size:
        # integer codes of a contiguous set: two reductions, no copy (the common case)
        codes = raw.astype(np.int64, copy=False)
        if codes.min() >= lo and codes.max() <= hi:
            return codes
    try:
        fl = raw.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            field, f"codes must be integers in {sorted(allowed)}", "bad_event_code"
        ) from exc
    if np.isnan(fl).any():
        raise InvalidInputError(field, "an event code is missing", "missing_event")
    codes = fl.astype(np.int64)
    if contiguous:
        bad = (codes != fl) | (codes < lo) | (codes > hi)
    else:
        bad = (codes != fl) | ~np.isin(codes, allowed_arr)
    if bad.any():
        raise InvalidInputError(
            field,
            f"code {fl[bad][0]:g} is not allowed; use {sorted(allowed)}",
            "bad_event_code",
        )
    return codes


def as_entry(values: Any, time: FloatArray, field: str = "entry") -> FloatArray:
    """Delayed-entry (left-truncation) times: non-negative and strictly before the exit time."""
    entry = as_time(values, field)
    if entry.shape[0] != time.shape[0]:
        raise InvalidInputError(
            field, f"has {entry.shape[0]} values but time has {time.shape[0]}", "length_mismatch"
        )
    if (entry >= time).any():
        raise InvalidInputError(
            field, "each entry time must be strictly before its exit time", "entry_after_exit"
        )
    return entry


def as_groups(values: Any, n: int, field: str = "group") -> tuple[list[str], IntArray]:
    """Group labels as (sorted labels, integer codes 0..k-1).

    A pandas Categorical keeps its category order (used as the order of a trend test).
    """
    fast = _integer_groups(values, n)
    if fast is not None:
        return fast
    ser = pd.Series(values) if not isinstance(values, pd.Series) else values.reset_index(drop=True)
    if len(ser) != n:
        raise InvalidInputError(field, f"has {len(ser)} values but time has {n}", "length_mismatch")
    if ser.isna().any():
        raise InvalidInputError(field, "a group label is missing", "missing_group")
    if isinstance(ser.dtype, pd.CategoricalDtype):
        cats = [c for c in ser.cat.categories if (ser == c).any()]
        empty = [str(c) for c in ser.cat.categories if c not in cats]
        if empty:
            warnings.warn(
                f"{field} {', '.join(map(repr, empty))} has no observations; left out",
                OutcomesWarning,
                stacklevel=3,
            )
        labels = [str(c) for c in cats]
        codes = np.asarray(pd.Categorical(ser, categories=cats).codes, dtype=np.int64)
        return labels, codes
    # hash-based factorisation (O(n)); the labels come out sorted
    mixed = False
    try:
        codes, uniq = pd.factorize(ser, sort=True)
    except TypeError:  # labels of mixed types (1 and "a") do not sort together
        codes, uniq = pd.factorize(ser, sort=False)
        mixed = True
    labels = [_label(u) for u in uniq]
    if mixed or len(set(labels)) < len(labels):
        # labels such as 1 and "1" print the same: one group, as R's factor() of the text
        labels, remap = _merge_labels(labels)
        codes = remap[codes]
    return labels, np.asarray(codes, dtype=np.int64)


def _integer_groups(values: Any, n: int) -> tuple[list[str], IntArray] | None:
    """Integer labels in a moderate range: codes by a counting table in O(n), no hashing.

    Same labels and codes as the factorisation below (integers sort numerically).
    """
    if not isinstance(values, np.ndarray | pd.Series) or not isinstance(values.dtype, np.dtype):
        return None
    if values.dtype == bool or values.ndim != 1:
        return None
    if not np.issubdtype(values.dtype, np.integer) or values.shape[0] != n or n == 0:
        return None
    v = np.asarray(values).astype(np.int64, copy=False)
    lo = int(v.min())
    if int(v.max()) - lo > 4 * n + 1_000_000:
        return None
    d = v - lo if lo != 0 else v
    present = np.bincount(d) > 0
    labels = [str(int(x) + lo) for x in np.flatnonzero(present)]
    if present.all():  # labels lo, lo+1, ...: the code is the offset
        return labels, np.asarray(d, dtype=np.int64)
    compact = np.cumsum(present) - 1
    return labels, np.asarray(compact[d], dtype=np.int64)


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _merge_labels(labels: list[str]) -> tuple[list[str], IntArray]:
    """Distinct printed labels in order (numbers first, by value) and old code -> new code."""
    merged = sorted(set(labels), key=_sort_key)
    where = {lab: i for i, lab in enumerate(merged)}
    return merged, np.asarray([where[lab] for lab in labels], dtype=np.int64)


def _label(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def check_groups(labels: Sequence[str], codes: IntArray, event: IntArray, field: str) -> None:
    """Reject fewer than two groups; warn about all-censored or single-patient groups."""
    if len(labels) < 2:
        raise InvalidInputError(
            field, f"needs at least two groups, found {len(labels)}", "too_few_groups"
        )
    warn_groups(labels, codes, event, field)


def warn_groups(labels: Sequence[str], codes: IntArray, event: IntArray, field: str) -> None:
    """Warn (:class:`OutcomesWarning`) about all-censored or single-patient groups."""
    k = len(labels)
    both = np.bincount(codes * 2 + (event > 0), minlength=2 * k).reshape(k, 2)
    warn_counts(labels, both.sum(axis=1), both[:, 1], field)


def warn_counts(labels: Sequence[str], sizes: Any, events: Any, field: str) -> None:
    """:func:`warn_groups` from per-group numbers of patients and of events."""
    for label, size, ev in zip(labels, sizes, events, strict=True):
        if size == 1:
            warnings.warn(
                OutcomesWarning(
                    f"{field} {label!r} has a single patient; its estimates are unstable",
                    "single_patient_group",
                ),
                stacklevel=4,
            )
        if ev == 0:
            warnings.warn(
                OutcomesWarning(
                    f"{field} {label!r} has no events (all censored)", "all_censored_group"
                ),
                stacklevel=4,
            )


def as_weights(values: Any, n: int, field: str = "weights") -> FloatArray:
    """Case weights: numbers, none missing, all > 0 (R: "Invalid weights, must be >0")."""
    raw = np.atleast_1d(np.asarray(values))
    if raw.shape[0] != n:
        raise InvalidInputError(
            field, f"has {raw.shape[0]} values but time has {n}", "length_mismatch"
        )
    if raw.dtype == bool or not (np.issubdtype(raw.dtype, np.number) or raw.dtype == object):
        raise InvalidInputError(field, "weights must be numbers", "bad_weight")
    try:
        w = raw.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(field, "weights must be numbers", "bad_weight") from exc
    if not np.isfinite(w).all():
        raise InvalidInputError(field, "a weight is missing or infinite", "bad_weight")
    if (w <= 0).any():
        raise InvalidInputError(
            field, f"weights must be > 0, found {float(w[w <= 0][0]):g}", "bad_weight"
        )
    return w
