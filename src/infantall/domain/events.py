"""Dated events after diagnosis (what endpoint derivation works on)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from infantall.domain._base import DomainModel
from infantall.domain._fields import ISO_DATE, described
from infantall.domain.bounds import GRADE_MAX, GRADE_MIN, MRD_MAX, MRD_MIN
from infantall.domain.enums import (
    Conditioning,
    DeathCause,
    DiseaseStatus,
    DonorType,
    InductionResponse,
    LateEffectType,
    MarrowStatus,
    MRDMethod,
    MRDTimePoint,
    RefractoryPhase,
    RelapseSite,
)
from infantall.domain.errors import InvalidRecordError
from infantall.domain.text import ShortText
from infantall.errors import InvalidInputError

__all__ = [
    "HSCT",
    "HSCT_NUMBER_MAX",
    "SALVAGE_LINE_MAX",
    "Death",
    "Event",
    "LastContact",
    "LateEffect",
    "MRDResult",
    "RefractoryDisease",
    "Relapse",
    "Response",
    "SalvageTherapy",
    "SecondMalignancy",
    "SecondRemission",
]

#: Highest salvage line and HSCT number accepted (beyond them the record is a typing error).
SALVAGE_LINE_MAX = 20
HSCT_NUMBER_MAX = 10

_HLA = re.compile(r"^(\d{1,2})/(\d{1,2})$")
_DATE = described("Date")


class Response(DomainModel):
    """Response at the end of induction: CR (M1 marrow) or not (induction failure)."""

    label: ClassVar[str] = "End-of-induction response"
    kind: Literal["response"] = "response"
    date: Annotated[dt.date, ISO_DATE, _DATE]
    status: Annotated[InductionResponse, described("Status")]
    marrow: Annotated[MarrowStatus, described("Marrow class")] = MarrowStatus.unknown

    @model_validator(mode="after")
    def _check(self) -> Self:
        not_m1 = self.marrow in (MarrowStatus.M2, MarrowStatus.M3)
        if self.status is InductionResponse.cr and not_m1:
            raise InvalidRecordError(
                [
                    InvalidInputError(
                        "marrow",
                        f"complete remission requires an M1 marrow, got {self.marrow.value}",
                        "response_marrow_mismatch",
                    )
                ]
            )
        return self

    @property
    def is_cr(self) -> bool:
        """True when complete remission was reached."""
        return self.status is InductionResponse.cr


class MRDResult(DomainModel):
    """A minimal-residual-disease measurement; ``value`` is a fraction (1e-4 = 0.01%).

    ``value`` 0 means not detected (at the method's sensitivity, ``detection_limit``).
    """

    label: ClassVar[str] = "MRD result"
    kind: Literal["mrd"] = "mrd"
    date: Annotated[dt.date, ISO_DATE, _DATE]
    value: Annotated[
        float,
        Field(allow_inf_nan=False),
        described("MRD", "fraction", "1e-4 = 0.01%; 0 = not detected."),
    ]
    time_point: Annotated[MRDTimePoint, described("Time point")] = MRDTimePoint.unknown
    method: Annotated[MRDMethod, described("Method")] = MRDMethod.unknown
    detection_limit: Annotated[
        Annotated[float, Field(allow_inf_nan=False)] | None,
        described("Detection limit", "fraction"),
    ] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        errors = [
            InvalidInputError(
                name, f"{value} is not a fraction in [{MRD_MIN:g}, {MRD_MAX:g}]", "mrd_out_of_range"
            )
            for name, value in (("value", self.value), ("detection_limit", self.detection_limit))
            if value is not None and not MRD_MIN <= value <= MRD_MAX
        ]
        if errors:
            raise InvalidRecordError(errors)
        return self


class Relapse(DomainModel):
    """Relapse of the leukemia."""

    label: ClassVar[str] = "Relapse"
    kind: Literal["relapse"] = "relapse"
    date: Annotated[dt.date, ISO_DATE, _DATE]
    site: Annotated[RelapseSite, described("Site")] = RelapseSite.unknown


class Death(DomainModel):
    """Death from any cause."""

    label: ClassVar[str] = "Death"
    kind: Literal["death"] = "death"
    date: Annotated[dt.date, ISO_DATE, _DATE]
    cause: Annotated[DeathCause, described("Cause")] = DeathCause.unknown


class HSCT(DomainModel):
    """Allogeneic (or autologous) haematopoietic stem cell transplantation.

    ``hla_match`` is "k/n" matched loci (e.g. "5/6", "8/8", "10/10") or "unknown".
    """

    label: ClassVar[str] = "HSCT"
    kind: Literal["hsct"] = "hsct"
    date: Annotated[dt.date, ISO_DATE, _DATE]
    donor: Annotated[DonorType, described("Donor")] = DonorType.unknown
    hla_match: Annotated[
        str, described("HLA match", help="k/n matched loci, e.g. 5/6, 8/8, 10/10.")
    ] = "unknown"
    conditioning: Annotated[Conditioning, described("Conditioning")] = Conditioning.unknown
    disease_status: Annotated[
        DiseaseStatus,
        described("Disease status at HSCT", help="CR1, CR2 or active disease."),
    ] = DiseaseStatus.unknown
    number: Annotated[
        int | None,
        described(
            "HSCT number",
            help=f"1 for the first transplant, 2 for the second (≤ {HSCT_NUMBER_MAX}).",
        ),
    ] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.number is not None and not 1 <= self.number <= HSCT_NUMBER_MAX:
            reason = f"HSCT number {self.number} is not 1–{HSCT_NUMBER_MAX}"
            raise InvalidRecordError([InvalidInputError("number", reason, "invalid_hsct_number")])
        if self.hla_match == "unknown":
            return self
        m = _HLA.match(self.hla_match)
        if m is None or not 0 <= int(m.group(1)) <= int(m.group(2)) or int(m.group(2)) == 0:
            raise InvalidRecordError(
                [
                    InvalidInputError(
                        "hla_match",
                        f"{self.hla_match!r} is not 'k/n' with 0 <= k <= n (e.g. 5/6, 8/8)",
                        "invalid_hla_match",
                    )
                ]
            )
        return self

    @property
    def hla_loci(self) -> tuple[int, int] | None:
        """(matched, typed) loci, or None when unknown."""
        m = _HLA.match(self.hla_match)
        return None if m is None else (int(m.group(1)), int(m.group(2)))


class SalvageTherapy(DomainModel):
    """A line of salvage therapy after relapse or refractory disease (start and stop dates).

    ``agents`` is free text naming the drugs or regimen (e.g. "blinatumomab",
    "FLAG-Ida"); ``end_date`` is empty while the line is ongoing.
    """

    label: ClassVar[str] = "Salvage therapy"
    kind: Literal["salvage_therapy"] = "salvage_therapy"
    date: Annotated[dt.date, ISO_DATE, described("Start date")]
    line: Annotated[
        int,
        described(
            "Salvage line", help=f"1 for the first line after relapse (≤ {SALVAGE_LINE_MAX})."
        ),
    ] = 1
    agents: Annotated[
        ShortText, described("Agents", help="Drugs or regimen, e.g. blinatumomab.")
    ] = "unknown"
    end_date: Annotated[
        dt.date | None, ISO_DATE, described("Stop date", help="Empty while ongoing.")
    ] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        errors = []
        if not 1 <= self.line <= SALVAGE_LINE_MAX:
            reason = f"salvage line {self.line} is not 1–{SALVAGE_LINE_MAX}"
            errors.append(InvalidInputError("line", reason, "invalid_salvage_line"))
        if self.end_date is not None and self.end_date < self.date:
            reason = f"stop date {self.end_date} is before the start date {self.date}"
            errors.append(InvalidInputError("end_date", reason, "salvage_stop_before_start"))
        if errors:
            raise InvalidRecordError(errors)
        return self


class SecondRemission(DomainModel):
    """Second complete remission (CR2, M1 marrow) after a relapse."""

    label: ClassVar[str] = "Second complete remission (CR2)"
    kind: Literal["second_remission"] = "second_remission"
    date: Annotated[dt.date, ISO_DATE, _DATE]
    marrow: Annotated[MarrowStatus, described("Marrow class")] = MarrowStatus.unknown

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.marrow in (MarrowStatus.M2, MarrowStatus.M3):
            reason = f"a second remission requires an M1 marrow, got {self.marrow.value}"
            raise InvalidRecordError([InvalidInputError("marrow", reason, "cr2_marrow_mismatch")])
        return self


class RefractoryDisease(DomainModel):
    """Refractory disease: no complete remission after induction or after a salvage line."""

    label: ClassVar[str] = "Refractory disease"
    kind: Literal["refractory"] = "refractory"
    date: Annotated[dt.date, ISO_DATE, _DATE]
    phase: Annotated[RefractoryPhase, described("Refractory after")] = RefractoryPhase.unknown


class SecondMalignancy(DomainModel):
    """A second malignant neoplasm (SMN)."""

    label: ClassVar[str] = "Second malignancy"
    kind: Literal["second_malignancy"] = "second_malignancy"
    date: Annotated[dt.date, ISO_DATE, _DATE]
    diagnosis: Annotated[ShortText, described("Diagnosis")] = "unknown"


class LastContact(DomainModel):
    """The last date the patient was known to be alive (follow-up)."""

    label: ClassVar[str] = "Last contact"
    kind: Literal["last_contact"] = "last_contact"
    date: Annotated[dt.date, ISO_DATE, _DATE]


class LateEffect(DomainModel):
    """A late effect of therapy, optionally graded (CTCAE 1–5)."""

    label: ClassVar[str] = "Late effect"
    kind: Literal["late_effect"] = "late_effect"
    date: Annotated[dt.date, ISO_DATE, _DATE]
    effect: Annotated[LateEffectType, described("Effect")] = LateEffectType.unknown
    grade: Annotated[int | None, described("CTCAE grade", help=f"{GRADE_MIN}–{GRADE_MAX}.")] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.grade is not None and not GRADE_MIN <= self.grade <= GRADE_MAX:
            reason = f"grade {self.grade} is not {GRADE_MIN}–{GRADE_MAX}"
            raise InvalidRecordError([InvalidInputError("grade", reason, "invalid_grade")])
        return self


#: Any event; JSON objects select their type with the ``kind`` key. THE list of event types
#: (:data:`infantall.domain.vocabulary.EVENT_TYPES` reads it), in the order events of the
#: same date are sorted (a response is assessed before a relapse is diagnosed on the same
#: day; a refractory finding before a salvage line started that day; CR2 before an HSCT; a
#: relapse before the salvage line it starts; death is last). Adding an event kind: a class
#: above, a member here, a migration only if it needs new storage (events are stored as the
#: event's dictionary), tests.
Event = Annotated[
    Response
    | RefractoryDisease
    | MRDResult
    | SecondRemission
    | HSCT
    | Relapse
    | SalvageTherapy
    | SecondMalignancy
    | LateEffect
    | LastContact
    | Death,
    Field(discriminator="kind"),
]
