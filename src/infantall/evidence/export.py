"""Complete, flat and round-trippable export of the evidence base.

:func:`export_rows` turns records into flat rows (one per reported number, plus one row for
each record that reports no number) that carry *every* field of the record: the HSCT block
(``hsct_*``), the combined-row studies (``components``, a JSON list), the full provenance
(``source_*``) and the record's and the result's notes. :func:`records_from_rows` is the
inverse, so ``records_from_rows(export_rows(records)) == records`` (also after a trip through
CSV, whose cells are strings). :func:`export_payload` is the whole base with provenance.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

from infantall.errors import InvalidInputError
from infantall.evidence.schema import Hsct, Result, Source, TrialRecord

__all__ = [
    "EXPORT_COLUMNS",
    "export_payload",
    "export_rows",
    "records_from_rows",
]

_RECORD_SCALARS: tuple[str, ...] = (
    "record_id",
    "trial_id",
    "study",
    "group",
    "accrual_start",
    "accrual_end",
    "population",
    "population_label",
    "arm",
    "n",
    "protocol_type",
)
_RECORD_RENAMED: dict[str, str] = {"ambiguity": "record_ambiguity", "note": "record_note"}
_JSON_LISTS: tuple[str, ...] = ("countries", "components", "disagreements")
_HSCT: tuple[str, ...] = tuple(Hsct.model_fields)
_SOURCE: tuple[str, ...] = tuple(Source.model_fields)
_RESULT_RENAMED: dict[str, str] = {
    "n": "result_n",
    "quote": "result_quote",
    "note": "result_note",
    "ambiguity": "result_ambiguity",
}
_RESULT: tuple[str, ...] = tuple(Result.model_fields)

EXPORT_COLUMNS: tuple[str, ...] = (
    *_RECORD_SCALARS,
    "countries",
    *(f"hsct_{k}" for k in _HSCT),
    "components",
    *(f"source_{k}" for k in _SOURCE),
    "record_ambiguity",
    "record_note",
    "result_index",
    *(_RESULT_RENAMED.get(k, k) for k in _RESULT),
    "disagreements",
)
"""Columns of :func:`export_rows`: every field of :class:`TrialRecord` and :class:`Result`.
``result_index`` (0-based) is empty on the row of a record that reports no number;
``disagreements`` lists the ids of the flagged disagreements between seeds that involve the
record (see :mod:`infantall.evidence.disagreements`)."""


def _record_part(rec: TrialRecord, flagged: Sequence[str]) -> dict[str, Any]:
    dumped = rec.model_dump(mode="json")
    row: dict[str, Any] = {k: dumped[k] for k in _RECORD_SCALARS}
    row["countries"] = list(dumped["countries"])
    hsct = dumped["hsct"] or {}
    row.update({f"hsct_{k}": hsct.get(k) for k in _HSCT})
    row["components"] = list(dumped["components"])
    row.update({f"source_{k}": dumped["source"].get(k) for k in _SOURCE})
    row.update({new: dumped[old] for old, new in _RECORD_RENAMED.items()})
    row["disagreements"] = list(flagged)
    return row


def export_rows(
    records: Iterable[TrialRecord], flagged: Mapping[str, Sequence[str]] | None = None
) -> list[dict[str, Any]]:
    """One flat row per reported number, and one per record without any (JSON-safe values).

    ``flagged`` maps a record id to the ids of the disagreements that involve it.
    """
    rows: list[dict[str, Any]] = []
    for rec in records:
        base = _record_part(rec, (flagged or {}).get(rec.record_id, ()))
        results = rec.results or (None,)
        for i, res in enumerate(results):
            row = dict(base)
            dumped = res.model_dump(mode="json") if res is not None else {}
            row["result_index"] = i if res is not None else None
            row.update({_RESULT_RENAMED.get(k, k): dumped.get(k) for k in _RESULT})
            rows.append({c: row[c] for c in EXPORT_COLUMNS})
    return rows


def _cell(value: Any, name: str) -> Any:
    """A cell as exported, or as read back from CSV (strings; empty means missing)."""
    if isinstance(value, str) and name in _JSON_LISTS:
        return json.loads(value) if value.strip() else []
    if value == "" or value is None:
        return None
    return value


def _unflatten(row: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    get = {c: _cell(row.get(c), c) for c in EXPORT_COLUMNS}
    rec: dict[str, Any] = {k: get[k] for k in _RECORD_SCALARS}
    rec["countries"] = get["countries"] or []
    rec["components"] = get["components"] or []
    hsct = {k: get[f"hsct_{k}"] for k in _HSCT}
    rec["hsct"] = hsct if hsct["n"] is not None else None
    rec["source"] = {k: get[f"source_{k}"] for k in _SOURCE}
    rec.update({old: get[new] for old, new in _RECORD_RENAMED.items()})
    if get["result_index"] is None:
        return rec, None
    return rec, {k: get[_RESULT_RENAMED.get(k, k)] for k in _RESULT}


def records_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[TrialRecord, ...]:
    """Rebuild the records from :func:`export_rows` rows (or the CSV of them).

    Raises
    ------
    InvalidInputError
        A row lacks ``record_id`` or a rebuilt record fails the schema (code ``bad_export``).
    """
    order: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(rows):
        if not row.get("record_id"):
            raise InvalidInputError(f"rows[{i}].record_id", "missing", "bad_export")
        rec, res = _unflatten(row)
        kept = order.setdefault(rec["record_id"], {**rec, "results": []})
        if res is not None:
            kept["results"].append(res)
    out = []
    for rid, raw in order.items():
        try:
            out.append(TrialRecord.model_validate(raw))
        except ValueError as exc:
            raise InvalidInputError(f"record {rid}", str(exc), "bad_export") from exc
    return tuple(out)


def file_digest(text: str) -> str:
    """The SHA-256 of a data file's text (the export's provenance)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_version() -> str | None:
    """The installed infantall version, or None when run from a bare source tree."""
    try:
        return metadata.version("infantall")
    except metadata.PackageNotFoundError:
        return None


def export_payload(
    records: Sequence[TrialRecord],
    *,
    totals: Sequence[Any] = (),
    disagreements: Sequence[Any] = (),
    statements: Sequence[Any] = (),
    files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole base as one JSON-safe mapping: provenance, records (nested, every field),
    printed totals, flagged disagreements between the seeds and the numeric statements."""
    return {
        "provenance": {
            "package": "infantall",
            "version": package_version(),
            "seeds": sorted({r.source.seed for r in records if r.source.seed}),
            "data_files": dict(files or {}),
            "counts": {
                "records": len(records),
                "results": sum(len(r.results) for r in records),
                "records_without_results": sum(1 for r in records if not r.results),
                "disagreements": len(disagreements),
                "statements": len(statements),
            },
        },
        "records": [r.model_dump(mode="json") for r in records],
        "totals": [t.model_dump(mode="json") for t in totals],
        "disagreements": [d.model_dump(mode="json") for d in disagreements],
        "statements": [s.model_dump(mode="json") for s in statements],
    }
