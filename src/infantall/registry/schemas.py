"""Request and response schemas of the registry (a Base/Create/Update/Public family per
resource, as in the FastAPI full-stack template). Unknown fields are refused (mass
assignment, OWASP API3): the site of a new patient is the caller's, never the body's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

from infantall.domain import (
    CD10Status,
    CNSStatus,
    Event,
    FusionPartner,
    Immunophenotype,
    IsoDate,
    KMT2AStatus,
    MarrowStatus,
    PrednisoneResponse,
    Sex,
)
from infantall.domain.bounds import check_blasts, check_wbc
from infantall.registry.models import Role
from infantall.registry.text import Code, FreeText, Reason, ShortText

__all__ = [
    "AuditPublic",
    "EventCorrect",
    "EventPublic",
    "LoginRequest",
    "PatientCreate",
    "PatientFields",
    "PatientPage",
    "PatientPublic",
    "PatientUpdate",
    "RiskGroupPublic",
    "SiteCreate",
    "SitePublic",
    "TokenPublic",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "VoidRequest",
]

_STRICT = ConfigDict(extra="forbid", str_max_length=4000)
# Strict: JSON true/false or "12" are not numbers (anchors-reliability B2). The bounds are
# the domain's (infantall.domain.bounds): the same value is refused with the same code by
# the API, the pages, the CSV import, ``infantall stratify`` and the Python API.
Wbc = Annotated[float, Strict(), Field(allow_inf_nan=False), AfterValidator(check_wbc)]
Blasts = Annotated[float, Strict(), Field(allow_inf_nan=False), AfterValidator(check_blasts)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
Password = Annotated[str, Field(min_length=10, max_length=256)]
Name = Annotated[FreeText, Field(min_length=1, max_length=200)]


class PatientFields(BaseModel):
    """Diagnosis features: the fields of ``infantall.domain.Patient`` a registry records.

    A choice left out is *not entered* (stored empty), which is not the same as a value
    entered as ``unknown``; analyses read both as unknown.
    """

    model_config = _STRICT

    birth_date: IsoDate
    diagnosis_date: IsoDate
    sex: Sex | None = None
    wbc: Wbc | None = None
    immunophenotype: Immunophenotype | None = None
    cd10: CD10Status | None = None
    kmt2a: KMT2AStatus | None = None
    fusion_partner: FusionPartner | None = None
    cns: CNSStatus | None = None
    day8_blasts: Blasts | None = None
    prednisone_response: PrednisoneResponse | None = None
    day15_marrow: MarrowStatus | None = None
    enrollment_date: IsoDate | None = None
    protocol: Code = "unknown"


class PatientCreate(PatientFields):
    """A new patient at the caller's site."""

    local_code: Code
    notes: FreeText | None = None


class PatientUpdate(BaseModel):
    """A correction of a patient: the version read, a reason, and the fields that change."""

    model_config = _STRICT

    version: Version
    reason: Reason
    local_code: Code | None = None
    birth_date: IsoDate | None = None
    diagnosis_date: IsoDate | None = None
    sex: Sex | None = None
    wbc: Wbc | None = None
    immunophenotype: Immunophenotype | None = None
    cd10: CD10Status | None = None
    kmt2a: KMT2AStatus | None = None
    fusion_partner: FusionPartner | None = None
    cns: CNSStatus | None = None
    day8_blasts: Blasts | None = None
    prednisone_response: PrednisoneResponse | None = None
    day15_marrow: MarrowStatus | None = None
    enrollment_date: IsoDate | None = None
    protocol: Code | None = None
    notes: FreeText | None = None


class VoidRequest(BaseModel):
    """Void (never delete) a record: the version read and a reason."""

    model_config = _STRICT

    version: Version
    reason: Reason


class PatientPublic(BaseModel):
    """A patient as the API returns it."""

    registry_id: str
    site_code: str
    local_code: str
    birth_date: dt.date
    diagnosis_date: dt.date
    age_days: int
    sex: str | None
    wbc: float | None
    immunophenotype: str | None
    cd10: str | None
    kmt2a: str | None
    fusion_partner: str | None
    cns: str | None
    day8_blasts: float | None
    prednisone_response: str | None
    day15_marrow: str | None
    enrollment_date: dt.date | None
    protocol: str
    notes: str | None
    version: int
    voided_at: dt.datetime | None
    void_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    warnings: list[str] = Field(default_factory=list)


class PatientPage(BaseModel):
    """One page of a patient list."""

    items: list[PatientPublic]
    total: int
    limit: int
    offset: int


class EventCorrect(BaseModel):
    """A correction of an event: the version read, a reason and the corrected event."""

    model_config = _STRICT

    version: Version
    reason: Reason
    event: Event


class EventPublic(BaseModel):
    """An event as the API returns it (``data`` is the domain event's dictionary)."""

    registry_id: str
    patient_id: str
    kind: str
    date: dt.date
    data: dict[str, Any]
    version: int
    voided_at: dt.datetime | None
    void_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class RiskGroupPublic(BaseModel):
    """A risk group computed by ``infantall.protocols`` and stored with its version."""

    registry_id: str
    patient_id: str
    protocol: str
    protocol_version: str
    risk_group: str
    decision: dict[str, Any]
    computed_at: dt.datetime


class SiteCreate(BaseModel):
    """A new site."""

    model_config = _STRICT

    code: Code
    name: Name
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None


class SitePublic(BaseModel):
    """A site."""

    code: str
    name: str
    country: str | None
    created_at: dt.datetime


class UserCreate(BaseModel):
    """A new account: role, and the site for site roles."""

    model_config = _STRICT

    username: Code
    password: Password
    role: Role
    site_code: Code | None = None
    #: The printed name shown in the manifestation of the user's e-signatures.
    full_name: ShortText | None = None


class UserUpdate(BaseModel):
    """A change of role, site, activity or password (with the version read)."""

    model_config = _STRICT

    version: Version
    role: Role | None = None
    site_code: Code | None = None
    active: bool | None = None
    password: Password | None = None


class UserPublic(BaseModel):
    """An account (never its password hash)."""

    username: str
    role: str
    site_code: str | None
    active: bool
    locked_until: dt.datetime | None
    version: int
    created_at: dt.datetime


class LoginRequest(BaseModel):
    """Username and password, and the one-time code of an account with a second factor."""

    model_config = _STRICT

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]
    totp_code: Annotated[str | None, Field(pattern=r"^[0-9]{6}$")] = None


class PasswordChange(BaseModel):
    """A change of the caller's own password: the current one re-entered, and the new one
    (checked against the password policy by the service, so that its codes name
    ``new_password``)."""

    model_config = _STRICT

    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Annotated[str, Field(min_length=1, max_length=256)]


class TokenPublic(BaseModel):
    """A bearer token, shown once; the registry keeps only its digest."""

    access_token: str
    token_type: str = "bearer"
    token_id: int
    expires_at: dt.datetime
    username: str
    role: str
    site_code: str | None


class AuditPublic(BaseModel):
    """One audit row."""

    id: int
    at: dt.datetime
    actor_username: str | None
    actor_role: str | None
    action: str
    entity: str
    entity_id: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str | None
    channel: str
