"""Dated events after diagnosis (what endpoint derivation works on)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from infantall.domain._base import DomainModel
from infantall.domain.enums import (
    Conditioning,
    DeathCause,
    DonorType,
    InductionResponse,
    LateEffectType,
    MarrowStatus,
    MRDMethod,
    MRDTimePoint,
    RelapseSite,
)
from infantall.domain.errors import InvalidRecordError
from infantall.errors import InvalidInputError

__all__ = [
    "HSCT",
    "Death",
    "Event",
    "LastContact",
    "LateEffect",
    "MRDResult",
    "Relapse",
    "Response",
    "SecondMalignancy",
]

_HLA = re.compile(r"^(\d{1,2})/(\d{1,2})$")


class Response(DomainModel):
    """Response at the end of induction: CR (M1 marrow) or not (induction failure)."""

    kind: Literal["response"] = "response"
    date: dt.date
    status: InductionResponse
    marrow: MarrowStatus = MarrowStatus.unknown

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

    kind: Literal["mrd"] = "mrd"
    date: dt.date
    value: Annotated[float, Field(allow_inf_nan=False)]
    time_point: MRDTimePoint = MRDTimePoint.unknown
    method: MRDMethod = MRDMethod.unknown
    detection_limit: Annotated[float, Field(allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        errors = [
            InvalidInputError(name, f"{value} is not a fraction in [0, 1]", "mrd_out_of_range")
            for name, value in (("value", self.value), ("detection_limit", self.detection_limit))
            if value is not None and not 0.0 <= value <= 1.0
        ]
        if errors:
            raise InvalidRecordError(errors)
        return self


class Relapse(DomainModel):
    """Relapse of the leukemia."""

    kind: Literal["relapse"] = "relapse"
    date: dt.date
    site: RelapseSite = RelapseSite.unknown


class Death(DomainModel):
    """Death from any cause."""

    kind: Literal["death"] = "death"
    date: dt.date
    cause: DeathCause = DeathCause.unknown


class HSCT(DomainModel):
    """Allogeneic (or autologous) haematopoietic stem cell transplantation.

    ``hla_match`` is "k/n" matched loci (e.g. "5/6", "8/8", "10/10") or "unknown".
    """

    kind: Literal["hsct"] = "hsct"
    date: dt.date
    donor: DonorType = DonorType.unknown
    hla_match: str = "unknown"
    conditioning: Conditioning = Conditioning.unknown

    @model_validator(mode="after")
    def _check(self) -> Self:
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


class SecondMalignancy(DomainModel):
    """A second malignant neoplasm (SMN)."""

    kind: Literal["second_malignancy"] = "second_malignancy"
    date: dt.date
    diagnosis: str = "unknown"


class LastContact(DomainModel):
    """The last date the patient was known to be alive (follow-up)."""

    kind: Literal["last_contact"] = "last_contact"
    date: dt.date


class LateEffect(DomainModel):
    """A late effect of therapy, optionally graded (CTCAE 1–5)."""

    kind: Literal["late_effect"] = "late_effect"
    date: dt.date
    effect: LateEffectType = LateEffectType.unknown
    grade: int | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.grade is not None and not 1 <= self.grade <= 5:
            raise InvalidRecordError(
                [InvalidInputError("grade", f"grade {self.grade} is not 1–5", "invalid_grade")]
            )
        return self


#: Any event; JSON objects select their type with the ``kind`` key.
Event = Annotated[
    Response | MRDResult | Relapse | Death | HSCT | SecondMalignancy | LastContact | LateEffect,
    Field(discriminator="kind"),
]
