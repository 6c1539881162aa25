"""Disclosure control on a federation node: what may leave it, checked before anything does.

The rules (DataSHIELD's, whose default ``nfilter`` is 3):

* no patient-level row, ever: a payload holds sums, counts and model sums only, and no
  value of the node's patient identifiers (:func:`inspect_payload` looks at every string);
* no count (cell, risk set, group size, number of events) between 1 and ``nfilter - 1``;
  an empty cell (0) is allowed;
* event-time quantities only on a declared grid (:class:`~infantall.outcomes.aggregates.
  TimeGrid`) no finer than the node's policy allows.

A refusal (:class:`DisclosureRefusal`) says which rule and which variable, never the count
or the cell that failed, so a refusal itself reveals no small number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from infantall.errors import InfantallError

__all__ = [
    "COUNT_KEYS",
    "DEFAULT_NFILTER",
    "DisclosureRefusal",
    "check_counts",
    "inspect_payload",
]

#: DataSHIELD's default smallest releasable non-zero count.
DEFAULT_NFILTER = 3

#: Payload keys whose values are counts of patients (checked against ``nfilter``).
COUNT_KEYS = frozenset(
    {"n", "n_events", "counts", "n_risk", "n_event", "n_censor", "observed", "cells", "level_n"}
)


class DisclosureRefusal(InfantallError):
    """The node refuses to release a result; the message never contains the small count.

    Parameters
    ----------
    field
        What was refused (an analysis, a variable).
    reason
        The rule that refused it, in words a coordinator can act on.
    code
        ``small_cell`` (a count below nfilter), ``not_allowed`` (the node's policy),
        ``grid_too_fine``, ``patient_level`` or ``identifier``.
    """

    def __init__(self, field: str, reason: str, code: str) -> None:
        self.field = field
        self.reason = reason
        self.code = code
        super().__init__(f"{field}: {reason} [{code}]")

    def as_dict(self) -> dict[str, str]:
        """What the coordinator is told."""
        return {"field": self.field, "reason": self.reason, "code": self.code}


def _small(values: Any, nfilter: int) -> bool:
    arr = np.asarray(values, dtype=np.float64)
    return bool(((arr > 0) & (arr < nfilter)).any())


def check_counts(field: str, values: Any, nfilter: int) -> None:
    """Refuse (``small_cell``) when a count of ``values`` is between 1 and ``nfilter - 1``."""
    if _small(values, nfilter):
        raise DisclosureRefusal(
            field,
            f"a count would be below the node's nfilter ({nfilter}); ask for a coarser grid, "
            "fewer groups or another variable",
            "small_cell",
        )


def _walk(value: Any, key: str, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _walk(v, str(k), out)
    elif isinstance(value, list | tuple):
        if value and all(isinstance(v, Mapping) for v in value):
            for v in value:
                _walk(v, key, out)
        else:
            out.append((key, value))
    else:
        out.append((key, value))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def inspect_payload(payload: Mapping[str, Any], nfilter: int, identifiers: Iterable[str]) -> None:
    """Refuse a payload that breaks a rule: a small count under a count key, or any string
    equal to one of the node's patient ``identifiers``.

    This is the node's last gate (every release passes it) and what the property tests
    run on every payload of every analysis.
    """
    leaves: list[tuple[str, Any]] = []
    _walk(payload, "", leaves)
    for key, value in leaves:
        if key in COUNT_KEYS and value is not None:
            check_counts(key, value, nfilter)
    ids = {str(i) for i in identifiers}
    if ids and any(s in ids for s in _strings(payload)):
        raise DisclosureRefusal(
            "payload", "a patient identifier would leave the node", "identifier"
        )
