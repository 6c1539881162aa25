"""The de-identified pooled export of every site (coordinators) and its manifest.

Identifiers are replaced by the patient's pseudonym (HMAC-SHA-256 of the registry id under
the pseudonym key, kept outside the database: GDPR Art. 4(5)); every date of a patient is
moved by the patient's one date shift (:func:`infantall.registry.deidentify.date_shift_days`,
the same shift as in the coordinator's analysis dataset), kept as the year only, or
replaced by days since diagnosis (:class:`~infantall.registry.deidentify.DeidOptions`);
age and WBC are generalised; the birth date, the site-local code and every free-text field
are left out; classes of fewer than ``k`` patients over site × diagnosis year × sex × age
are suppressed (:mod:`infantall.registry.kanon`). The manifest says what was done and the
k-anonymity achieved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from infantall.domain.patient import PPR_THRESHOLD_PER_UL
from infantall.registry.deidentify import DeidOptions, date_shift_days, pseudonym
from infantall.registry.kanon import (
    AGE_CLASSES,
    WBC_CLASSES,
    Suppression,
    age_class,
    age_months,
    anonymise,
    equivalence_classes,
    wbc_class,
)
from infantall.registry.models import Event, Patient

__all__ = ["FREE_TEXT_COLUMNS", "MANIFEST_FORMAT", "PooledExport", "build_pooled_export"]

#: Identifier of the manifest's layout.
MANIFEST_FORMAT = "infantall-deidentification-manifest/1"
#: The other pseudonymised outputs that carry the same per-patient date shift.
SHIFT_SHARED_WITH = (
    "coordinator analysis dataset",
    "coordinator histories (reports, pages)",
    "data-quality findings of coordinators",
    "federated node data",
)
#: The other pseudonymised outputs that carry the same per-patient date shift.
SHIFT_SHARED_WITH = (
    "coordinator analysis dataset",
    "coordinator histories (reports, pages)",
    "data-quality findings of coordinators",
    "federated node data",
)
#: Columns of the import layout that are free text (left out of every pooled export).
FREE_TEXT_COLUMNS = ("notes", "event_agents", "event_diagnosis")
_REMOVED = ("record_id", "registry_id", "birth_date", "day8_blasts", *FREE_TEXT_COLUMNS)
_CATEGORICAL = (
    "immunophenotype",
    "cd10",
    "kmt2a",
    "fusion_partner",
    "cns",
    "prednisone_response",
    "day15_marrow",
    "protocol",
)
#: Event fields carried over (coded or numeric; dates and free text handled apart).
_EVENT_FIELDS = (
    "kind",
    "status",
    "marrow",
    "phase",
    "value",
    "time_point",
    "method",
    "detection_limit",
    "donor",
    "hla_match",
    "conditioning",
    "disease_status",
    "number",
    "site",
    "line",
    "effect",
    "grade",
    "cause",
)


@dataclass(frozen=True, slots=True)
class PooledExport:
    """The de-identified table (one row per patient and per event) and its manifest."""

    table: pd.DataFrame
    manifest: dict[str, Any]


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _date_columns(opts: DeidOptions, stem: str) -> list[str]:
    """Columns of one date: days since diagnosis, and the shifted date or its year."""
    columns = [] if stem == "diagnosis" else [f"{stem}_day"]
    if opts.dates == "shifted":
        columns.append(f"{stem}_date_shifted")
    elif opts.dates == "year":
        columns.append(f"{stem}_year")
    return columns


def _dated(
    opts: DeidOptions, stem: str, value: Any, diagnosis: dt.date | None, shift: int | None
) -> dict[str, Any]:
    """The columns of one date; ``shift`` is ``None`` when the patient's dates are
    suppressed (only days since diagnosis are given)."""
    day = _date(value)
    out: dict[str, Any] = {}
    if stem != "diagnosis":
        out[f"{stem}_day"] = (day - diagnosis).days if day and diagnosis else None
    if shift is not None and day is not None and opts.dates != "relative":
        moved = day + dt.timedelta(days=shift)
        out[f"{stem}_date_shifted" if opts.dates == "shifted" else f"{stem}_year"] = (
            moved if opts.dates == "shifted" else moved.year
        )
    return out


def _prednisone(p: Patient) -> str:
    stored = str(p.prednisone_response or "unknown")
    if stored == "unknown" and p.day8_blasts is not None:
        return "poor" if p.day8_blasts >= PPR_THRESHOLD_PER_UL else "good"
    return stored


def _quasi(p: Patient, code: str, opts: DeidOptions, shift: int) -> dict[str, Any]:
    """The patient's quasi-identifiers as published (``age`` in the chosen unit)."""
    record: dict[str, Any] = {"site_code": code, "sex": str(p.sex or "unknown")}
    if opts.dates != "relative":
        diagnosis = p.diagnosis_date
        record["diagnosis_period"] = (
            None if diagnosis is None else (diagnosis + dt.timedelta(days=shift)).year
        )
    record["age"] = age_class(p.age_days) if opts.age == "class" else age_months(p.age_days)
    return record


def _patient_row(
    p: Patient, record: dict[str, Any], opts: DeidOptions, shift: int | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "pseudonym": record["pseudonym"],
        "record_type": "patient",
        "site_code": record["site_code"],
        "sex": record["sex"],
        "age_class" if opts.age == "class" else "age_months": record["age"],
        "wbc_class" if opts.wbc == "class" else "wbc": (
            wbc_class(p.wbc) if opts.wbc == "class" else p.wbc
        ),
    }
    if opts.dates != "relative":
        period = record["diagnosis_period"]
        row["diagnosis_period"] = None if period is None else str(period)
    row.update({c: getattr(p, c) for c in _CATEGORICAL})
    row["prednisone_response"] = _prednisone(p)
    diagnosis = p.diagnosis_date
    row.update(_dated(opts, "diagnosis", diagnosis, diagnosis, shift))
    row.update(_dated(opts, "enrollment", p.enrollment_date, diagnosis, shift))
    return row


def _event_rows(
    pseudo: str, events: list[Event], diagnosis: dt.date | None, opts: DeidOptions,
    shift: int | None,
) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for i, e in enumerate(events, start=1):
        row: dict[str, Any] = {
            "pseudonym": pseudo,
            "record_type": "event",
            "event_instance": i,
        }
        row.update({f"event_{k}": e.data.get(k) for k in _EVENT_FIELDS})
        row.update(_dated(opts, "event", e.data.get("date", e.event_date), diagnosis, shift))
        row.update(_dated(opts, "event_end", e.data.get("end_date"), diagnosis, shift))
        rows.append(row)
    return rows


def _columns(opts: DeidOptions) -> list[str]:
    return [
        "pseudonym",
        "record_type",
        "site_code",
        "sex",
        "age_class" if opts.age == "class" else "age_months",
        "wbc_class" if opts.wbc == "class" else "wbc",
        *([] if opts.dates == "relative" else ["diagnosis_period"]),
        *_CATEGORICAL,
        *_date_columns(opts, "diagnosis"),
        *_date_columns(opts, "enrollment"),
        "event_instance",
        *(f"event_{k}" for k in _EVENT_FIELDS),
        *_date_columns(opts, "event"),
        *_date_columns(opts, "event_end"),
    ]


def build_pooled_export(
    patients: list[tuple[Patient, str]],
    events: dict[int, list[Event]],
    key: str,
    options: DeidOptions,
) -> PooledExport:
    """The de-identified table of ``patients`` (with their site codes) and ``events``, and
    its manifest (pure: no database access, no audit)."""
    qi = _quasi_identifiers(options)
    shifts = {p.registry_id: date_shift_days(key, p.registry_id, options.max_shift_days)
              for p, _ in patients}  # fmt: skip
    records = [
        {
            **_quasi(p, code, options, shifts[p.registry_id]),
            "pseudonym": pseudonym(key, p.registry_id),
            "_index": i,
        }
        for i, (p, code) in enumerate(patients)
    ]
    kept, steps = anonymise(records, qi, options.k)
    rows: list[dict[str, Any]] = []
    for record in kept:
        p, _ = patients[record["_index"]]
        dates_kept = options.dates == "relative" or isinstance(record["diagnosis_period"], int)
        shift = shifts[p.registry_id] if dates_kept else None
        rows.append(_patient_row(p, record, options, shift))
        rows.extend(
            _event_rows(record["pseudonym"], events.get(p.id, []), p.diagnosis_date, options,
                        shift)
        )  # fmt: skip
    table = pd.DataFrame(rows, columns=_columns(options))
    for column in ("event_instance", "event_grade", "event_number", "event_line"):
        if column in table.columns:
            table[column] = table[column].astype("Int64")
    manifest = _manifest(options, qi, len(patients), kept, steps, len(table))
    return PooledExport(table=table, manifest=manifest)


def _quasi_identifiers(options: DeidOptions) -> tuple[str, ...]:
    if options.dates == "relative":
        return ("site_code", "sex", "age")
    return ("site_code", "diagnosis_period", "sex", "age")


def _generalised(options: DeidOptions) -> list[dict[str, Any]]:
    dates = {
        "shifted": "every date moved by the patient's one date shift",
        "year": "only the year of each shifted date",
        "relative": "days since diagnosis; no date and no year",
    }[options.dates]
    out = [
        {"field": "dates", "to": options.dates, "how": dates,
         "reason": "dates single out a child; the shift is the one of every pseudonymised "
                   "output, so joining outputs on the pseudonym reveals no true date"},
        {"field": "day8_blasts", "to": "prednisone_response",
         "how": f"good below {PPR_THRESHOLD_PER_UL:,.0f}/µL, poor at or above",
         "reason": "an exact count is a quasi-identifier; the class is what analyses use"},
    ]  # fmt: skip
    if options.age == "class":
        out.append({"field": "age_days", "to": "age_class",
                    "how": ", ".join(label for _, label in AGE_CLASSES),
                    "reason": "age in days singles out most children"})  # fmt: skip
    else:
        out.append({"field": "age_days", "to": "age_months", "how": "completed months",
                    "reason": "age in days singles out most children"})  # fmt: skip
    if options.wbc == "class":
        out.append({"field": "wbc", "to": "wbc_class",
                    "how": ", ".join(label for _, label in WBC_CLASSES) + " × 10⁹/L",
                    "reason": "an exact count is a quasi-identifier"})  # fmt: skip
    return out


def _classes(kept: list[dict[str, Any]], qi: tuple[str, ...]) -> list[dict[str, Any]]:
    sizes = equivalence_classes(kept, qi)
    rows = [{**dict(zip(qi, key, strict=True)), "size": n} for key, n in sizes.items()]
    return sorted(rows, key=lambda r: tuple(str(r[q]) for q in qi))


def _manifest(
    options: DeidOptions, qi: tuple[str, ...], n_in: int, kept: list[dict[str, Any]],
    steps: list[Suppression], n_rows: int,
) -> dict[str, Any]:  # fmt: skip
    classes = _classes(kept, qi)
    sizes = [c["size"] for c in classes]
    histogram: dict[str, int] = {}
    for n in sorted(sizes):
        histogram[str(n)] = histogram.get(str(n), 0) + 1
    return {
        "format": MANIFEST_FORMAT,
        "options": options.as_dict(),
        "quasi_identifiers": list(qi),
        "quasi_identifier_columns": {
            q: ("age_class" if options.age == "class" else "age_months") if q == "age" else q
            for q in qi
        },
        "patients_in": n_in,
        "patients_out": len(kept),
        "rows": n_rows,
        "k_required": options.k,
        "k_achieved": min(sizes) if sizes else None,
        "equivalence_classes": len(classes),
        "class_sizes": histogram,
        "classes": classes,
        "date_shift": {
            "range_days": [-options.max_shift_days, options.max_shift_days],
            "zero_excluded": True,
            "per": "patient (HMAC-SHA-256 of the registry id under the pseudonym key)",
            "shared_with": list(SHIFT_SHARED_WITH),
        },
        "generalised": _generalised(options),
        "suppressed": [s.as_dict() for s in steps],
        "removed_columns": list(_REMOVED),
        "free_text": "none: every free-text field is left out",
    }
