"""What a CSV import reports: its problems (per row and field), counts, and what was not
entered; the problems as a CSV a data manager can work through.

Kept apart from the parser (:mod:`infantall.registry.csv_import`) and the job runner
(:mod:`infantall.registry.import_jobs`), which both fill these records.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass, field

import pandas as pd

from infantall.registry.dictionary import DATA_DICTIONARY
from infantall.registry.export import FORMULA_TRIGGERS

__all__ = ["LABELS", "PROBLEM_COLUMNS", "ImportReport", "NotEntered", "RowError", "problems_csv"]

#: Column name -> label of the data dictionary.
LABELS = {v.name: v.label for v in DATA_DICTIONARY}
#: Columns of the CSV of problems an import offers for download.
PROBLEM_COLUMNS = ("line", "record_id", "column", "label", "problem", "code")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of an import file: CSV line, record, field, reason and stable code."""

    row: int
    record_id: str
    field: str
    reason: str
    code: str

    def as_record(self) -> dict[str, object]:
        """The fields as a flat, JSON-safe record."""
        return dataclasses.asdict(self)


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
    for each choice column what was not entered as opposed to entered as ``unknown``.

    ``committed_through_line`` is the CSV line of the last patient row whose record (the
    patient and all its events) is committed; records are committed in the order of their
    patient rows, so every record whose patient row comes later is not in the registry.
    """

    imported_patients: int
    imported_events: int
    errors: tuple[RowError, ...] = field(default=())
    not_entered: tuple[NotEntered, ...] = field(default=())
    committed_through_line: int | None = None

    @property
    def ok(self) -> bool:
        """True when the file was imported."""
        return not self.errors

    @property
    def summary(self) -> pd.DataFrame:
        """The errors as a table (one row per row and field)."""
        return pd.DataFrame([dataclasses.asdict(e) for e in self.errors])


def _escape(value: str) -> str:
    return "'" + value if value[:1] in FORMULA_TRIGGERS else value


def problems_csv(report: ImportReport) -> str:
    """The problems of a refused import as CSV (:data:`PROBLEM_COLUMNS`), one per line and
    column, for the data manager to work through; cells that a spreadsheet would evaluate
    are quoted with a leading apostrophe (OWASP "CSV Injection")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PROBLEM_COLUMNS)
    for e in report.errors:
        cells = (e.row, e.record_id, e.field, LABELS.get(e.field, ""), e.reason, e.code)
        writer.writerow([_escape(str(c)) for c in cells])
    return out.getvalue()
