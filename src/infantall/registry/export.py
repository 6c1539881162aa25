"""CSV/Parquet export of the caller's scope, and the de-identified pooled export for
coordinators.

Pooled export: identifiers are replaced by an HMAC-SHA-256 of the registry id under the
pseudonym key (kept outside the database: GDPR Art. 4(5), EDPB Guidelines 01/2025); all
dates of a patient are shifted by the same offset in [0, 364] days derived from the same
key (REDCap's de-identified export shifts dates by up to 364 days, the same within a
record), so intervals are kept; age at diagnosis is kept, birth date, site-local code and
free text are dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from infantall.registry import audit
from infantall.registry.access import Principal, require_role
from infantall.registry.dictionary import DATA_DICTIONARY, EVENT_COLUMNS, PATIENT_COLUMNS
from infantall.registry.histories import scoped_rows
from infantall.registry.models import Event, Patient, Role
from infantall.registry.security import keyed_hash

__all__ = [
    "EXPORT_ONLY_COLUMNS",
    "FORMULA_TRIGGERS",
    "date_shift_days",
    "export_table",
    "pooled_export_table",
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
    """The caller's scope in the import layout (plus registry id and site); audited."""
    patients, events = scoped_rows(session, principal)
    table = _integers(pd.DataFrame(_flat_rows(patients, events), columns=list(_COLUMNS)))
    _audit_export(session, principal, "full", fmt, len(patients))
    return table


def pseudonym(key: str, registry_id: str) -> str:
    """The pooled-export id of a patient: HMAC-SHA-256 under the pseudonym key (24 hex)."""
    return keyed_hash(key, f"id:{registry_id}")[:24]


def date_shift_days(key: str, registry_id: str) -> int:
    """The patient's date shift in [0, 364] days, fixed by the pseudonym key."""
    return int(keyed_hash(key, f"shift:{registry_id}")[:12], 16) % 365


_POOLED_DROP = ("birth_date", "notes", "event_diagnosis", "redcap_repeat_instrument")
_DATE_COLUMNS = ("diagnosis_date", "enrollment_date", "event_date")


def pooled_export_table(
    session: Session, principal: Principal, key: str, fmt: str = "csv"
) -> pd.DataFrame:
    """De-identified pooled data of every site (coordinators); audited.

    One row per patient and per event: ``pseudonym`` instead of ids, dates shifted by the
    patient's offset (columns ``*_shifted``), ``age_days`` kept; no birth date, local code
    or free text.
    """
    require_role(principal, frozenset({Role.coordinator}), "export pooled data")
    patients, events = scoped_rows(session, principal)
    rows = _flat_rows(patients, events)
    by_id = {p.registry_id: p for p, _ in patients}
    out = []
    for row in rows:
        rid = row["registry_id"]
        shift = dt.timedelta(days=date_shift_days(key, rid))
        new = {
            "pseudonym": pseudonym(key, rid),
            "site_code": row["site_code"],
            "record_type": row.get("redcap_repeat_instrument") or "patient",
            "age_days": by_id[rid].age_days,
        }
        for k, v in row.items():
            if k in _POOLED_DROP or k in ("record_id", "registry_id", "site_code"):
                continue
            if k in _DATE_COLUMNS:
                value = v if isinstance(v, dt.date) else (dt.date.fromisoformat(v) if v else None)
                new[f"{k}_shifted"] = value + shift if value is not None else None
            else:
                new[k] = v
        out.append(new)
    _audit_export(session, principal, "pooled_deidentified", fmt, len(patients))
    return _integers(pd.DataFrame(out))


def _integers(table: pd.DataFrame) -> pd.DataFrame:
    for column in ("redcap_repeat_instance", "event_grade", "age_days"):
        if column in table.columns:
            table[column] = table[column].astype("Int64")
    return table


def _audit_export(session: Session, principal: Principal, kind: str, fmt: str, n: int) -> None:
    session.commit()  # end the read transaction before writing the audit row
    audit.record(
        session,
        principal,
        "export",
        "export",
        kind,
        site_id=None if principal.reads_all_sites else principal.site_id,
        new={"kind": kind, "format": fmt, "patients": n},
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
