"""CSV/Parquet export of the caller's scope, and the de-identified pooled export for
coordinators.

Pooled export (:func:`pooled_export`): pseudonyms instead of identifiers, the patient's one
date shift (in both directions, shared with every pseudonymised output), year-only or
relative dates on request, generalised quasi-identifiers, suppression of classes under k
and a manifest (:mod:`infantall.registry.pooled_export`, :mod:`infantall.registry.deidentify`).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from infantall.registry import audit
from infantall.registry.access import Principal, require_record_level, require_role
from infantall.registry.deidentify import DeidOptions, date_shift_days, pseudonym
from infantall.registry.dictionary import DATA_DICTIONARY, EVENT_COLUMNS, PATIENT_COLUMNS
from infantall.registry.histories import scoped_rows
from infantall.registry.models import Event, Patient, Role
from infantall.registry.pooled_export import PooledExport, build_pooled_export

__all__ = [
    "EXPORT_ONLY_COLUMNS",
    "FORMULA_TRIGGERS",
    "DeidOptions",
    "PooledExport",
    "date_shift_days",
    "export_table",
    "pooled_export",
    "pseudonym",
    "table_bytes",
    "template_csv",
]

#: Columns an export adds (ignored by the import): the registry id and the site code.
EXPORT_ONLY_COLUMNS = ("registry_id", "site_code")
#: First characters that make a spreadsheet evaluate a cell (OWASP "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_FREE_TEXT = ("notes", "event_diagnosis")


def _flat_rows(
    patients: list[tuple[Patient, str]], events: dict[int, list[Event]]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for p, code in patients:
        row: dict[str, Any] = {
            "record_id": p.local_code,
            "registry_id": p.registry_id,
            "site_code": code,
        }
        row.update({c: getattr(p, c) for c in PATIENT_COLUMNS})
        rows.append(row)
        for i, e in enumerate(events.get(p.id, []), start=1):
            ev: dict[str, Any] = {
                "record_id": p.local_code,
                "registry_id": p.registry_id,
                "site_code": code,
                "redcap_repeat_instrument": "event",
                "redcap_repeat_instance": i,
            }
            ev.update({f"event_{k}": v for k, v in e.data.items()})
            rows.append(ev)
    return rows


_COLUMNS = (
    "record_id",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    *PATIENT_COLUMNS,
    *EVENT_COLUMNS,
    *EXPORT_ONLY_COLUMNS,
)


def template_csv() -> str:
    """An empty import file: the header row of every column of the data dictionary, in its
    order (patient columns, then the ``event_*`` columns). A blank cell means *not
    entered*; write ``unknown`` for a value that was looked for and is unknown."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([v.name for v in DATA_DICTIONARY])
    return out.getvalue()


def export_table(session: Session, principal: Principal, fmt: str = "csv") -> pd.DataFrame:
    """The caller's scope in the import layout (plus registry id and site); audited.
    Coordinators: 403 ``pooled_only`` here, so that every presenter (API, pages, CLI) refuses
    them the identified rows (their export is :func:`pooled_export`)."""
    require_record_level(principal, "export identified patient records")
    patients, events = scoped_rows(session, principal)
    table = _integers(pd.DataFrame(_flat_rows(patients, events), columns=list(_COLUMNS)))
    _audit_export(session, principal, "full", fmt, len(patients))
    return table


def pooled_export(
    session: Session,
    principal: Principal,
    key: str,
    options: DeidOptions | None = None,
    fmt: str = "csv",
) -> PooledExport:
    """De-identified pooled data of every site (coordinators) and its manifest; audited
    with the options and the k-anonymity achieved.

    One row per patient and per event under the patient's pseudonym; dates per
    ``options.dates`` with the patient's one date shift (the same as in the coordinator's
    analysis dataset); no birth date, local code or free text; classes under ``options.k``
    suppressed (:mod:`infantall.registry.pooled_export`).
    """
    require_role(principal, frozenset({Role.coordinator}), "export pooled data")
    opts = options or DeidOptions()
    patients, events = scoped_rows(session, principal)
    result = build_pooled_export(patients, events, key, opts)
    extra = {**opts.as_dict(), "k_achieved": result.manifest["k_achieved"],
             "patients_out": result.manifest["patients_out"]}  # fmt: skip
    _audit_export(session, principal, "pooled_deidentified", fmt, len(patients), extra)
    return result


def _integers(table: pd.DataFrame) -> pd.DataFrame:
    for column in ("redcap_repeat_instance", "event_grade", "age_days"):
        if column in table.columns:
            table[column] = table[column].astype("Int64")
    return table


def _audit_export(
    session: Session,
    principal: Principal,
    kind: str,
    fmt: str,
    n: int,
    extra: dict[str, Any] | None = None,
) -> None:
    session.commit()  # end the read transaction before writing the audit row
    audit.record(
        session,
        principal,
        "export",
        "export",
        kind,
        site_id=None if principal.reads_all_sites else principal.site_id,
        new={"kind": kind, "format": fmt, "patients": n, **(extra or {})},
    )
    session.commit()


def _escape(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def table_bytes(table: pd.DataFrame, fmt: str) -> bytes:
    """The table as CSV (free-text cells formula-escaped) or Parquet bytes."""
    if fmt == "parquet":
        buf = io.BytesIO()
        table.astype({c: "string" for c in table.columns if table[c].dtype == object}).to_parquet(
            buf, index=False
        )
        return buf.getvalue()
    safe = table.copy()
    for column in _FREE_TEXT:
        if column in safe.columns:
            safe[column] = safe[column].map(_escape)
    text = safe.to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8")
