"""Domain histories of the patients in the caller's scope (what analyses work on).

Every history is re-validated by the domain when read: a stored history the domain refuses
(written before history changes were serialised, or by hand in the database) is reported
as a :class:`StoredHistoryError` naming the patient and the domain's code, never as a
crash of the whole site's analysis. :func:`stored_history_problems` lists every such
history of the database (``infantall registry verify``).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from infantall.domain import ImplausibleValueWarning, PatientHistory
from infantall.errors import InvalidInputError
from infantall.registry.access import READ_ROLES, Principal, require_role
from infantall.registry.errors import ValidationFailedError
from infantall.registry.models import Event, Patient, Site
from infantall.registry.patients import _fields_of
from infantall.registry.validation import domain_patient_dict

__all__ = [
    "HistoryProblem",
    "StoredHistoryError",
    "scoped_rows",
    "stored_history_problems",
    "to_histories",
]

#: Error code of a stored history that the domain refuses.
INVALID_STORED_HISTORY = "invalid_stored_history"


@dataclass(frozen=True, slots=True)
class HistoryProblem:
    """One domain error of one stored patient history."""

    patient_id: str
    site: str
    field: str
    reason: str
    code: str

    def as_error(self, name: Callable[[str], str] = str) -> InvalidInputError:
        """The problem as an :class:`InvalidInputError` on field ``patients[<id>].<field>``
        (``name`` maps the registry id, e.g. to a pseudonym)."""
        return InvalidInputError(
            f"patients[{name(self.patient_id)}].{self.field}",
            f"stored history refused by the domain: {self.reason}",
            self.code,
        )


class StoredHistoryError(ValidationFailedError):
    """Stored histories the domain refuses; ``problems`` names each patient and code."""

    def __init__(self, problems: Sequence[HistoryProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__([p.as_error() for p in self.problems])
        self.code = INVALID_STORED_HISTORY


def _rows(
    session: Session, query: Select[Patient, str], include_voided: bool
) -> tuple[list[tuple[Patient, str]], dict[int, list[Event]]]:
    if not include_voided:
        query = query.where(Patient.voided_at.is_(None))
    patients = [(p, code) for p, code in session.execute(query)]
    events: dict[int, list[Event]] = defaultdict(list)
    ids = [p.id for p, _ in patients]
    chunk = 5000  # keep IN lists well below SQLite's variable limit
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        ev_query = select(Event).where(Event.patient_id.in_(part))
        if not include_voided:
            ev_query = ev_query.where(Event.voided_at.is_(None))
        for e in session.scalars(ev_query.order_by(Event.event_date, Event.id)):
            events[e.patient_id].append(e)
    return patients, events


def scoped_rows(
    session: Session, principal: Principal, *, include_voided: bool = False
) -> tuple[list[tuple[Patient, str]], dict[int, list[Event]]]:
    """Patients (with site codes) in the caller's scope and their events, in id order."""
    require_role(principal, READ_ROLES, "read patients")
    query = select(Patient, Site.code).join(Site).order_by(Patient.id)
    if not principal.reads_all_sites:
        query = query.where(Patient.site_id == (principal.site_id or -1))
    return _rows(session, query, include_voided)


def _history(p: Patient, code: str, rows: Sequence[Event]) -> PatientHistory:
    patient = domain_patient_dict(p.registry_id, code, _fields_of(p))
    patient["age_days"] = p.age_days
    return PatientHistory.from_dict({"patient": patient, "events": [e.data for e in rows]})


def _problems(p: Patient, code: str, exc: InvalidInputError) -> list[HistoryProblem]:
    errors = getattr(exc, "errors", None) or [exc]
    return [HistoryProblem(p.registry_id, code, e.field, e.reason, e.code) for e in errors]


def to_histories(
    patients: Sequence[tuple[Patient, str]], events: dict[int, list[Event]]
) -> list[PatientHistory]:
    """Domain histories of stored rows, each re-validated by the domain.

    Raises
    ------
    StoredHistoryError
        ``invalid_stored_history``: naming every patient whose stored history the domain
        refuses (field ``patients[<registry id>].<field>``, the domain's code kept).
    """
    out = []
    problems: list[HistoryProblem] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImplausibleValueWarning)
        for p, code in patients:
            try:
                out.append(_history(p, code, events.get(p.id, [])))
            except InvalidInputError as exc:
                problems.extend(_problems(p, code, exc))
    if problems:
        raise StoredHistoryError(problems)
    return out


def stored_history_problems(session: Session) -> list[HistoryProblem]:
    """Every problem of every stored (non-voided) history of every site, in patient order."""
    query = select(Patient, Site.code).join(Site).order_by(Patient.id)
    patients, events = _rows(session, query, include_voided=False)
    problems: list[HistoryProblem] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImplausibleValueWarning)
        for p, code in patients:
            try:
                _history(p, code, events.get(p.id, []))
            except InvalidInputError as exc:
                problems.extend(_problems(p, code, exc))
    return problems
