"""Read and validate the curated evidence files shipped in ``infantall/evidence/data``.

A malformed file raises :class:`infantall.errors.DataFileError` naming the file, the record
(its ``record_id``, or its position when the id itself is missing) and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from infantall.errors import DataFileError
from infantall.evidence.schema import Disagreement, Statement, TableTotal, TrialRecord

__all__ = [
    "DISAGREEMENTS_FILE",
    "ENRICHMENT_FILES",
    "SEED_FILES",
    "STATEMENT_FILES",
    "data_dir",
    "read_data_file",
    "read_data_files",
    "read_disagreements",
    "read_statements",
]

SEED_FILES: tuple[str, ...] = (
    "seed000_table1.yaml",
    "seed000_text.yaml",
    "seed004_table1.yaml",
    "seed004_table2.yaml",
    "seed004_table3.yaml",
    "seed004_text.yaml",
)
"""The data files curated from the two seed reviews, in load order."""

ENRICHMENT_FILES: tuple[str, ...] = ("enrichment.yaml",)

STATEMENT_FILES: tuple[str, ...] = ("seed000_statements.yaml", "seed004_statements.yaml")
"""The numeric statements of the seeds' running text (see :class:`Statement`)."""

DISAGREEMENTS_FILE = "disagreements.yaml"
"""The flagged disagreements between the seeds (see :mod:`infantall.evidence.disagreements`)."""
"""Later published results (each with a DOI or registry id), kept apart from the seeds."""


def data_dir() -> Path:
    """The folder of the shipped data files."""
    return Path(str(resources.files("infantall.evidence") / "data"))


def _field_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<record>"


def _validate(
    cls: type[TrialRecord] | type[TableTotal] | type[Disagreement] | type[Statement],
    raw: object,
    file: str,
    label: str,
) -> Any:
    if not isinstance(raw, Mapping):
        raise DataFileError(file, label, "<record>", "expected a mapping of fields")
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DataFileError(file, label, _field_path(err["loc"]), err["msg"]) from exc


def read_data_file(path: Path) -> tuple[str, list[TrialRecord], list[TableTotal]]:
    """Parse one YAML data file into (title, records, totals), validating every record.

    Raises
    ------
    DataFileError
        The file is unreadable, is not YAML of the expected shape, or a record fails the
        schema of :mod:`infantall.evidence.schema`.
    """
    name = path.name
    try:
        # libyaml's C loader when present (several times faster), else the pure-Python one.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise DataFileError(name, "<file>", "<file>", f"cannot be read as YAML: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise DataFileError(name, "<file>", "<file>", "top level must be a mapping")
    unknown = set(doc) - {"title", "records", "totals"}
    if unknown:
        raise DataFileError(name, "<file>", sorted(unknown)[0], "unknown top-level key")
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip():
        raise DataFileError(name, "<file>", "title", "a non-empty title is required")
    raw_records = doc.get("records")
    if not isinstance(raw_records, list) or not raw_records:
        raise DataFileError(name, "<file>", "records", "a non-empty list of records is required")
    records: list[TrialRecord] = []
    for i, raw in enumerate(raw_records):
        rid = raw.get("record_id") if isinstance(raw, Mapping) else None
        label = str(rid) if isinstance(rid, str) and rid else f"#{i + 1}"
        records.append(_validate(TrialRecord, raw, name, label))
    raw_totals = doc.get("totals") or []
    if not isinstance(raw_totals, list):
        raise DataFileError(name, "<file>", "totals", "must be a list")
    totals = [
        _validate(TableTotal, raw, name, f"total #{i + 1}") for i, raw in enumerate(raw_totals)
    ]
    return title, records, totals


def read_data_files(paths: Iterable[Path]) -> tuple[list[TrialRecord], list[TableTotal]]:
    """Read several data files; record ids must be unique across all of them."""
    records: list[TrialRecord] = []
    totals: list[TableTotal] = []
    seen: dict[str, str] = {}
    for path in paths:
        _, recs, tots = read_data_file(path)
        for rec in recs:
            if rec.record_id in seen:
                raise DataFileError(
                    path.name,
                    rec.record_id,
                    "record_id",
                    f"duplicate id (already defined in {seen[rec.record_id]})",
                )
            seen[rec.record_id] = path.name
        records.extend(recs)
        totals.extend(tots)
    return records, totals


def _read_list(path: Path, key: str) -> list[Any]:
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise DataFileError(
            path.name, "<file>", "<file>", f"cannot be read as YAML: {exc}"
        ) from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get(key), list):
        raise DataFileError(path.name, "<file>", key, "a list is required")
    return list(doc[key])


def read_disagreements(path: Path) -> list[Disagreement]:
    """Read the flagged disagreements (a mapping with the key ``disagreements``)."""
    return [
        _validate(Disagreement, raw, path.name, f"disagreement #{i + 1}")
        for i, raw in enumerate(_read_list(path, "disagreements"))
    ]


def read_statements(paths: Iterable[Path]) -> list[Statement]:
    """Read the numeric-statement files (key ``statements``); ids must be unique."""
    out: list[Statement] = []
    seen: set[str] = set()
    for path in paths:
        for i, raw in enumerate(_read_list(path, "statements")):
            sid = raw.get("statement_id") if isinstance(raw, Mapping) else None
            label = str(sid) if isinstance(sid, str) and sid else f"#{i + 1}"
            st = _validate(Statement, raw, path.name, label)
            if st.statement_id in seen:
                raise DataFileError(path.name, label, "statement_id", "duplicate id")
            seen.add(st.statement_id)
            out.append(st)
    return out
