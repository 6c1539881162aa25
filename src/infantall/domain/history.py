"""A patient and the dated events after diagnosis."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from pydantic import model_validator

from infantall.domain._base import DomainModel
from infantall.domain.enums import MRDTimePoint
from infantall.domain.errors import InvalidRecordError
from infantall.domain.events import (
    HSCT,
    Death,
    Event,
    LastContact,
    MRDResult,
    Relapse,
    Response,
    SecondMalignancy,
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
    is at most one death. Errors name the event by its position in the input
    (``events[3].date``).
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
    return errors
