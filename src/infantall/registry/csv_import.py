"""CSV import: validated as a whole, atomic, each record audited.

REDCap-style layout (see :mod:`infantall.registry.dictionary`): every row is checked by the
same rules as the API (request schema + domain model + patient history); a file with any
invalid row imports nothing and gets a per-row, per-field report; a valid file is imported
in one transaction. The file an export writes (:mod:`infantall.registry.export`) imports
again: its export-only columns are ignored and its formula escapes undone.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from infantall.errors import InvalidInputError
from infantall.registry import audit
from infantall.registry.access import WRITE_ROLES, Principal, require_role
from infantall.registry.dictionary import DATA_DICTIONARY, EVENT_COLUMNS, PATIENT_COLUMNS
from infantall.registry.errors import ValidationFailedError
from infantall.registry.events import EVENT_ADAPTER
from infantall.registry.export import EXPORT_ONLY_COLUMNS, FORMULA_TRIGGERS
from infantall.registry.models import Event, Patient, Site, utcnow
from infantall.registry.patients import _stored, new_registry_id
from infantall.registry.schemas import PatientCreate
from infantall.registry.validation import (
    PATIENT_FIELDS,
    domain_patient_dict,
    errors_from_pydantic,
    validate_history,
    validate_patient,
)

__all__ = ["ImportReport", "RowError", "import_csv"]

_KNOWN = {v.name for v in DATA_DICTIONARY} | set(EXPORT_ONLY_COLUMNS)
_REQUIRED = tuple(v.name for v in DATA_DICTIONARY if v.required)
_MAX_ROWS = 200_000
#: Control characters other than tab and newline (NUL would not even fit PostgreSQL text).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of an import file: CSV line, record, field, reason and stable code."""

    row: int
    record_id: str
    field: str
    reason: str
    code: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: counts when it succeeded, every problem when it did not."""

    imported_patients: int
    imported_events: int
    errors: tuple[RowError, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the file was imported."""
        return not self.errors

    @property
    def summary(self) -> pd.DataFrame:
        """The errors as a table (one row per row and field)."""
        return pd.DataFrame([dataclasses.asdict(e) for e in self.errors])


@dataclass
class _Parsed:
    patients: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    events: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def error(self, row: int, record: str, err: InvalidInputError) -> None:
        self.errors.append(RowError(row, record, err.field, err.reason, err.code))


def _unescape(value: str) -> str:
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_TRIGGERS:
        return value[1:]
    return value


def _read_rows(text: str, parsed: _Parsed) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    problems = [
        InvalidInputError(c, f"unknown column {c!r}; see the data dictionary", "unknown_field")
        for c in header
        if c not in _KNOWN
    ] + [
        InvalidInputError(c, f"required column {c!r} is missing", "missing_field")
        for c in _REQUIRED
        if c not in header
    ]
    for name, count in Counter(header).items():
        if count > 1:
            problems.append(InvalidInputError(name, "column appears twice", "duplicate_key"))
    for p in problems:
        parsed.error(1, "", p)
    if problems:
        return []
    rows = []
    for row in reader:
        bad = sorted(k for k, v in row.items() if isinstance(v, str) and _CONTROL.search(v))
        if bad:
            for name in bad:
                parsed.error(
                    reader.line_num,
                    str(row.get("record_id") or ""),
                    InvalidInputError(
                        str(name),
                        "NUL and control characters are not allowed",
                        "forbidden_character",
                    ),
                )
            continue
        if None in row:
            parsed.error(
                reader.line_num,
                str(row.get("record_id") or ""),
                InvalidInputError("row", "more cells than columns", "invalid_format"),
            )
            continue
        rows.append(
            (reader.line_num, {k: _unescape(v) for k, v in row.items() if v not in ("", None)})
        )
        if len(rows) > _MAX_ROWS:
            parsed.error(
                reader.line_num,
                "",
                InvalidInputError(
                    "file", f"more than {_MAX_ROWS} rows; split the file", "too_many_rows"
                ),
            )
            return []
    return rows


_NUMERIC = frozenset(v.name for v in DATA_DICTIONARY if v.validation == "number")


def _number(name: str, text: str) -> float:
    """A CSV number: plain decimal notation, finite (no decimal comma, NaN or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(name, f"{text!r} is not a number", "invalid_type") from None
    if not math.isfinite(value) or text.strip().lower().startswith(("nan", "inf", "+inf", "-inf")):
        raise InvalidInputError(name, f"{text!r} is not a finite number", "not_a_number")
    return value


def _parse_patient(parsed: _Parsed, line: int, record: str, cells: dict[str, str]) -> None:
    values: dict[str, Any] = {}
    for k, v in cells.items():
        if k in PATIENT_COLUMNS:
            try:
                values[k] = _number(k, v) if k in _NUMERIC else v
            except InvalidInputError as exc:
                parsed.error(line, record, exc)
                return
    try:
        data = PatientCreate.model_validate({"local_code": record, **values})
    except ValidationError as exc:
        for e in errors_from_pydantic(exc.errors()):
            name = "record_id" if e.field == "local_code" else e.field
            parsed.error(line, record, InvalidInputError(name, e.reason, e.code))
        return
    fields = data.model_dump(include=set(PATIENT_FIELDS))
    try:
        domain, _ = validate_patient(domain_patient_dict(f"row-{line}", "import", fields))
    except ValidationFailedError as exc:
        for e in exc.errors:
            parsed.error(line, record, e)
        return
    if record in parsed.patients:
        parsed.error(
            line,
            record,
            InvalidInputError(
                "record_id", f"record {record} appears twice in the file", "duplicate_patient"
            ),
        )
        return
    parsed.patients[record] = (line, {"data": data, "domain": domain})


def _parse_event(parsed: _Parsed, line: int, record: str, cells: dict[str, str]) -> None:
    raw = {k[len("event_") :]: v for k, v in cells.items() if k in EVENT_COLUMNS}
    raw["kind"] = raw.pop("kind", "")
    try:
        event = EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        for e in errors_from_pydantic(exc.errors()):
            parsed.error(line, record, InvalidInputError(f"event_{e.field}", e.reason, e.code))
        return
    parsed.events.setdefault(record, []).append((line, event.to_dict()))


def _parse(text: str) -> _Parsed:
    parsed = _Parsed()
    for line, cells in _read_rows(text, parsed):
        record = cells.get("record_id", "")
        instrument = cells.get("redcap_repeat_instrument", "")
        if not record:
            parsed.error(
                line, "", InvalidInputError("record_id", "record_id is empty", "missing_field")
            )
        elif instrument == "event":
            _parse_event(parsed, line, record, cells)
        elif instrument:
            parsed.error(
                line,
                record,
                InvalidInputError(
                    "redcap_repeat_instrument",
                    f"unknown instrument {instrument!r}; use 'event'",
                    "invalid_choice",
                ),
            )
        else:
            stray = sorted(c for c in cells if c in EVENT_COLUMNS)
            for name in stray:
                parsed.error(
                    line,
                    record,
                    InvalidInputError(name, "event columns belong on event rows", "unknown_field"),
                )
            if not stray:
                _parse_patient(parsed, line, record, cells)
    return parsed


def _check_histories(parsed: _Parsed) -> None:
    for record, events in parsed.events.items():
        if record not in parsed.patients:
            for line, _ in events:
                parsed.error(
                    line,
                    record,
                    InvalidInputError(
                        "record_id", f"no patient row for record {record}", "unknown_record"
                    ),
                )
            continue
        _, info = parsed.patients[record]
        ids = [f"row-{line}" for line, _ in events]
        try:
            validate_history(info["domain"].to_dict(), [e for _, e in events], ids)
        except ValidationFailedError as exc:
            for e in exc.errors:
                line, name = events[0][0], e.field
                if name.startswith("events[row-"):
                    index, _, rest = name[len("events[row-") :].partition("]")
                    line, name = int(index), f"event_{rest.lstrip('.')}" if rest else "event_kind"
                parsed.error(line, record, InvalidInputError(name, e.reason, e.code))


def import_csv(session: Session, principal: Principal, content: bytes | str) -> ImportReport:
    """Import a REDCap-style CSV into the caller's site: all rows or none.

    Returns an :class:`ImportReport`; when ``report.ok`` is false nothing was written.
    """
    require_role(principal, WRITE_ROLES, "import patients")
    assert principal.site_id is not None  # site editors always have a site
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return ImportReport(
                0, 0, (RowError(0, "", "file", "the file is not UTF-8", "invalid_encoding"),)
            )
    parsed = _parse(content)
    _check_histories(parsed)
    existing = set(
        session.scalars(
            select(Patient.local_code).where(
                Patient.site_id == principal.site_id, Patient.local_code.in_(list(parsed.patients))
            )
        )
    )
    for record in sorted(existing):
        line = parsed.patients[record][0]
        parsed.error(
            line,
            record,
            InvalidInputError(
                "record_id",
                f"record {record} is already registered at this site",
                "duplicate_patient",
            ),
        )
    if parsed.errors:
        session.rollback()
        return ImportReport(0, 0, tuple(sorted(parsed.errors, key=lambda e: (e.row, e.field))))
    return _write(session, dataclasses.replace(principal, channel="import"), parsed)


def _write(session: Session, principal: Principal, parsed: _Parsed) -> ImportReport:
    code = session.scalar(select(Site.code).where(Site.id == principal.site_id))
    n_events = 0
    now = utcnow()
    for record, (_, info) in parsed.patients.items():
        registry_id = new_registry_id("P")
        patient = Patient(
            registry_id=registry_id,
            site_id=principal.site_id,
            local_code=record,
            notes=info["data"].notes,
            created_at=now,
            updated_at=now,
            **_stored(info["domain"]),
        )
        session.add(patient)
        session.flush()
        audit.record(
            session,
            principal,
            "create",
            "patient",
            registry_id,
            site_id=patient.site_id,
            new=audit.snapshot("patient", patient),
            reason="CSV import",
        )
        for _, data in parsed.events.get(record, []):
            event = Event(
                registry_id=new_registry_id("E"),
                patient_id=patient.id,
                kind=data["kind"],
                event_date=dt.date.fromisoformat(data["date"]),
                data=data,
                created_at=now,
                updated_at=now,
            )
            session.add(event)
            session.flush()
            audit.record(
                session,
                principal,
                "create",
                "event",
                event.registry_id,
                site_id=patient.site_id,
                new=audit.snapshot("event", event),
                reason="CSV import",
            )
            n_events += 1
    audit.record(
        session,
        principal,
        "import",
        "site",
        code,
        site_id=principal.site_id,
        new={"patients": len(parsed.patients), "events": n_events},
    )
    session.commit()
    return ImportReport(len(parsed.patients), n_events)
