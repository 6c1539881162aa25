"""A patient and the dated events after diagnosis."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from pydantic import model_validator

from infantall.domain._base import DomainModel
from infantall.domain.enums import DiseaseStatus, InductionResponse, MRDTimePoint, RefractoryPhase
from infantall.domain.errors import InvalidRecordError
from infantall.domain.events import (
    HSCT,
    Death,
    Event,
    LastContact,
    MRDResult,
    RefractoryDisease,
    Relapse,
    Response,
    SalvageTherapy,
    SecondMalignancy,
    SecondRemission,
)
from infantall.domain.patient import Patient
from infantall.domain.vocabulary import EVENT_KINDS
from infantall.errors import InvalidInputError

__all__ = ["PatientHistory"]

_T = TypeVar("_T")
_EVENT = re.compile(r"^events\[(\d+)\]")
_OWN_FIELD_CODES = frozenset(
    {
        "missing_field",
        "unknown_field",
        "invalid_type",
        "invalid_choice",
        "not_a_number",
        "negative_wbc",
        "negative_age",
        "not_an_infant",
        "negative_blast_count",
        "invalid",
    }
)


class PatientHistory(DomainModel):
    """A patient with the events after diagnosis, kept sorted by date.

    Validation checks that every event is on or after the diagnosis date, that nothing
    happens after death (e.g. an HSCT after death: ``events_out_of_order``) and that there
    is at most one death; and the course after first relapse: a second remission only after
    a relapse (``cr2_without_relapse``), salvage therapy only after a relapse or refractory
    disease (``salvage_without_indication``), refractory-after-salvage only after a salvage
    line (``refractory_without_salvage``), an HSCT's disease status agreeing with the
    history (CR1 before any relapse, CR2 after a CR2: ``hsct_status_mismatch``) and HSCT
    numbers counting the transplants in date order (``hsct_number_mismatch``). Errors
    name the event by its position in the input (``events[3].date``).
    """

    #: Event kinds are discriminator tags, not fields, in pydantic's error paths.
    _event_tags: ClassVar[frozenset[str]] = frozenset(EVENT_KINDS)

    patient: Patient
    events: tuple[Event, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Self:
        errors = _history_errors(self.patient, self.events)
        if errors:
            raise InvalidRecordError(errors)
        order = {k: i for i, k in enumerate(EVENT_KINDS)}
        self.__dict__["events"] = tuple(sorted(self.events, key=lambda e: (e.date, order[e.kind])))
        return self

    @classmethod
    def _prune(
        cls, data: dict[str, Any], errors: list[InvalidInputError]
    ) -> list[tuple[dict[str, Any], Callable[[str], str]]]:
        """Drop events and patient fields that failed on their own; a second version keeps
        only the patient's id and diagnosis date, so that the checks of the events run even
        when the patient has cross-field errors."""
        patient = data.get("patient")
        events = data.get("events", ())
        if not isinstance(patient, Mapping) or not isinstance(events, list | tuple):
            return []
        bad_events = {int(m.group(1)) for e in errors if (m := _EVENT.match(e.field))}
        bad_patient = {
            e.field.split(".")[1].split("[")[0]
            for e in errors
            if e.field.startswith("patient.") and e.code in _OWN_FIELD_CODES
        }
        patient_failed = any(e.field.startswith("patient") for e in errors)
        if not bad_events and not patient_failed:
            return []
        kept = [i for i in range(len(events)) if i not in bad_events]
        pruned_patient = {k: v for k, v in patient.items() if k not in bad_patient}
        pruned_patient.setdefault("patient_id", "?")
        pruned = {"patient": pruned_patient, "events": [events[i] for i in kept]}

        def remap(field: str) -> str:
            m = _EVENT.match(field)
            if m is None:
                return field
            return f"events[{kept[int(m.group(1))]}]{field[m.end() :]}"

        plans: list[tuple[dict[str, Any], Callable[[str], str]]] = [(pruned, remap)]
        if "diagnosis_date" not in bad_patient:
            minimal = {"patient_id": "?", "diagnosis_date": patient.get("diagnosis_date")}
            plans.append(({"patient": minimal, "events": pruned["events"]}, remap))
        return plans

    def of_kind(self, kind: type[_T]) -> tuple[_T, ...]:
        """The events of one type, in date order."""
        return tuple(e for e in self.events if isinstance(e, kind))

    @property
    def induction_response(self) -> Response | None:
        """The first end-of-induction response assessment, if recorded."""
        found = self.of_kind(Response)
        return found[0] if found else None

    @property
    def relapses(self) -> tuple[Relapse, ...]:
        """Relapses in date order."""
        return self.of_kind(Relapse)

    @property
    def death(self) -> Death | None:
        """The death, if recorded."""
        found = self.of_kind(Death)
        return found[0] if found else None

    @property
    def transplants(self) -> tuple[HSCT, ...]:
        """HSCTs in date order."""
        return self.of_kind(HSCT)

    @property
    def salvage_lines(self) -> tuple[SalvageTherapy, ...]:
        """Salvage therapy lines in date order."""
        return self.of_kind(SalvageTherapy)

    @property
    def second_remission(self) -> SecondRemission | None:
        """The first second complete remission (CR2), if recorded."""
        found = self.of_kind(SecondRemission)
        return found[0] if found else None

    @property
    def refractory(self) -> tuple[RefractoryDisease, ...]:
        """Refractory-disease findings in date order."""
        return self.of_kind(RefractoryDisease)

    @property
    def second_malignancies(self) -> tuple[SecondMalignancy, ...]:
        """Second malignancies in date order."""
        return self.of_kind(SecondMalignancy)

    def mrd(self, time_point: MRDTimePoint) -> MRDResult | None:
        """The first MRD result at ``time_point``, if any."""
        for e in self.of_kind(MRDResult):
            if e.time_point is time_point:
                return e
        return None

    @property
    def last_follow_up(self) -> dt.date | None:
        """Date of the last information: death, or else the latest event or contact."""
        if self.death is not None:
            return self.death.date
        dates = [e.date for e in self.events]
        if not dates:
            return self.patient.diagnosis_date
        return max(dates)

    @property
    def last_contact(self) -> LastContact | None:
        """The latest last-contact record, if any."""
        found = self.of_kind(LastContact)
        return found[-1] if found else None


def _history_errors(patient: Patient, events: tuple[Event, ...]) -> list[InvalidInputError]:
    errors: list[InvalidInputError] = []
    if events and patient.diagnosis_date is None:
        return [
            InvalidInputError(
                "patient.diagnosis_date",
                "dated events need the date of diagnosis",
                "missing_diagnosis_date",
            )
        ]
    diagnosis = patient.diagnosis_date
    deaths = [(i, e) for i, e in enumerate(events) if isinstance(e, Death)]
    for i, _ in deaths[1:]:
        errors.append(
            InvalidInputError(f"events[{i}]", "a second death was recorded", "multiple_deaths")
        )
    death_date = min((e.date for _, e in deaths), default=None)
    for i, e in enumerate(events):
        if diagnosis is not None and e.date < diagnosis:
            errors.append(
                InvalidInputError(
                    f"events[{i}].date",
                    f"{e.kind} on {e.date} is before diagnosis on {diagnosis}",
                    "event_before_diagnosis",
                )
            )
        if death_date is not None and e.kind != "death" and e.date > death_date:
            errors.append(
                InvalidInputError(
                    f"events[{i}].date",
                    f"{e.kind} on {e.date} is after death on {death_date}",
                    "events_out_of_order",
                )
            )
    errors.extend(_relapse_course_errors(events))
    return errors


def _sorted(events: tuple[Event, ...]) -> list[tuple[int, Event]]:
    order = {k: i for i, k in enumerate(EVENT_KINDS)}
    return sorted(enumerate(events), key=lambda p: (p[1].date, order[p[1].kind]))


def _course_error(i: int, field: str, reason: str, code: str) -> InvalidInputError:
    return InvalidInputError(f"events[{i}]{'.' + field if field else ''}", reason, code)


def _relapse_course_errors(events: tuple[Event, ...]) -> list[InvalidInputError]:
    """Rules of the disease after first relapse, read in date (and same-day kind) order."""
    errors: list[InvalidInputError] = []
    seen: set[str] = set()
    transplants = 0
    for i, e in _sorted(events):
        if isinstance(e, Response) and e.status is InductionResponse.no_cr:
            seen.add("refractory")
        error = _course_check(i, e, seen, transplants + 1)
        if error is not None:
            errors.append(error)
        transplants += isinstance(e, HSCT)
        seen.add(e.kind)
    return errors


def _course_check(i: int, e: Event, seen: set[str], number: int) -> InvalidInputError | None:
    if isinstance(e, SecondRemission) and "relapse" not in seen:
        return _course_error(i, "date", "a second remission needs an earlier relapse",
                             "cr2_without_relapse")  # fmt: skip
    if isinstance(e, SalvageTherapy) and not seen & {"relapse", "refractory"}:
        reason = "salvage therapy needs an earlier relapse or refractory disease"
        return _course_error(i, "date", reason, "salvage_without_indication")
    if (
        isinstance(e, RefractoryDisease)
        and e.phase is RefractoryPhase.salvage
        and "salvage_therapy" not in seen
    ):
        reason = "refractory after salvage needs an earlier salvage therapy line"
        return _course_error(i, "phase", reason, "refractory_without_salvage")
    if isinstance(e, HSCT):
        return _hsct_check(i, e, seen, number)
    return None


def _hsct_check(i: int, e: HSCT, seen: set[str], number: int) -> InvalidInputError | None:
    if e.number is not None and e.number != number:
        reason = f"HSCT number {e.number}, but this is transplant {number} in date order"
        return _course_error(i, "number", reason, "hsct_number_mismatch")
    status = e.disease_status
    if status is DiseaseStatus.cr1 and "relapse" in seen:
        reason = "HSCT in CR1 after a relapse"
        return _course_error(i, "disease_status", reason, "hsct_status_mismatch")
    if status is DiseaseStatus.cr2 and "second_remission" not in seen:
        reason = "HSCT in CR2 without an earlier second remission"
        return _course_error(i, "disease_status", reason, "hsct_status_mismatch")
    return None
