"""Disagreements between the seeds: detected from the records, flagged in a curated file.

Two records *disagree* when they describe the same trial population (``trial_id``,
``population``, ``arm``), come from different sources (seed file and table/section) and print
different values for the same quantity: the N, the number transplanted in CR1 (``hsct.n``) or
the same endpoint at the same horizon. :func:`detect_disagreements` finds them;
``data/disagreements.yaml`` flags each one with an explanation (a test checks that every
detected disagreement is flagged, so a new one cannot pass silently).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any

from infantall.evidence.schema import Disagreement, TrialRecord

__all__ = ["Conflict", "detect_disagreements", "flagged_by_record", "unflagged"]

Conflict = tuple[str, str, frozenset[str]]
"""(trial_id, quantity, the ids of the records that print different values)."""


def _quantities(rec: TrialRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rec.n is not None:
        out["n"] = rec.n
    if rec.hsct is not None:
        out["hsct.n"] = rec.hsct.n
    for res in rec.results:
        horizon = "" if res.horizon_years is None else f"@{res.horizon_years:g}y"
        value = res.estimate_pct if res.estimate_pct is not None else res.events
        out.setdefault(f"{res.endpoint}{horizon}", value)
    return out


def _where(rec: TrialRecord) -> tuple[str | None, str]:
    return rec.source.seed, rec.source.location


def detect_disagreements(records: Iterable[TrialRecord]) -> list[Conflict]:
    """Every quantity printed with different values for one population by two sources."""
    groups: dict[tuple[str, str, str | None], list[TrialRecord]] = defaultdict(list)
    for rec in records:
        if rec.source.kind == "seed":
            groups[(rec.trial_id, rec.population, rec.arm)].append(rec)
    found: list[Conflict] = []
    for (trial, _pop, _arm), recs in groups.items():
        for a, b in combinations(recs, 2):
            if _where(a) == _where(b):
                continue
            qa, qb = _quantities(a), _quantities(b)
            for key in sorted(set(qa) & set(qb)):
                if qa[key] != qb[key]:
                    found.append((trial, key, frozenset({a.record_id, b.record_id})))
    return found


def unflagged(conflicts: Iterable[Conflict], flags: Sequence[Disagreement]) -> list[Conflict]:
    """The detected conflicts that no curated disagreement covers (same trial, quantity and
    records)."""
    return [
        c
        for c in conflicts
        if not any(
            f.trial_id == c[0] and f.quantity == c[1] and c[2] <= set(f.records) for f in flags
        )
    ]


def flagged_by_record(flags: Sequence[Disagreement]) -> dict[str, list[str]]:
    """Record id -> the ids of the disagreements that involve it."""
    out: dict[str, list[str]] = defaultdict(list)
    for flag in flags:
        for rid in flag.records:
            out[rid].append(flag.disagreement_id)
    return dict(out)
