"""Read a cohort CSV (one patient per row) with a row-level error report, and stratify it.

Columns: the :class:`~infantall.domain.Patient` fields (``patient_id`` required; empty
cells are unknown), plus optional ``induction_response`` (cr, no_cr, unknown) and
``mrd_<time point>`` fractions (see :data:`~infantall.protocols.features.MRD_FEATURES`).
Each invalid row is reported with its row number (1 = first data row), patient id, field,
reason and stable code; valid rows are kept.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infantall.domain import MRD_MAX, MRD_MIN, PATIENT_FIELDS, InvalidRecordError, Patient, choices
from infantall.errors import InfantallWarning, InvalidInputError
from infantall.protocols.features import MRD_FEATURES
from infantall.protocols.vectorised import stratify_frame_all

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CohortCSV", "read_cohort_csv", "stratify_cohort"]

_PATIENT_COLUMNS = tuple(PATIENT_FIELDS)
#: The stored codes of the end-of-induction response (the domain's ``Response.status``).
_RESPONSES = tuple(code for code, _ in choices("status", kind="response"))
_EXTRA_COLUMNS = ("induction_response", *MRD_FEATURES)


@dataclass(frozen=True, slots=True)
class CohortCSV:
    """Valid rows as a DataFrame (Patient fields + extra columns), the row errors (row,
    patient_id, field, reason, code) and warnings on kept rows (row, patient_id, warning)."""

    frame: pd.DataFrame
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]


def _extra_errors(row: dict[str, Any]) -> list[InvalidInputError]:
    errors = []
    response = row.get("induction_response")
    if response is not None and response not in _RESPONSES:
        errors.append(
            InvalidInputError(
                "induction_response",
                f"{response!r} is not one of {', '.join(_RESPONSES)}",
                "invalid_choice",
            )
        )
    for name in MRD_FEATURES:
        value = row.get(name)
        if value is None:
            continue
        try:
            number = float(value)
        except ValueError:
            errors.append(InvalidInputError(name, f"{value!r} is not a number", "invalid_type"))
            continue
        if math.isnan(number) or not MRD_MIN <= number <= MRD_MAX:
            reason = f"{value} is not a fraction in [{MRD_MIN:g}, {MRD_MAX:g}]"
            errors.append(InvalidInputError(name, reason, "mrd_out_of_range"))
    return errors


def read_cohort_csv(path: Path) -> CohortCSV:
    """Read and validate ``path``.

    Raises
    ------
    ValueError
        When the file cannot be read or its header has unknown or missing columns (a
        file-level problem, reported before any row).
    """
    import pandas as pd

    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
            header = list(rows[0]) if rows else []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: cannot read CSV ({exc})") from None
    unknown = [c for c in header if c not in _PATIENT_COLUMNS and c not in _EXTRA_COLUMNS]
    if unknown:
        raise ValueError(
            f"{path}: unknown column(s) {', '.join(unknown)}; accepted: "
            f"{', '.join(_PATIENT_COLUMNS + _EXTRA_COLUMNS)}"
        )
    if rows and "patient_id" not in header:
        raise ValueError(f"{path}: the column patient_id is required")
    valid: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for i, raw in enumerate(rows, start=1):
        row = {k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in raw.items()}
        pid = row.get("patient_id") or ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InfantallWarning)
            problems, patient = _parse_row(row)
        notes.extend({"row": i, "patient_id": pid, "warning": str(w.message)} for w in caught)
        if patient is None:
            errors.extend({"row": i, "patient_id": pid, **e.as_dict()} for e in problems)
            continue
        valid.append({**patient.to_dict(), **{c: row.get(c) for c in _EXTRA_COLUMNS}})
    columns = [*_PATIENT_COLUMNS, *_EXTRA_COLUMNS]
    return CohortCSV(pd.DataFrame(valid, columns=columns), errors, notes)


def _parse_row(row: dict[str, Any]) -> tuple[list[InvalidInputError], Patient | None]:
    problems = _extra_errors(row)
    fields = {k: v for k, v in row.items() if k in _PATIENT_COLUMNS and v is not None}
    try:
        patient = Patient.from_dict(fields)
    except InvalidRecordError as exc:
        return list(exc.errors) + problems, None
    return problems, (None if problems else patient)


def stratify_cohort(
    cohort: CohortCSV, protocols: Iterable[str], explain: bool = False
) -> list[dict[str, Any]]:
    """One record per (valid patient, protocol), via the vectorised engine."""
    if cohort.frame.empty:
        return []
    frames = stratify_frame_all(cohort.frame, list(protocols))
    ids = cohort.frame["patient_id"].tolist()
    records: list[dict[str, Any]] = []
    columns = ["protocol", "version", "group", "flags", "missing_fields"]
    if explain:
        columns += ["fired_rules", "undetermined_flags"]
    for frame in frames.values():
        values = {c: frame[c].astype(str).tolist() for c in columns}
        records.extend(
            {"patient_id": pid, **{c: values[c][i] for c in columns}} for i, pid in enumerate(ids)
        )
    return records
