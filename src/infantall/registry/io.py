"""The registry's files: CSV import (:mod:`infantall.registry.csv_import`) and CSV/Parquet
export, pooled and de-identified for coordinators (:mod:`infantall.registry.export`).

This module is the one place callers import them from; each half lives in its own module.
"""

from __future__ import annotations

from infantall.registry.csv_import import ImportReport, RowError, import_csv, problems_csv
from infantall.registry.export import (
    EXPORT_ONLY_COLUMNS,
    FORMULA_TRIGGERS,
    DeidOptions,
    PooledExport,
    date_shift_days,
    export_table,
    pooled_export,
    pseudonym,
    table_bytes,
    template_csv,
)

__all__ = [
    "EXPORT_ONLY_COLUMNS",
    "FORMULA_TRIGGERS",
    "DeidOptions",
    "ImportReport",
    "PooledExport",
    "RowError",
    "date_shift_days",
    "export_table",
    "import_csv",
    "pooled_export",
    "problems_csv",
    "pseudonym",
    "table_bytes",
    "template_csv",
]
