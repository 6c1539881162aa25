"""Generalisation of quasi-identifiers and k-anonymity by local recoding and suppression.

The quasi-identifiers of the pooled export are the site, the (shifted) diagnosis period, the
sex and the age at diagnosis (in classes or months): a reader who knows them of a child
could single the child out when few records share them. Records are grouped into
equivalence classes on these values; the records of a class with fewer than ``k`` records
climb one rung of :data:`LADDER` at a time — the age to the half-year (``<6m``, ``6-12m``),
the diagnosis year to its five-year period, then the period, the age and the sex
suppressed — and a record still in a class under ``k`` is left out. Suppressed values join
the class of unknown values (``None``). Afterwards every class holds at least ``k`` records
(Sweeney 2002, k-anonymity; local recoding and suppression as in sdcMicro's
``localSuppression``; the site is never touched).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AGE_CLASSES",
    "LADDER",
    "PERIOD_YEARS",
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
#: Width of the diagnosis period a year is generalised to (2015-2019, 2020-2024, ...).
PERIOD_YEARS = 5
_DAYS_PER_MONTH = 365.25 / 12


def _half_year(value: Any) -> Any:
    if value is None or value in ("<6m", "6-12m"):
        return value
    months = value if isinstance(value, int) else int(str(value).split("-")[0])
    return "<6m" if months < 6 else "6-12m"


def _period(value: Any) -> Any:
    if not isinstance(value, int):
        return value  # already a period, or unknown
    start = value - value % PERIOD_YEARS
    return f"{start}-{start + PERIOD_YEARS - 1}"


def _suppress(value: Any) -> Any:
    return None


#: Rungs climbed by the records of a class under k: (field, step, recoding, reason).
LADDER: tuple[tuple[str, str, Callable[[Any], Any], str], ...] = (
    ("age", "half_year", _half_year,
     "in an equivalence class of fewer than k patients: age generalised to <6m or 6-12m"),
    ("diagnosis_period", "five_years", _period,
     f"still in a class of fewer than k patients: the diagnosis year generalised to its "
     f"{PERIOD_YEARS}-year period and every date of the patient removed (days since "
     f"diagnosis kept)"),
    ("diagnosis_period", "suppressed", _suppress,
     "still in a class of fewer than k patients: the diagnosis period removed"),
    ("age", "suppressed", _suppress,
     "still in a class of fewer than k patients: the age removed"),
    ("sex", "suppressed", _suppress,
     "still in a class of fewer than k patients: the sex removed"),
)  # fmt: skip
_DROPPED = (
    "still in a class of fewer than k patients with period, age and sex removed: the "
    "patient and its events left out"
)


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
    """One rung of the ladder: which value, how (``step``), for how many patients, why."""

    field: str
    step: str
    patients: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the manifest."""
        return {
            "field": self.field,
            "step": self.step,
            "patients": self.patients,
            "reason": self.reason,
        }


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
    for field, step, recode, reason in (rung for rung in LADDER if rung[0] in qi):
        changed = 0
        for i in _small(out, qi, k):
            value = recode(out[i].get(field))
            if value != out[i].get(field):
                out[i][field] = value
                changed += 1
        if changed:
            steps.append(Suppression(field, step, changed, reason))
    dropped = set(_small(out, qi, k))
    if dropped:
        steps.append(Suppression("record", "left_out", len(dropped), _DROPPED))
    return [r for i, r in enumerate(out) if i not in dropped], steps
