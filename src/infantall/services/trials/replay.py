"""``trial replay``: recompute every allocation from the seed, the design and the audit trail.

The audit rows of a trial (``trial_allocation`` and ``trial_interim``, in id order) are read
back; each interim is re-run with the design version then in force and each allocation
recomputed with :func:`~infantall.services.trials.rules.allocate`, the function that made
it. Any difference (arm, probabilities, design digest, interim result, or a stored
enrolment row disagreeing with its audit row) is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.design.adaptive import spec_from_dict
from infantall.design.allocation import interim_update
from infantall.registry.models import AuditEntry
from infantall.registry.trials import TrialEnrolment, TrialSpecVersion
from infantall.services.trials.enrol import probabilities_in_force
from infantall.services.trials.rules import allocate
from infantall.services.trials.setup import load_trial

__all__ = ["ReplayResult", "replay_trial"]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Outcome of a replay: allocations and interims checked, and every difference found."""

    trial: str
    allocations: int
    interims: int
    differences: tuple[str, ...]

    @property
    def identical(self) -> bool:
        """Whether every allocation was reproduced bit for bit."""
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "trial": self.trial,
            "allocations": self.allocations,
            "interims": self.interims,
            "identical": self.identical,
            "differences": list(self.differences),
        }


class _Replayer:
    def __init__(self, session: Session, code: str) -> None:
        self.trial = load_trial(session, code)
        rows = session.scalars(
            select(TrialSpecVersion).where(TrialSpecVersion.trial_id == self.trial.id)
        )
        self.versions = {v.version: v for v in rows}
        self.history: list[tuple[dict[str, str], int]] = []
        self.interims: list[dict[str, Any]] = []
        self.diffs: list[str] = []
        self.spec_version = 1

    def interim(self, entry: AuditEntry) -> None:
        new = entry.new or {}
        spec = spec_from_dict(self.versions[self.spec_version].spec)
        data = new["data"]
        look = len(self.interims)
        if "exposure" in data:  # time to event: events and person-years per arm
            upd = interim_update(spec, look, data["exposure"], data["events"], data["active"])
        else:
            upd = interim_update(spec, look, data["patients"], data["successes"], data["active"])
        if upd.to_dict() != new["result"]:
            self.diffs.append(f"interim {look}: the design's rules give {upd.to_dict()}")
        self.interims.append(new["result"])

    def allocation(self, entry: AuditEntry) -> None:
        new = entry.new or {}
        number = int(new["number"])
        version = self.versions.get(int(new["spec_version"]))
        if version is None or version.digest != new["spec_digest"]:
            self.diffs.append(f"allocation {number}: design version/digest not found")
            return
        self.spec_version = version.version
        probs, look = probabilities_in_force(version.spec, self.interims)
        t = self.trial
        alloc = allocate(t.method, t.settings, t.seed, number, new["levels"], self.history, probs)
        if number != len(self.history):
            self.diffs.append(f"allocation {number}: out of order (expected {len(self.history)})")
        if alloc.arm != new["arm"]:
            self.diffs.append(f"allocation {number}: recorded arm {new['arm']}, replay {alloc.arm}")
        recorded = new.get("probabilities")
        mine = None if alloc.probabilities is None else list(alloc.probabilities)
        if recorded != mine or new.get("interim_look") != look:
            self.diffs.append(f"allocation {number}: probabilities differ ({recorded} vs {mine})")
        self.history.append((dict(new["levels"]), int(new["arm"])))


def replay_trial(session: Session, code: str) -> ReplayResult:
    """Replay trial ``code`` (server-side: needs the seed). Read-only."""
    r = _Replayer(session, code)
    prefix = f"{code}/"
    entries = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.entity.in_(("trial_allocation", "trial_interim")),
            AuditEntry.entity_id.like(prefix + "%"),
        )
        .order_by(AuditEntry.id)
    )
    for entry in entries:
        if entry.entity == "trial_interim":
            r.interim(entry)
        else:
            r.allocation(entry)
    stored = session.scalars(
        select(TrialEnrolment)
        .where(TrialEnrolment.trial_id == r.trial.id)
        .order_by(TrialEnrolment.number)
    ).all()
    if [(e.levels, e.arm) for e in stored] != r.history:
        r.diffs.append("stored enrolments differ from the audit trail")
    return ReplayResult(code, len(r.history), len(r.interims), tuple(r.diffs))
