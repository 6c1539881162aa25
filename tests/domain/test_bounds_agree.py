"""Every channel refuses and accepts the same values with the same codes (issue 12 item 4).

The bounds live in ``infantall.domain.bounds``; this table runs each boundary value through
the Python API (``Patient``), ``infantall stratify``'s CSV reader, the registry's request
schema plus its domain validation (API and CSV import) and the pages' form path, and asserts
that they agree, value by value.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infantall.domain import (
    GRADE_MAX,
    GRADE_MIN,
    IMPLAUSIBLE_WBC,
    INFANT_MAX_AGE_DAYS,
    MAX_BLASTS_PER_UL,
    MAX_WBC,
    MRD_MAX,
    MRD_MIN,
    ImplausibleValueWarning,
    LateEffect,
    MRDResult,
    Patient,
)
from infantall.protocols.cohort_csv import read_cohort_csv
from infantall.registry.errors import ValidationFailedError
from infantall.registry.events import EVENT_ADAPTER
from infantall.registry.schemas import PatientCreate
from infantall.registry.validation import (
    PATIENT_FIELDS,
    domain_patient_dict,
    errors_from_pydantic,
    validate_patient,
)
from infantall.web.pages.forms import PATIENT_FORM, typed_values, validate_model

Codes = set[tuple[str, str]]
DATES = {"birth_date": "2023-01-01", "diagnosis_date": "2023-06-01"}

#: (field, value, expected codes on that field; empty = accepted).
PATIENT_BOUNDS: list[tuple[str, float, set[str]]] = [
    ("wbc", -0.001, {"negative_wbc"}),
    ("wbc", 0.0, set()),
    ("wbc", IMPLAUSIBLE_WBC, set()),
    ("wbc", IMPLAUSIBLE_WBC + 0.5, set()),  # implausible: kept with a warning
    ("wbc", MAX_WBC, set()),
    ("wbc", MAX_WBC + 0.1, {"wbc_too_high"}),
    ("wbc", 1_100_000.0, {"wbc_too_high"}),  # typed in cells/µL
    ("day8_blasts", -1.0, {"negative_blast_count"}),
    ("day8_blasts", 0.0, set()),
    ("day8_blasts", MAX_BLASTS_PER_UL, set()),
    ("day8_blasts", MAX_BLASTS_PER_UL + 1, {"blast_count_too_high"}),
]
#: (date of birth, expected codes on diagnosis_date) with diagnosis on 2023-06-01.
AGE_BOUNDS: list[tuple[str, set[str]]] = [
    ("2023-06-02", {"diagnosis_before_birth"}),
    ("2023-06-01", set()),  # 0 days: congenital, kept with a warning
    ("2022-06-01", set()),  # 365 days
    ("2022-05-31", {"not_an_infant"}),  # 366 days
]


def _codes(errors: Any, field: str) -> set[str]:
    return {e.code for e in errors if e.field == field}


def _python_api(data: dict[str, Any], field: str) -> set[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImplausibleValueWarning)
        return _codes(Patient.collect_errors({"patient_id": "P1", **data}), field)


def _stratify_csv(data: dict[str, Any], field: str, tmp_path: Path) -> set[str]:
    path = tmp_path / "cohort.csv"
    row = {"patient_id": "P1", **{k: str(v) for k, v in data.items()}}
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    return {e["code"] for e in read_cohort_csv(path).errors if e["field"] == field}


def _stored(data: PatientCreate, field: str) -> set[str]:
    """What ``create_patient`` does with a valid request: validate it as a domain patient."""
    fields = data.model_dump(include=set(PATIENT_FIELDS))
    try:
        validate_patient(domain_patient_dict("P-0000000000000000", "S1", fields))
    except ValidationFailedError as exc:
        return _codes(exc.errors, field)
    return set()


def _registry(body: dict[str, Any], field: str) -> set[str]:
    """The registry's API and CSV import: the request schema, then the domain."""
    try:
        data = PatientCreate.model_validate({"local_code": "A-1", **body})
    except ValidationError as exc:
        return _codes(errors_from_pydantic(exc.errors()), field)
    return _stored(data, field)


def _pages(data: dict[str, Any], field: str) -> set[str]:
    """The registration page: form text typed like a JSON client, the schema, the domain."""
    values = {"local_code": "A-1", **{k: str(v) for k, v in data.items()}}
    try:
        valid = validate_model(PatientCreate, typed_values(values, PATIENT_FORM))
    except ValidationFailedError as exc:
        return _codes(exc.errors, field)
    assert isinstance(valid, PatientCreate)
    return _stored(valid, field)


def _all_channels(data: dict[str, Any], field: str, tmp_path: Path) -> dict[str, set[str]]:
    return {
        "python": _python_api(data, field),
        "stratify csv": _stratify_csv(data, field, tmp_path),
        "registry": _registry(data, field),
        "pages": _pages(data, field),
    }


@pytest.mark.parametrize(("field", "value", "expected"), PATIENT_BOUNDS)
def test_patient_bounds_agree(field: str, value: float, expected: set[str], tmp_path: Path) -> None:
    got = _all_channels({**DATES, field: value}, field, tmp_path)
    assert got == dict.fromkeys(got, expected)


@pytest.mark.parametrize(("birth_date", "expected"), AGE_BOUNDS)
def test_age_bounds_agree(birth_date: str, expected: set[str], tmp_path: Path) -> None:
    data = {**DATES, "birth_date": birth_date}
    got = _all_channels(data, "diagnosis_date", tmp_path)
    assert got == dict.fromkeys(got, expected)


def test_the_age_bound_is_one_year() -> None:
    assert INFANT_MAX_AGE_DAYS == 365


def _event_channels(event: dict[str, Any], model: Any, field: str) -> dict[str, set[str]]:
    try:
        EVENT_ADAPTER.validate_python(event)
        registry: set[str] = set()
    except ValidationError as exc:
        registry = _codes(errors_from_pydantic(exc.errors()), field)
    domain = _codes(model.collect_errors({k: v for k, v in event.items()}), field)
    return {"python": domain, "registry": registry}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (MRD_MIN - 1e-6, {"mrd_out_of_range"}),
        (MRD_MIN, set()),
        (1e-4, set()),
        (MRD_MAX, set()),
        (MRD_MAX + 1e-6, {"mrd_out_of_range"}),
        (float("nan"), {"not_a_number"}),
    ],
)
def test_mrd_bounds_agree(value: float, expected: set[str]) -> None:
    event = {"kind": "mrd", "date": "2023-07-01", "value": value}
    got = _event_channels(event, MRDResult, "value")
    assert got == dict.fromkeys(got, expected)


@pytest.mark.parametrize(
    ("grade", "expected"),
    [
        (GRADE_MIN - 1, {"invalid_grade"}),
        (GRADE_MIN, set()),
        (GRADE_MAX, set()),
        (GRADE_MAX + 1, {"invalid_grade"}),
    ],
)
def test_grade_bounds_agree(grade: int, expected: set[str]) -> None:
    event = {"kind": "late_effect", "date": "2023-07-01", "grade": grade}
    got = _event_channels(event, LateEffect, "grade")
    assert got == dict.fromkeys(got, expected)
