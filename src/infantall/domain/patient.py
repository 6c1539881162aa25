"""The patient at diagnosis (the features every protocol stratifies on)."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from infantall.domain._base import DomainModel
from infantall.domain._fields import ISO_DATE, described
from infantall.domain.bounds import (
    IMPLAUSIBLE_WBC,
    INFANT_MAX_AGE_DAYS,
    MAX_WBC,
    PPR_THRESHOLD_PER_UL,
    check_age_days,
    check_blasts,
    check_wbc,
)
from infantall.domain.enums import (
    CD10Status,
    CNSStatus,
    FusionPartner,
    Immunophenotype,
    KMT2AStatus,
    MarrowStatus,
    PrednisoneResponse,
    Sex,
)
from infantall.domain.errors import ImplausibleValueWarning, InvalidRecordError
from infantall.errors import InvalidInputError

__all__ = [
    "IMPLAUSIBLE_WBC",
    "INFANT_MAX_AGE_DAYS",
    "PPR_THRESHOLD_PER_UL",
    "Patient",
]

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Patient(DomainModel):
    """An infant with ALL at diagnosis.

    Give the dates of birth and diagnosis, or ``age_days`` alone (then dates may be
    omitted); with both dates ``age_days`` is computed and must agree if given. Categorical
    features default to their explicit ``unknown`` member; numeric features that were not
    measured are ``None``.

    Parameters
    ----------
    patient_id
        Identifier of the patient (unique within a registry or cohort).
    birth_date, diagnosis_date
        Dates of birth and of diagnosis.
    age_days
        Age at diagnosis in completed days (0–365).
    sex
        Sex.
    wbc
        White blood cell count at diagnosis in 10^9/L (= 10^3/µL).
    immunophenotype, cd10
        Immunophenotype class and CD10 expression.
    kmt2a, fusion_partner
        KMT2A status and fusion partner (``none`` for germline).
    cns
        CNS status at diagnosis.
    day8_blasts
        Peripheral-blood blasts/µL on day 8 after the 7-day prednisone prophase.
    prednisone_response
        Prednisone response class when the count is not available; derived from
        ``day8_blasts`` when it is.
    day15_marrow
        Marrow class on day 14/15 of induction.
    enrollment_date, protocol, site
        Trial enrollment date, protocol identifier and treating site.
    """

    patient_id: Annotated[str, Field(min_length=1), described("Patient id")]
    birth_date: Annotated[dt.date | None, ISO_DATE, described("Date of birth")] = None
    diagnosis_date: Annotated[dt.date | None, ISO_DATE, described("Date of diagnosis")] = None
    age_days: Annotated[
        int | None,
        described(
            "Age at diagnosis",
            "days",
            f"0–{INFANT_MAX_AGE_DAYS}; computed from the dates when both are given.",
        ),
    ] = None
    sex: Annotated[Sex, described("Sex")] = Sex.unknown
    wbc: Annotated[
        FiniteFloat | None,
        described(
            "WBC at diagnosis",
            "10⁹/L",
            f"Same number as 10³/µL. Values above {IMPLAUSIBLE_WBC:,.0f} are kept with a "
            f"warning; above {MAX_WBC:,.0f} they are refused.",
        ),
    ] = None
    immunophenotype: Annotated[Immunophenotype, described("Immunophenotype")] = (
        Immunophenotype.unknown
    )
    cd10: Annotated[CD10Status, described("CD10 expression")] = CD10Status.unknown
    kmt2a: Annotated[KMT2AStatus, described("KMT2A status")] = KMT2AStatus.unknown
    fusion_partner: Annotated[FusionPartner, described("KMT2A fusion partner")] = (
        FusionPartner.unknown
    )
    cns: Annotated[CNSStatus, described("CNS status at diagnosis")] = CNSStatus.unknown
    day8_blasts: Annotated[
        FiniteFloat | None,
        described(
            "Day-8 peripheral blasts",
            "/µL",
            f"Prednisone response is derived: < {PPR_THRESHOLD_PER_UL:,.0f}/µL good, "
            f"≥ {PPR_THRESHOLD_PER_UL:,.0f}/µL poor.",
        ),
    ] = None
    prednisone_response: Annotated[PrednisoneResponse, described("Prednisone response")] = (
        PrednisoneResponse.unknown
    )
    day15_marrow: Annotated[MarrowStatus, described("Day-15 marrow")] = MarrowStatus.unknown
    enrollment_date: Annotated[dt.date | None, ISO_DATE, described("Enrollment date")] = None
    protocol: Annotated[str, described("Treatment protocol id", help="e.g. interfant-06")] = (
        "unknown"
    )
    site: Annotated[str, described("Site")] = "unknown"

    @field_validator("age_days")
    @classmethod
    def _check_age(cls, v: int | None) -> int | None:
        return None if v is None else check_age_days(v)

    @field_validator("wbc")
    @classmethod
    def _check_wbc(cls, v: float | None) -> float | None:
        return None if v is None else check_wbc(v)

    @field_validator("day8_blasts")
    @classmethod
    def _check_blasts(cls, v: float | None) -> float | None:
        return None if v is None else check_blasts(v)

    @model_validator(mode="after")
    def _check(self) -> Self:
        errors = _age_errors(self) + _consistency_errors(self)
        if errors:
            raise InvalidRecordError(errors)
        if self.birth_date is not None and self.diagnosis_date is not None:
            self.__dict__["age_days"] = (self.diagnosis_date - self.birth_date).days
        if self.day8_blasts is not None:
            self.__dict__["prednisone_response"] = _class_of(self.day8_blasts)
        _warn_implausible(self)
        return self

    @property
    def kmt2a_rearranged(self) -> bool | None:
        """True/False for rearranged/germline KMT2A; None when unknown."""
        if self.kmt2a is KMT2AStatus.unknown:
            return None
        return self.kmt2a is KMT2AStatus.rearranged


def _class_of(blasts: float) -> PrednisoneResponse:
    return PrednisoneResponse.poor if blasts >= PPR_THRESHOLD_PER_UL else PrednisoneResponse.good


def _age_errors(p: Patient) -> list[InvalidInputError]:
    """Age from the dates (the given ``age_days`` was range-checked field by field)."""
    if p.birth_date is None or p.diagnosis_date is None:
        return []
    computed = (p.diagnosis_date - p.birth_date).days
    if computed < 0:
        return [
            InvalidInputError(
                "diagnosis_date",
                f"diagnosis {p.diagnosis_date} is before birth {p.birth_date}",
                "diagnosis_before_birth",
            )
        ]
    if p.age_days is not None and p.age_days != computed:
        return [
            InvalidInputError(
                "age_days",
                f"age_days={p.age_days} but the dates give {computed} days",
                "age_mismatch",
            )
        ]
    try:
        check_age_days(computed, "diagnosis_date")
    except InvalidInputError as exc:
        return [exc]
    return []


def _consistency_errors(p: Patient) -> list[InvalidInputError]:
    errors: list[InvalidInputError] = []
    if (
        p.day8_blasts is not None
        and p.prednisone_response is not PrednisoneResponse.unknown
        and p.prednisone_response is not _class_of(p.day8_blasts)
    ):
        errors.append(
            InvalidInputError(
                "prednisone_response",
                f"{p.prednisone_response.value} response contradicts day-8 blasts "
                f"{p.day8_blasts:g}/µL",
                "prednisone_response_mismatch",
            )
        )
    partner_known = p.fusion_partner not in (FusionPartner.unknown, FusionPartner.none)
    if (p.kmt2a is KMT2AStatus.germline and partner_known) or (
        p.kmt2a is KMT2AStatus.rearranged and p.fusion_partner is FusionPartner.none
    ):
        errors.append(
            InvalidInputError(
                "fusion_partner",
                f"fusion partner {p.fusion_partner.value} with KMT2A {p.kmt2a.value}",
                "fusion_partner_mismatch",
            )
        )
    if (
        p.enrollment_date is not None
        and p.diagnosis_date is not None
        and p.enrollment_date < p.diagnosis_date
    ):
        errors.append(
            InvalidInputError(
                "enrollment_date",
                f"enrollment {p.enrollment_date} is before diagnosis {p.diagnosis_date}",
                "enrollment_before_diagnosis",
            )
        )
    return errors


def _warn_implausible(p: Patient) -> None:
    if p.wbc is not None and p.wbc > IMPLAUSIBLE_WBC and not math.isnan(p.wbc):
        warnings.warn(
            ImplausibleValueWarning(
                f"patient {p.patient_id}: WBC {p.wbc:g} x 10^9/L is above {IMPLAUSIBLE_WBC:g}; "
                "kept (possible in infant ALL) but please check it"
            ),
            stacklevel=2,
        )
    if p.age_days == 0:
        warnings.warn(
            ImplausibleValueWarning(
                f"patient {p.patient_id}: age at diagnosis is 0 days; kept (congenital ALL) "
                "but please check the dates"
            ),
            stacklevel=2,
        )
