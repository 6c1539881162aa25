"""Read a cohort CSV (one patient per row) in chunks with a row-level error report, and
stratify it chunk by chunk (bounded memory).

Columns: the :class:`~infantall.domain.Patient` fields (``patient_id`` required; empty
cells are unknown), plus optional ``induction_response`` (cr, no_cr, unknown),
``mrd_<time point>`` fractions (see :data:`~infantall.protocols.features.MRD_FEATURES`) and
``cr_to_hsct_days``. Choice values are accepted whatever their case and normalised
(``Rearranged`` -> ``rearranged``, ``cns3`` -> ``CNS3``). Each invalid row is reported with
its row number (1 = first data row), patient id, field, reason and stable code; valid rows
are kept.

:func:`iter_cohort_csv` reads :data:`CHUNK_ROWS` rows at a time, so memory does not grow
with the file; :func:`read_cohort_csv` joins the chunks (small files, tests).
:func:`absent_column_warnings` names the columns a protocol needs that the header lacks.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infantall.domain import MRD_MAX, MRD_MIN, PATIENT_FIELDS, InvalidRecordError, Patient, choices
from infantall.errors import InfantallWarning, InvalidInputError
from infantall.protocols.conditions import fields_of
from infantall.protocols.engine import decide, resolve_params
from infantall.protocols.fast_rows import plain_rows
from infantall.protocols.features import (
    CATEGORIES,
    CR_TO_HSCT_DAYS,
    MRD_AFTER_CONSOLIDATION,
    MRD_FEATURES,
    encode_frame,
)
from infantall.protocols.registry import get_protocol
from infantall.protocols.vectorised import stratify_frame_all

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHUNK_ROWS",
    "DECISION_COLUMNS",
    "EXPLAIN_COLUMNS",
    "CohortCSV",
    "absent_column_warnings",
    "cohort_header",
    "decision_frame",
    "decision_frames",
    "decisions_csv",
    "iter_cohort_csv",
    "normalise_choices",
    "read_cohort_csv",
    "stratify_cohort",
]

#: Rows read, validated and stratified at a time.
CHUNK_ROWS = 25_000
_PATIENT_COLUMNS = tuple(PATIENT_FIELDS)
#: The stored codes of the end-of-induction response (the domain's ``Response.status``).
_RESPONSES = tuple(code for code, _ in choices("status", kind="response"))
_EXTRA_COLUMNS = ("induction_response", *MRD_FEATURES, CR_TO_HSCT_DAYS)
#: Lower-cased value -> canonical value of every choice column.
_CANONICAL: dict[str, dict[str, str]] = {
    name: {c.lower(): c for c in cats} for name, cats in CATEGORIES.items()
}
_CANONICAL["sex"] = {c.lower(): c for c, _ in choices("sex")}
#: Columns that can supply a feature the rules read (any one of the alternatives).
_SUPPLIERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "age_days": (("age_days",), ("birth_date", "diagnosis_date")),
    "prednisone_response": (("prednisone_response",), ("day8_blasts",)),
    MRD_AFTER_CONSOLIDATION: (("mrd_end_of_consolidation",), ("mrd_start_of_octadad",)),
}


@dataclass(frozen=True, slots=True)
class CohortCSV:
    """Valid rows as a DataFrame (Patient fields + extra columns), the row errors (row,
    patient_id, field, reason, code) and warnings on kept rows (row, patient_id, warning)."""

    frame: pd.DataFrame
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]


def normalise_choices(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with choice values in their canonical case (unknown spellings kept, for
    the validator to report)."""
    out = dict(record)
    for name, table in _CANONICAL.items():
        value = out.get(name)
        if isinstance(value, str):
            out[name] = table.get(value.strip().lower(), value)
    return out


def _extra_errors(row: Mapping[str, Any]) -> list[InvalidInputError]:
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
    for name in (*MRD_FEATURES, CR_TO_HSCT_DAYS):
        value = row.get(name)
        if value is None:
            continue
        try:
            number = float(value)
        except ValueError:
            errors.append(InvalidInputError(name, f"{value!r} is not a number", "invalid_type"))
            continue
        if name == CR_TO_HSCT_DAYS:
            if not math.isfinite(number):
                errors.append(InvalidInputError(name, f"{value} is not finite", "invalid_type"))
        elif math.isnan(number) or not MRD_MIN <= number <= MRD_MAX:
            reason = f"{value} is not a fraction in [{MRD_MIN:g}, {MRD_MAX:g}]"
            errors.append(InvalidInputError(name, reason, "mrd_out_of_range"))
    return errors


def cohort_header(path: Path) -> list[str]:
    """The checked header of ``path`` (empty for an empty file).

    Raises
    ------
    ValueError
        When the file cannot be read or its header has unknown or missing columns (a
        file-level problem, reported before any row; the message names the file by name).
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path.name}: cannot read CSV ({exc})") from None
    header = [h.strip() for h in header]
    unknown = [c for c in header if c not in _PATIENT_COLUMNS and c not in _EXTRA_COLUMNS]
    if unknown:
        raise ValueError(
            f"{path.name}: unknown column(s) {', '.join(unknown)}; accepted: "
            f"{', '.join(_PATIENT_COLUMNS + _EXTRA_COLUMNS)}"
        )
    if header and "patient_id" not in header:
        raise ValueError(f"{path.name}: the column patient_id is required")
    return header


def absent_column_warnings(
    header: Iterable[str], protocols: Iterable[str]
) -> list[tuple[str, tuple[str, ...]]]:
    """(columns, protocols) for every feature the protocols read that no column supplies
    (``columns`` names the alternatives, e.g. ``age_days or birth_date and diagnosis_date``).
    An empty header (empty file) needs no warning."""
    present = set(header)
    if not present:
        return []
    absent: dict[str, list[str]] = {}
    for pid in protocols:
        proto = get_protocol(pid)
        needed = dict.fromkeys(f for r in proto.rules for f in fields_of(r.condition))
        for feature in needed:
            options = _SUPPLIERS.get(feature, ((feature,),))
            if not any(set(o) <= present for o in options):
                name = " or ".join(" and ".join(o) for o in options)
                absent.setdefault(name, []).append(proto.id)
    return [(column, tuple(ids)) for column, ids in absent.items()]


def iter_cohort_csv(path: Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[CohortCSV]:
    """Validate ``path`` ``chunk_rows`` rows at a time (row numbers count from the file's
    first data row). Raises ``ValueError`` as :func:`cohort_header`."""
    import pandas as pd
    import pyarrow as pa

    header = cohort_header(path)
    if not header:
        return
    try:
        with pd.read_csv(
            path,
            dtype=pd.StringDtype("pyarrow"),
            keep_default_na=False,
            na_values=[],
            chunksize=chunk_rows,
            encoding="utf-8-sig",
            skipinitialspace=True,
        ) as reader:
            start = 1
            for chunk in reader:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                yield _validate_chunk(chunk, start)
                start += len(chunk)
                # hand Arrow's freed buffers back, or the pool's footprint creeps up
                pa.default_memory_pool().release_unused()
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path.name}: cannot read CSV ({exc})") from None


def read_cohort_csv(path: Path) -> CohortCSV:
    """Read and validate the whole of ``path`` (see :func:`iter_cohort_csv`)."""
    import pandas as pd

    parts = list(iter_cohort_csv(path))
    columns = [*_PATIENT_COLUMNS, *_EXTRA_COLUMNS]
    if not parts:
        return CohortCSV(pd.DataFrame(columns=columns), [], [])
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    errors = [e for p in parts for e in p.errors]
    notes = [w for p in parts for w in p.warnings]
    return CohortCSV(frame, errors, notes)


def _validate_chunk(chunk: pd.DataFrame, start: int) -> CohortCSV:
    """Plain rows column-wise (:func:`~infantall.protocols.fast_rows.plain_rows`), the
    others one by one through the domain's validator; rows keep the file's order."""
    import numpy as np
    import pandas as pd

    for name, table in _CANONICAL.items():
        if name in chunk.columns:
            codes, uniques = pd.factorize(chunk[name])
            canonical = [table.get(u.strip().lower(), u.strip()) for u in uniques]
            canonical.append("")  # code -1: a missing cell
            chunk[name] = pd.Series(
                np.asarray(canonical, dtype=object)[codes], index=chunk.index, dtype=object
            )
    chunk.index = pd.RangeIndex(start, start + len(chunk))
    ok, plain = plain_rows(chunk)
    valid: list[dict[str, Any]] = []
    index: list[int] = []
    errors: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    rest = chunk[~ok]
    for i, raw in zip(rest.index, rest.to_dict("records"), strict=True):
        row = {k: ((v.strip() or None) if isinstance(v, str) else None) for k, v in raw.items()}
        pid = row.get("patient_id") or ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InfantallWarning)
            problems, patient = _parse_row(row)
        notes.extend({"row": i, "patient_id": pid, "warning": str(w.message)} for w in caught)
        if patient is None:
            errors.extend({"row": i, "patient_id": pid, **e.as_dict()} for e in problems)
            continue
        valid.append({**patient.to_dict(), **{c: row.get(c) for c in _EXTRA_COLUMNS}})
        index.append(i)
    columns = [*_PATIENT_COLUMNS, *_EXTRA_COLUMNS]
    others = pd.DataFrame(valid, columns=columns, index=index)
    frame = pd.concat([plain[columns], others]) if len(others) else plain[columns]
    return CohortCSV(frame.sort_index(kind="stable"), errors, notes)


def _parse_row(row: dict[str, Any]) -> tuple[list[InvalidInputError], Patient | None]:
    problems = _extra_errors(row)
    fields = {k: v for k, v in row.items() if k in _PATIENT_COLUMNS and v is not None}
    try:
        patient = Patient.from_dict(fields)
    except InvalidRecordError as exc:
        return list(exc.errors) + problems, None
    return problems, (None if problems else patient)


#: Columns of :func:`decision_frame` (and of every ``infantall stratify`` output), then the
#: ones ``explain`` adds.
DECISION_COLUMNS = (
    "patient_id",
    "protocol",
    "version",
    "group",
    "flags",
    "missing_fields",
    "reachable_groups",
    "undetermined_flags",
    "flag_missing_fields",
)
EXPLAIN_COLUMNS = ("fired_rules", "explanation", "sources", "conventions")


def decision_frames(
    cohort: CohortCSV,
    protocols: Iterable[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    explain: bool = False,
) -> Iterator[pd.DataFrame]:
    """Per protocol, one row per valid patient in :data:`DECISION_COLUMNS` (plus
    :data:`EXPLAIN_COLUMNS` with ``explain``); the decision columns are categorical."""
    columns = list(DECISION_COLUMNS) + (list(EXPLAIN_COLUMNS) if explain else [])
    if cohort.frame.empty:
        return
    ids = cohort.frame["patient_id"].astype(str).to_numpy()
    frames = stratify_frame_all(cohort.frame, list(protocols), params)
    for pid, frame in frames.items():
        part = frame.reset_index(drop=True)
        part.insert(0, "patient_id", ids)
        if explain:
            values = (params or {}).get(pid)
            for name, column in _explained(cohort.frame, pid, values).items():
                part[name] = column
        yield part[columns]


def decision_frame(
    cohort: CohortCSV,
    protocols: Iterable[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    explain: bool = False,
) -> pd.DataFrame:
    """:func:`decision_frames` joined (protocol by protocol)."""
    import pandas as pd

    columns = list(DECISION_COLUMNS) + (list(EXPLAIN_COLUMNS) if explain else [])
    parts = list(decision_frames(cohort, protocols, params, explain))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat([p.astype(str) for p in parts], ignore_index=True)


def decisions_csv(frame: pd.DataFrame) -> str:
    """The rows of one :func:`decision_frames` frame as CSV text (no header).

    Rows share few distinct decision tails (group, flags, ...): each distinct tail is
    formatted once and joined to the quoted patient ids, instead of formatting every cell.
    """
    import io

    import numpy as np
    import pandas as pd

    tail_columns = list(frame.columns[1:])
    if not all(isinstance(frame[c].dtype, pd.CategoricalDtype) for c in tail_columns):
        return str(frame.to_csv(header=False, index=False, lineterminator="\n"))
    key = np.zeros(len(frame), dtype=np.int64)
    for c in tail_columns:
        cat = frame[c].cat
        key = key * (len(cat.categories) + 1) + (cat.codes.to_numpy().astype(np.int64) + 1)
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    del uniq
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="")
    tails = []
    for row in frame.iloc[first][tail_columns].astype(str).itertuples(index=False):
        buf.seek(0)
        buf.truncate()
        writer.writerow(row)
        tails.append(buf.getvalue())
    raw_ids = frame["patient_id"].astype(str)
    special = raw_ids.str.contains(r'[,"\r\n]|^\s|\s$', regex=True)
    ids = raw_ids.where(~special, raw_ids[special].map(_quoted)).tolist()
    tail_of = [tails[i] for i in inverse.reshape(-1).tolist()]
    return "".join(f"{a},{b}\n" for a, b in zip(ids, tail_of, strict=True))


def _quoted(value: str) -> str:
    if any(ch in value for ch in ',"\r\n') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def _explained(
    frame: pd.DataFrame, protocol: str, params: Mapping[str, Any] | None
) -> dict[str, list[str]]:
    """Explanation, sources and conventions per row (the per-patient engine; slower)."""
    import json

    import numpy as np

    proto = get_protocol(protocol)
    values = resolve_params(proto, params)
    data = encode_frame(frame)
    out: dict[str, list[str]] = {"explanation": [], "sources": [], "conventions": []}
    for i in range(data.n):
        feats: dict[str, Any] = {
            k: (None if np.isnan(v[i]) else float(v[i])) for k, v in data.numeric.items()
        }
        for k, (codes, cats) in data.categorical.items():
            feats[k] = cats[codes[i]] if codes[i] >= 0 else "unknown"
        d = decide(proto, feats, values)
        out["explanation"].append(d.explanation)
        out["sources"].append(" | ".join(s.text() for s in d.sources))
        conventions = {k: list(v) if isinstance(v, tuple) else v for k, v in d.conventions.items()}
        out["conventions"].append(json.dumps(conventions))
    return out


def stratify_cohort(
    cohort: CohortCSV,
    protocols: Iterable[str],
    explain: bool = False,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One record per (valid patient, protocol), via the vectorised engine."""
    if cohort.frame.empty:
        return []
    frames = stratify_frame_all(cohort.frame, list(protocols), params)
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
