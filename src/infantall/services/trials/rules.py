"""The allocation of one enrolment from the seed, the design and the trial's history.

One function, :func:`allocate`, serves enrolment and replay alike, so that replaying the
audit trail runs exactly the code that allocated. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from infantall.design.adaptive import TrialSpec
from infantall.design.adaptive.engine import _State
from infantall.design.allocation import (
    adaptive_arm,
    enrolment_generator,
    minimisation_arm,
    permuted_block_arm,
    stratum_key,
)
from infantall.errors import InvalidInputError

__all__ = [
    "FACTORS",
    "Allocation",
    "allocate",
    "analysis_schedule",
    "check_settings",
    "initial_allocation",
    "patient_levels",
    "spec_digest",
    "stratum_label",
]

#: Stratification / minimisation factors derived from the registry record, and their levels.
FACTORS: dict[str, tuple[str, ...]] = {
    "age_under_6_months": ("yes", "no"),
    "wbc_300": ("high", "low", "unknown"),
    "site": (),  # the site codes of the registry
}
SIX_MONTHS_DAYS = 183
WBC_HIGH = 300.0  # x10^9/L, the Interfant risk threshold


@dataclass(frozen=True, slots=True)
class Allocation:
    """The arm of one enrolment and, for response-adaptive allocation, its probabilities."""

    arm: int
    probabilities: tuple[float, ...] | None


def spec_digest(spec: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a design specification (sorted keys, no spaces)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(name, f"true or false, not {value!r}", "not_a_boolean")
    return value


def _interim_events(value: Any, n_looks: int) -> list[int] | None:
    """``settings.interim_events``: one whole, increasing event count per design analysis."""
    if value is None:
        return None
    ok = isinstance(value, list) and all(isinstance(v, int) and v >= 1 for v in value)
    if not ok or len(value) != n_looks or any(b <= a for a, b in itertools.pairwise(value)):
        raise InvalidInputError(
            "settings.interim_events",
            f"one whole, strictly increasing event count >= 1 per analysis ({n_looks})",
            "bad_interim_events",
        )
    return [int(v) for v in value]


def check_settings(
    method: str, settings: Mapping[str, Any], n_arms: int, n_looks: int = 1
) -> dict[str, Any]:
    """Validated allocation settings (factors, block multipliers, p_best) with defaults.

    ``interim_events`` (optional) makes the interim schedule count events instead of the
    design's patients or years: the ``j``-th analysis is due once ``interim_events[j]``
    enrolled patients have had a failure event. ``auto_interims`` (default false) runs each
    interim as soon as it is due (after the enrolment that makes it due, or by
    ``infantall trial run-due`` for schedules by events or years) instead of waiting for the
    DMC statistician.
    """
    factors = list(settings.get("factors", []))
    for f in factors:
        if f not in FACTORS:
            raise InvalidInputError(
                "settings.factors", f"unknown factor {f!r}; use {sorted(FACTORS)}", "bad_factor"
            )
    ratio = list(settings.get("ratio", [1] * n_arms))
    if len(ratio) != n_arms:
        raise InvalidInputError(
            "settings.ratio", f"one whole number per arm ({n_arms})", "bad_ratio"
        )
    out: dict[str, Any] = {
        "factors": factors,
        "ratio": [int(r) for r in ratio],
        "block_multipliers": [int(m) for m in settings.get("block_multipliers", [1, 2, 3])],
        "p_best": float(settings.get("p_best", 0.8)),
        "protocol": str(settings.get("protocol", "interfant-06")),
        "eligible_groups": list(settings.get("eligible_groups", [])),
        "auto_interims": _flag(settings.get("auto_interims", False), "settings.auto_interims"),
    }
    events = _interim_events(settings.get("interim_events"), n_looks)
    if events is not None:
        out["interim_events"] = events
    if method == "minimisation" and not factors:
        raise InvalidInputError("settings.factors", "minimisation needs factors", "no_factors")
    if not 0.0 <= out["p_best"] <= 1.0:
        raise InvalidInputError("settings.p_best", "a probability in [0, 1]", "bad_p_best")
    if not out["block_multipliers"] or min(out["block_multipliers"]) < 1:
        raise InvalidInputError(
            "settings.block_multipliers", "whole numbers >= 1", "bad_block_multipliers"
        )
    return out


def patient_levels(
    factors: Sequence[str], *, age_days: int, wbc: float | None, site: str
) -> dict[str, str]:
    """The levels of ``factors`` for one patient record."""
    values = {
        "age_under_6_months": "yes" if age_days < SIX_MONTHS_DAYS else "no",
        "wbc_300": "unknown" if wbc is None else ("high" if wbc >= WBC_HIGH else "low"),
        "site": site,
    }
    return {f: values[f] for f in factors}


def analysis_schedule(settings: Mapping[str, Any], spec: TrialSpec) -> tuple[str, list[float]]:
    """What the interims count (``events``, ``patients`` or ``years``) and at which values."""
    if settings.get("interim_events") is not None:
        return "events", [float(v) for v in settings["interim_events"]]
    if spec.analyses.patients is not None:
        return "patients", [float(v) for v in spec.analyses.patients]
    return "years", [float(v) for v in spec.analyses.years or []]


def stratum_label(levels: Mapping[str, str]) -> str:
    """Readable stratum name (``all`` without factors)."""
    return stratum_key(levels) or "all"


def initial_allocation(spec: TrialSpec) -> tuple[float, ...]:
    """The design's allocation probabilities before the first interim (the engine's own)."""
    return tuple(float(v) for v in _State(spec, 1).alloc[0])


def _minimisation(
    settings: Mapping[str, Any],
    levels: Mapping[str, str],
    history: Sequence[tuple[Mapping[str, str], int]],
    n_arms: int,
    rng: np.random.Generator,
) -> int:
    factors: list[str] = settings["factors"]
    names: list[dict[str, int]] = [{} for _ in factors]
    for lv, _ in [*history, (levels, -1)]:
        for i, f in enumerate(factors):
            names[i].setdefault(lv[f], len(names[i]))
    width = max(len(n) for n in names)
    counts = np.zeros((len(factors), width, n_arms), dtype=np.int64)
    for lv, arm in history:
        for i, f in enumerate(factors):
            counts[i, names[i][lv[f]], arm] += 1
    mine = [names[i][levels[f]] for i, f in enumerate(factors)]
    return minimisation_arm(counts, mine, rng, p_best=settings["p_best"], ratio=settings["ratio"])


def allocate(
    method: str,
    settings: Mapping[str, Any],
    seed: int,
    number: int,
    levels: Mapping[str, str],
    history: Sequence[tuple[Mapping[str, str], int]],
    probabilities: Sequence[float],
) -> Allocation:
    """Arm of enrolment ``number`` (0-based) given the earlier enrolments ``history``.

    ``history`` lists (levels, arm) of enrolments ``0 .. number - 1`` in order;
    ``probabilities`` are the response-adaptive allocation probabilities in force (used by
    ``response-adaptive`` only).
    """
    if len(history) != number:
        raise InvalidInputError("number", "history must hold every earlier enrolment", "gap")
    if method == "permuted-blocks":
        key = stratum_key(levels)
        position = sum(1 for lv, _ in history if stratum_key(lv) == key)
        arm = permuted_block_arm(
            seed, key, position, settings["ratio"], settings["block_multipliers"]
        )
        return Allocation(arm, None)
    rng = enrolment_generator(seed, number)
    if method == "minimisation":
        return Allocation(
            _minimisation(settings, levels, history, len(settings["ratio"]), rng), None
        )
    if method == "response-adaptive":
        probs = tuple(float(p) for p in probabilities)
        return Allocation(adaptive_arm(probs, rng), probs)
    raise InvalidInputError("method", f"unknown allocation method {method!r}", "bad_method")
