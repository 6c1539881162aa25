"""Generalisation of quasi-identifiers and k-anonymity by local suppression.

The quasi-identifiers of the pooled export are the site, the (shifted) year of diagnosis,
the sex and the age at diagnosis (in classes or months): a reader who knows them of a
child could single the child out when few records share them. Records are grouped into
equivalence classes on these values; in a class with fewer than ``k`` records the year of
diagnosis is suppressed first (its dates are then given as days since diagnosis only),
then the age, then the sex, and a record still in a class under ``k`` is left out.
Suppressed values join the class of unknown values (``None``). Afterwards every class
holds at least ``k`` records (Sweeney 2002, k-anonymity; local suppression as in
sdcMicro's ``localSuppression``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AGE_CLASSES",
    "SUPPRESSION_ORDER",
    "WBC_CLASSES",
    "Suppression",
    "age_class",
    "age_months",
    "anonymise",
    "equivalence_classes",
    "wbc_class",
]

#: Age classes at diagnosis: lower bound in completed months and label (the Interfant
#: protocols split at 6 months; the classes halve each side again).
AGE_CLASSES: tuple[tuple[int, str], ...] = ((0, "0-2m"), (3, "3-5m"), (6, "6-8m"), (9, "9-12m"))
#: WBC classes at diagnosis (10⁹/L): lower bound and label (Interfant's 300 threshold).
WBC_CLASSES: tuple[tuple[float, str], ...] = (
    (0.0, "<50"),
    (50.0, "50-<100"),
    (100.0, "100-<300"),
    (300.0, ">=300"),
)
#: Quasi-identifiers suppressed in a class under k, in this order (the site is never).
SUPPRESSION_ORDER = ("diagnosis_year", "age", "sex")
_DAYS_PER_MONTH = 365.25 / 12
_REASONS = {
    "diagnosis_year": "in an equivalence class of fewer than k patients: the year of "
    "diagnosis and every date of the patient removed (days since diagnosis kept)",
    "age": "still in a class of fewer than k patients: the age class removed",
    "sex": "still in a class of fewer than k patients: the sex removed",
    "record": "still in a class of fewer than k patients with the year, age and sex "
    "removed: the patient and its events left out",
}


def age_months(age_days: int | None) -> int | None:
    """Completed months of an age in days (a month is 365.25 / 12 days)."""
    return None if age_days is None else math.floor(age_days / _DAYS_PER_MONTH)


def age_class(age_days: int | None) -> str | None:
    """The age class (:data:`AGE_CLASSES`) of an age in days."""
    months = age_months(age_days)
    if months is None:
        return None
    return [label for bound, label in AGE_CLASSES if months >= bound][-1]


def wbc_class(wbc: float | None) -> str | None:
    """The WBC class (:data:`WBC_CLASSES`) of a count in 10⁹/L."""
    if wbc is None or (isinstance(wbc, float) and math.isnan(wbc)):
        return None
    return [label for bound, label in WBC_CLASSES if wbc >= bound][-1]


@dataclass(frozen=True, slots=True)
class Suppression:
    """One step of the suppression: which value, for how many patients, and why."""

    field: str
    patients: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the manifest."""
        return {"field": self.field, "patients": self.patients, "reason": self.reason}


def _key(record: dict[str, Any], qi: Sequence[str]) -> tuple[Any, ...]:
    return tuple(record.get(q) for q in qi)


def equivalence_classes(records: Sequence[dict[str, Any]], qi: Sequence[str]) -> Counter[Any]:
    """Size of each equivalence class (tuple of the ``qi`` values) of ``records``."""
    return Counter(_key(r, qi) for r in records)


def _small(records: Sequence[dict[str, Any]], qi: Sequence[str], k: int) -> list[int]:
    sizes = equivalence_classes(records, qi)
    return [i for i, r in enumerate(records) if sizes[_key(r, qi)] < k]


def anonymise(
    records: Sequence[dict[str, Any]], qi: Sequence[str], k: int
) -> tuple[list[dict[str, Any]], list[Suppression]]:
    """Records (copies) whose every equivalence class on ``qi`` holds at least ``k``
    records, and the suppression steps taken (a step that changed nothing is left out).

    Each record keeps its other keys (e.g. the pseudonym); a suppressed value is ``None``.
    """
    out = [dict(r) for r in records]
    steps: list[Suppression] = []
    for field in (f for f in SUPPRESSION_ORDER if f in qi):
        changed = 0
        for i in _small(out, qi, k):
            if out[i].get(field) is not None:
                out[i][field] = None
                changed += 1
        if changed:
            steps.append(Suppression(field, changed, _REASONS[field]))
    dropped = set(_small(out, qi, k))
    if dropped:
        steps.append(Suppression("record", len(dropped), _REASONS["record"]))
    return [r for i, r in enumerate(out) if i not in dropped], steps
