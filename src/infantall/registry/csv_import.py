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
from infantall.registry.dictionary import (
    DATA_DICTIONARY,
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    normalise_choices,
)
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

__all__ = [
    "PROBLEM_COLUMNS",
    "ImportReport",
    "NotEntered",
    "RowError",
    "import_csv",
    "problems_csv",
]

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
class NotEntered:
    """A choice column of the patient rows: how many were left blank (or the column was
    absent: *not entered*) and how many said ``unknown`` explicitly.

    They are stored apart too: a not-entered choice is empty (NULL), an entered
    ``unknown`` is ``unknown``; analyses read both as unknown.
    """

    column: str
    label: str
    not_entered: int
    unknown: int
    absent: bool


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: counts when it succeeded, every problem when it did not, and
    for each choice column what was not entered as opposed to entered as ``unknown``."""

    imported_patients: int
    imported_events: int
    errors: tuple[RowError, ...] = field(default=())
    not_entered: tuple[NotEntered, ...] = field(default=())

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
    #: Records whose patient row is invalid -> the line of that row.
    invalid: dict[str, int] = field(default_factory=dict)
    #: Choice columns of the patient rows: column -> [not entered, "unknown"] counts.
    entered: dict[str, list[int]] = field(default_factory=dict)
    header: set[str] = field(default_factory=set)

    def error(self, row: int, record: str, err: InvalidInputError) -> None:
        self.errors.append(RowError(row, record, err.field, err.reason, err.code))


def _unescape(value: str) -> str:
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_TRIGGERS:
        return value[1:]
    return value


def _read_rows(text: str, parsed: _Parsed) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    parsed.header = set(header)
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
        for name in bad:
            parsed.error(
                reader.line_num,
                str(row.get("record_id") or ""),
                InvalidInputError(
                    str(name), "NUL and control characters are not allowed", "forbidden_character"
                ),
            )
        for name in bad:  # the row's other cells are still checked
            row[name] = ""
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
#: Choice columns of the patient rows (what can be "not entered" or "unknown").
_CHOICE_COLUMNS = tuple(
    v for v in DATA_DICTIONARY if v.form == "patient" and v.choices and v.name in PATIENT_COLUMNS
)
_LABELS = {v.name: v.label for v in DATA_DICTIONARY}
#: Columns of the CSV of problems an import offers for download.
PROBLEM_COLUMNS = ("line", "record_id", "column", "label", "problem", "code")


def _count_entered(parsed: _Parsed, cells: dict[str, str]) -> None:
    for v in _CHOICE_COLUMNS:
        counts = parsed.entered.setdefault(v.name, [0, 0])
        value = cells.get(v.name, "").strip()
        if not value:
            counts[0] += 1
        elif value.lower() == "unknown":
            counts[1] += 1


def _entered(parsed: _Parsed, header: set[str]) -> tuple[NotEntered, ...]:
    return tuple(
        NotEntered(name, _LABELS[name], n_blank, n_unknown, name not in header)
        for name, (n_blank, n_unknown) in parsed.entered.items()
        if n_blank or n_unknown
    )


def problems_csv(report: ImportReport) -> str:
    """The problems of a refused import as CSV (:data:`PROBLEM_COLUMNS`), one per line and
    column, for the data manager to work through; cells that a spreadsheet would evaluate
    are quoted with a leading apostrophe (OWASP "CSV Injection")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PROBLEM_COLUMNS)
    for e in report.errors:
        cells = (e.row, e.record_id, e.field, _LABELS.get(e.field, ""), e.reason, e.code)
        writer.writerow([_escape(str(c)) for c in cells])
    return out.getvalue()


def _escape(value: str) -> str:
    return "'" + value if value[:1] in FORMULA_TRIGGERS else value


def _number(name: str, text: str) -> float:
    """A CSV number: plain decimal notation, finite (no decimal comma, NaN or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(name, f"{text!r} is not a number", "invalid_type") from None
    if not math.isfinite(value) or text.strip().lower().startswith(("nan", "inf", "+inf", "-inf")):
        raise InvalidInputError(name, f"{text!r} is not a finite number", "not_a_number")
    return value


def _cell_values(cells: dict[str, str]) -> tuple[dict[str, Any], list[InvalidInputError]]:
    """The patient cells as values (numbers parsed), and every cell that is not a number."""
    values: dict[str, Any] = {}
    errors: list[InvalidInputError] = []
    for k, v in cells.items():
        if k in PATIENT_COLUMNS:
            try:
                values[k] = _number(k, v) if k in _NUMERIC else v
            except InvalidInputError as exc:
                errors.append(exc)
    return values, errors


def _request(record: str, values: dict[str, Any]) -> tuple[PatientCreate | None, list[Any]]:
    """``PatientCreate`` of a row and every schema problem; when some fields are refused,
    the row is checked again without them so the domain's rules still see the others."""
    errors: list[InvalidInputError] = []
    for _ in range(2):
        try:
            return PatientCreate.model_validate({"local_code": record, **values}), errors
        except ValidationError as exc:
            found = [
                InvalidInputError("record_id" if e.field == "local_code" else e.field,
                                  e.reason, e.code)
                for e in errors_from_pydantic(exc.errors())
            ]  # fmt: skip
            errors += found
            bad = {e.field for e in found}
            if bad - set(values):  # a required field or the record id: nothing more to check
                return None, errors
            values = {k: v for k, v in values.items() if k not in bad}
    return None, errors


def _patient_errors(
    record: str, cells: dict[str, str]
) -> tuple[dict[str, Any] | None, list[InvalidInputError]]:
    """The checked patient of a row, or None, with EVERY problem of the row."""
    values, errors = _cell_values(cells)
    bad = {e.field for e in errors}
    data, schema_errors = _request(record, {k: v for k, v in values.items() if k not in bad})
    errors += schema_errors
    if data is None:
        return None, errors
    fields = data.model_dump(include=set(PATIENT_FIELDS))
    try:
        domain, _ = validate_patient(domain_patient_dict("row", "import", fields))
    except ValidationFailedError as exc:
        seen = {(e.field, e.code) for e in errors}
        errors += [e for e in exc.errors if (e.field, e.code) not in seen]
        return None, errors
    return ({"data": data, "domain": domain} if not errors else None), errors


def _parse_patient(parsed: _Parsed, line: int, record: str, cells: dict[str, str]) -> None:
    info, errors = _patient_errors(record, cells)
    if record in parsed.patients or record in parsed.invalid:
        errors.append(InvalidInputError(
            "record_id", f"record {record} appears twice in the file", "duplicate_patient"
        ))  # fmt: skip
    for e in errors:
        parsed.error(line, record, e)
    if errors or info is None:
        parsed.invalid.setdefault(record, line)
        return
    parsed.patients[record] = (line, info)


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
    for line, raw_cells in _read_rows(text, parsed):
        cells = normalise_choices(raw_cells)
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
            if stray:
                parsed.invalid.setdefault(record, line)
            _count_entered(parsed, cells)
            _parse_patient(parsed, line, record, cells)
    return parsed


def _orphan(parsed: _Parsed, record: str) -> InvalidInputError:
    """Why an event row has no patient to join: an invalid patient row, or none at all."""
    if record in parsed.invalid:
        return InvalidInputError(
            "record_id",
            f"the patient row of record {record} (line {parsed.invalid[record]}) is invalid; "
            "this event is checked against the history once that row is fixed",
            "patient_row_invalid",
        )
    return InvalidInputError("record_id", f"no patient row for record {record}", "unknown_record")


def _check_histories(parsed: _Parsed) -> None:
    for record, events in parsed.events.items():
        if record not in parsed.patients:
            for line, _ in events:
                parsed.error(line, record, _orphan(parsed, record))
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
        errors = tuple(sorted(parsed.errors, key=lambda e: (e.row, e.field)))
        return ImportReport(0, 0, errors, _entered(parsed, parsed.header))
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
            **_stored(info["domain"], info["data"].model_dump(include=set(PATIENT_FIELDS))),
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
    return ImportReport(len(parsed.patients), n_events, (), _entered(parsed, parsed.header))
