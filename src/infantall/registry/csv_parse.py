"""Reading an import file as a stream and checking each row (phase 1 of
:mod:`infantall.registry.csv_import`).

Rows are parsed one at a time from the file object (``csv`` over a decoding text wrapper:
never the whole file as one string or a list of lines); each row is checked by the rules of
the API (request schema + domain model), and only a compact, validated form of each record
is kept (its line, notes and domain patient; its events as dictionaries) for the history
check and the writer.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from pydantic import ValidationError

from infantall.domain import Patient as DomainPatient
from infantall.errors import InvalidInputError
from infantall.registry.csv_report import LABELS, ImportReport, NotEntered, RowError
from infantall.registry.dictionary import (
    DATA_DICTIONARY,
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    normalise_choices,
)
from infantall.registry.errors import ValidationFailedError
from infantall.registry.events import EVENT_ADAPTER
from infantall.registry.export import EXPORT_ONLY_COLUMNS, FORMULA_TRIGGERS
from infantall.registry.schemas import PatientCreate
from infantall.registry.validation import (
    CHOICE_FIELDS,
    PATIENT_FIELDS,
    domain_patient_dict,
    errors_from_pydantic,
    validate_history,
    validate_patient,
)

__all__ = [
    "DEFAULT_MAX_ROWS",
    "PROGRESS_EVERY",
    "ParsedImport",
    "Progress",
    "check_histories",
    "parse_csv",
]

Progress = Callable[[int], None]

_KNOWN = {v.name for v in DATA_DICTIONARY} | set(EXPORT_ONLY_COLUMNS)
_REQUIRED = tuple(v.name for v in DATA_DICTIONARY if v.required)
#: Row limit of one file when the caller sets none (settings: ``max_import_rows``).
DEFAULT_MAX_ROWS = 200_000
#: Control characters other than tab and newline (NUL would not even fit PostgreSQL text).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: Rows between two progress calls while validating.
PROGRESS_EVERY = 2000


@dataclass(slots=True)
class _Record:
    """A validated patient row: its line, its notes, the domain patient and its choices as
    given (``None``: not entered, stored empty; see ``registry.patients._stored``)."""

    line: int
    notes: str | None
    domain: DomainPatient
    choices: dict[str, Any]


@dataclass
class ParsedImport:
    """A file read and validated: the records to write, or every problem."""

    patients: dict[str, _Record] = field(default_factory=dict)
    events: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    #: Records whose patient row is invalid -> the line of that row.
    invalid: dict[str, int] = field(default_factory=dict)
    #: Choice columns of the patient rows: column -> [not entered, "unknown"] counts.
    entered: dict[str, list[int]] = field(default_factory=dict)
    header: set[str] = field(default_factory=set)
    rows_read: int = 0

    def error(self, row: int, record: str, err: InvalidInputError) -> None:
        self.errors.append(RowError(row, record, err.field, err.reason, err.code))

    def refused(self) -> ImportReport:
        """The report of a file that imports nothing: every problem, in file order."""
        errors = tuple(sorted(self.errors, key=lambda e: (e.row, e.field)))
        return ImportReport(0, 0, errors, self.not_entered())

    def not_entered(self) -> tuple[NotEntered, ...]:
        """Per choice column of the patient rows, what was left blank or said unknown."""
        return tuple(
            NotEntered(name, LABELS[name], n_blank, n_unknown, name not in self.header)
            for name, (n_blank, n_unknown) in self.entered.items()
            if n_blank or n_unknown
        )


def _unescape(value: str) -> str:
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_TRIGGERS:
        return value[1:]
    return value


#: Separators a spreadsheet may write instead of commas (Excel in many European locales: ';').
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _header_problems(header: list[str]) -> list[InvalidInputError]:
    if len(header) == 1:
        for sep, name in _OTHER_SEPARATORS.items():
            if sep in header[0] and "record_id" in header[0].split(sep):
                return [InvalidInputError("file", (
                    f"the columns are separated by {name}, not commas: save the file as CSV "
                    "with commas (in Excel: CSV UTF-8, comma delimited)"
                ), "invalid_format")]  # fmt: skip
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
    return problems


def _clean_row(parsed: ParsedImport, line: int, row: dict[str | Any, Any]) -> dict[str, str] | None:
    record = str(row.get("record_id") or "")
    bad = sorted(k for k, v in row.items() if isinstance(v, str) and _CONTROL.search(v))
    for name in bad:
        parsed.error(line, record, InvalidInputError(
            str(name), "NUL and control characters are not allowed", "forbidden_character"
        ))  # fmt: skip
        row[name] = ""  # the row's other cells are still checked
    if None in row:
        parsed.error(line, record, InvalidInputError("row", "more cells than columns",
                                                     "invalid_format"))  # fmt: skip
        return None
    return {k: _unescape(v) for k, v in row.items() if v not in ("", None)}


def _read_rows(
    text: IO[str], parsed: ParsedImport, max_rows: int, progress: Progress | None
) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of ``text`` one at a time (line number, non-empty cells)."""
    reader = csv.DictReader(text)
    header = reader.fieldnames or []
    parsed.header = set(header)
    problems = _header_problems(list(header))
    for p in problems:
        parsed.error(1, "", p)
    if problems:
        return
    for row in reader:
        parsed.rows_read += 1
        if parsed.rows_read > max_rows:
            parsed.error(reader.line_num, "", InvalidInputError(
                "file", f"more than {max_rows} rows; split the file", "too_many_rows"
            ))  # fmt: skip
            return
        if progress is not None and parsed.rows_read % PROGRESS_EVERY == 0:
            progress(parsed.rows_read)
        cells = _clean_row(parsed, reader.line_num, row)
        if cells is not None:
            yield reader.line_num, cells


_NUMERIC = frozenset(v.name for v in DATA_DICTIONARY if v.validation == "number")
#: Choice columns of the patient rows (what can be "not entered" or "unknown").
_CHOICE_COLUMNS = tuple(
    v for v in DATA_DICTIONARY if v.form == "patient" and v.choices and v.name in PATIENT_COLUMNS
)


def _count_entered(parsed: ParsedImport, cells: dict[str, str]) -> None:
    for v in _CHOICE_COLUMNS:
        counts = parsed.entered.setdefault(v.name, [0, 0])
        value = cells.get(v.name, "").strip()
        if not value:
            counts[0] += 1
        elif value.lower() == "unknown":
            counts[1] += 1


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
    refused: set[str] = set()
    for _ in range(2):
        try:
            return PatientCreate.model_validate({"local_code": record, **values}), errors
        except ValidationError as exc:
            found = [
                InvalidInputError("record_id" if e.field == "local_code" else e.field,
                                  e.reason, e.code)
                for e in errors_from_pydantic(exc.errors())
            ]  # fmt: skip
            # a field refused in the first pass is left out of the second: it is not also
            # "missing" (a required date given as 05/01/2024 is one problem, not two)
            found = [e for e in found if e.field not in refused]
            refused |= {e.field for e in found}
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
    info = {"notes": data.notes, "domain": domain, "choices": {n: fields[n] for n in CHOICE_FIELDS}}
    return (info if not errors else None), errors


def _parse_patient(parsed: ParsedImport, line: int, record: str, cells: dict[str, str]) -> None:
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
    parsed.patients[record] = _Record(line, info["notes"], info["domain"], info["choices"])


def _parse_event(parsed: ParsedImport, line: int, record: str, cells: dict[str, str]) -> None:
    raw = {k[len("event_") :]: v for k, v in cells.items() if k in EVENT_COLUMNS}
    raw["kind"] = raw.pop("kind", "")
    try:
        event = EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        for e in errors_from_pydantic(exc.errors()):
            parsed.error(line, record, InvalidInputError(f"event_{e.field}", e.reason, e.code))
        return
    parsed.events.setdefault(record, []).append((line, event.to_dict()))


def _parse_row(parsed: ParsedImport, line: int, cells: dict[str, str]) -> None:
    record = cells.get("record_id", "")
    instrument = cells.get("redcap_repeat_instrument", "")
    if not record:
        parsed.error(
            line, "", InvalidInputError("record_id", "record_id is empty", "missing_field")
        )
    elif instrument == "event":
        _parse_event(parsed, line, record, cells)
    elif instrument:
        parsed.error(line, record, InvalidInputError(
            "redcap_repeat_instrument", f"unknown instrument {instrument!r}; use 'event'",
            "invalid_choice",
        ))  # fmt: skip
    else:
        stray = sorted(c for c in cells if c in EVENT_COLUMNS)
        for name in stray:
            parsed.error(line, record, InvalidInputError(
                name, "event columns belong on event rows", "unknown_field"
            ))  # fmt: skip
        if stray:
            parsed.invalid.setdefault(record, line)
        _count_entered(parsed, cells)
        _parse_patient(parsed, line, record, cells)


def _text_stream(content: bytes | str | IO[bytes]) -> IO[str]:
    """A text stream over ``content`` (UTF-8, a leading BOM dropped), decoded as it is read."""
    if isinstance(content, str):
        return io.StringIO(content, newline="")
    raw = io.BytesIO(content) if isinstance(content, bytes) else content
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def parse_csv(
    content: bytes | str | IO[bytes], max_rows: int, progress: Progress | None
) -> ParsedImport:
    parsed = ParsedImport()
    text = _text_stream(content)
    try:
        for line, raw_cells in _read_rows(text, parsed, max_rows, progress):
            _parse_row(parsed, line, normalise_choices(raw_cells))
    except UnicodeDecodeError:
        parsed.errors = [RowError(0, "", "file", "the file is not UTF-8", "invalid_encoding")]
    except csv.Error as exc:
        parsed.error(parsed.rows_read + 1, "", InvalidInputError(
            "file", f"not a readable CSV file: {exc}", "invalid_format"
        ))  # fmt: skip
    finally:
        if not isinstance(content, str):
            text.detach()  # type: ignore[attr-defined]  # the caller closes its own file
    return parsed


def _orphan(parsed: ParsedImport, record: str) -> InvalidInputError:
    """Why an event row has no patient to join: an invalid patient row, or none at all."""
    if record in parsed.invalid:
        return InvalidInputError(
            "record_id",
            f"the patient row of record {record} (line {parsed.invalid[record]}) is invalid; "
            "this event is checked against the history once that row is fixed",
            "patient_row_invalid",
        )
    return InvalidInputError("record_id", f"no patient row for record {record}", "unknown_record")


def check_histories(parsed: ParsedImport) -> None:
    for record, events in parsed.events.items():
        if record not in parsed.patients:
            for line, _ in events:
                parsed.error(line, record, _orphan(parsed, record))
            continue
        info = parsed.patients[record]
        ids = [f"row-{line}" for line, _ in events]
        try:
            validate_history(info.domain.to_dict(), [e for _, e in events], ids)
        except ValidationFailedError as exc:
            for e in exc.errors:
                line, name = events[0][0], e.field
                if name.startswith("events[row-"):
                    index, _, rest = name[len("events[row-") :].partition("]")
                    line, name = int(index), f"event_{rest.lstrip('.')}" if rest else "event_kind"
                parsed.error(line, record, InvalidInputError(name, e.reason, e.code))
