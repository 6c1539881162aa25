"""De-identification shared by every pseudonymised output of the registry.

One per-patient date shift, derived with HMAC-SHA-256 from the server's pseudonym key and
the patient's registry id, is applied to every date of the patient in every pseudonymised
output (the coordinator's histories and analysis dataset, the pooled export), so that
joining two outputs on the pseudonym reveals nothing: the dates agree. The shift is drawn
uniformly from ``[-max_days, -1] ∪ [1, max_days]`` (never zero, both directions), so the
shifted diagnosis year is the true one for only about three quarters of the patients and
an interval between two dates of a patient is kept exactly.

Generalisation of the quasi-identifiers (age in classes or months, WBC in classes) and the
k-anonymity suppression of the pooled export are in :mod:`infantall.registry.kanon`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from infantall.domain import PatientHistory
from infantall.errors import InvalidInputError
from infantall.registry.security import keyed_hash

__all__ = [
    "DEFAULT_K",
    "DEFAULT_MAX_SHIFT_DAYS",
    "HISTORY_FREE_TEXT",
    "MAX_SHIFT_DAYS_LIMIT",
    "AgeMode",
    "DateMode",
    "DeidOptions",
    "WbcMode",
    "date_shift_days",
    "pseudonym",
    "shift_history",
]

#: Default half-width of the date shift in days (about six months either way).
DEFAULT_MAX_SHIFT_DAYS = 182
#: Largest half-width accepted (ten years): a wider shift would make calendar periods
#: meaningless without adding protection beyond the year-only option.
MAX_SHIFT_DAYS_LIMIT = 3650
#: Default minimum size of an equivalence class of the quasi-identifiers.
DEFAULT_K = 5
#: Free-text fields of the domain events, replaced by ``unknown`` in pseudonymised
#: histories (the regimen of a salvage line, the diagnosis of a second malignancy).
HISTORY_FREE_TEXT = ("agents", "diagnosis")

DateMode = Literal["shifted", "year", "relative"]
AgeMode = Literal["class", "months"]
WbcMode = Literal["class", "value"]


def _check_max_days(max_days: int) -> int:
    if isinstance(max_days, bool) or not isinstance(max_days, int):
        raise InvalidInputError(
            "max_shift_days", f"{max_days!r} is not a whole number", "bad_option"
        )
    if not 1 <= max_days <= MAX_SHIFT_DAYS_LIMIT:
        raise InvalidInputError(
            "max_shift_days",
            f"{max_days} is outside 1–{MAX_SHIFT_DAYS_LIMIT} days",
            "bad_option",
        )
    return max_days


def pseudonym(key: str, registry_id: str) -> str:
    """The id of a patient in pseudonymised outputs: HMAC-SHA-256 under the pseudonym key
    (24 hex characters)."""
    return keyed_hash(key, f"id:{registry_id}")[:24]


def date_shift_days(key: str, registry_id: str, max_days: int = DEFAULT_MAX_SHIFT_DAYS) -> int:
    """The patient's date shift in days: uniform over ``[-max_days, -1] ∪ [1, max_days]``,
    fixed by the pseudonym key (64 bits of the HMAC reduced modulo ``2 * max_days``; the
    modulo bias is below 1e-15).

    Raises
    ------
    InvalidInputError
        ``bad_option`` when ``max_days`` is not a whole number in 1–3650.
    """
    span = 2 * _check_max_days(max_days)
    draw = int(keyed_hash(key, f"shift:{registry_id}")[:16], 16) % span
    return draw - max_days if draw < max_days else draw - max_days + 1


def _shifted(model: Any, delta: dt.timedelta, blank: tuple[str, ...] = ()) -> Any:
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, dt.date):
            update[name] = value + delta
        elif name in blank and isinstance(value, str):
            update[name] = "unknown"
    return model.model_copy(update=update)


def shift_history(history: PatientHistory, patient_id: str, days: int) -> PatientHistory:
    """``history`` under ``patient_id`` with every date moved by ``days`` (intervals and
    event order kept) and free text replaced by ``unknown``."""
    delta = dt.timedelta(days=days)
    patient = _shifted(history.patient, delta).model_copy(update={"patient_id": patient_id})
    events = tuple(_shifted(e, delta, HISTORY_FREE_TEXT) for e in history.events)
    return history.model_copy(update={"patient": patient, "events": events})


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInputError(field, f"{value!r}; use one of {list(allowed)}", "bad_option")
    return value


@dataclass(frozen=True, slots=True)
class DeidOptions:
    """How the pooled export is de-identified.

    ``dates``: ``shifted`` (every date moved by the patient's shift), ``year`` (only the
    year of each shifted date) or ``relative`` (days since diagnosis; no date, no year).
    ``age``: ``class`` (``0-2m``, ``3-5m``, ``6-8m``, ``9-12m``) or completed ``months``.
    ``wbc``: ``class`` (``<50``, ``50-<100``, ``100-<300``, ``>=300`` × 10⁹/L) or the
    ``value``. ``k``: smallest equivalence class kept over site × diagnosis year × sex ×
    age. ``max_shift_days``: half-width of the date shift (the registry's setting; every
    pseudonymised output must use the same one).

    Raises
    ------
    InvalidInputError
        ``bad_option`` naming the option and the accepted values.
    """

    dates: DateMode = "shifted"
    age: AgeMode = "class"
    wbc: WbcMode = "class"
    k: int = DEFAULT_K
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS

    def __post_init__(self) -> None:
        _choice("dates", self.dates, get_args(DateMode))
        _choice("age", self.age, get_args(AgeMode))
        _choice("wbc", self.wbc, get_args(WbcMode))
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= 1000:
            raise InvalidInputError(
                "k", f"{self.k!r} is not a whole number in 1–1000", "bad_option"
            )
        _check_max_days(self.max_shift_days)

    @classmethod
    def parse(cls, dates: str, age: str, wbc: str, k: int, max_shift_days: int) -> DeidOptions:
        """Options from untyped input (CLI flags), each checked as in the constructor."""
        return cls(
            dates=cast(DateMode, _choice("dates", dates, get_args(DateMode))),
            age=cast(AgeMode, _choice("age", age, get_args(AgeMode))),
            wbc=cast(WbcMode, _choice("wbc", wbc, get_args(WbcMode))),
            k=k,
            max_shift_days=max_shift_days,
        )

    def as_dict(self) -> dict[str, Any]:
        """The options as JSON-ready values (for the manifest and the audit row)."""
        return {
            "dates": self.dates,
            "age": self.age,
            "wbc": self.wbc,
            "k": self.k,
            "max_shift_days": self.max_shift_days,
        }
