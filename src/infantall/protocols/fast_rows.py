"""Column-wise screening of cohort-CSV rows: which rows are plainly valid.

Validating every row through :class:`~infantall.domain.Patient` costs tens of microseconds
a row; a 285,783-row file would spend most of its time there. This module checks whole
columns with NumPy/pandas for the *plain* case only: every value well-formed and inside the
domain's bounds with no warning (age 1–365 days, WBC ≤ 1,000 × 10^9/L, ...), dates in ISO
form and in order, and no cross-field conflict (prednisone class vs day-8 blasts, fusion
partner vs KMT2A status, age vs dates). Those rows are built directly, with the derivations
the domain makes (age from the dates, prednisone class from the blasts). Every other row
goes to the domain's validator, which gives the exact errors and warnings. A property test
checks that screened rows are valid and identical to the validator's records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from infantall.domain import (
    IMPLAUSIBLE_WBC,
    INFANT_MAX_AGE_DAYS,
    MAX_BLASTS_PER_UL,
    MRD_MAX,
    MRD_MIN,
    PATIENT_FIELDS,
    PPR_THRESHOLD_PER_UL,
    choices,
)
from infantall.protocols.features import CATEGORIES, CR_TO_HSCT_DAYS, MRD_FEATURES

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plain_rows"]

_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_CHOICE_COLUMNS = {name: set(cats) for name, cats in CATEGORIES.items()}
_CHOICE_COLUMNS["sex"] = {c for c, _ in choices("sex")}
_RESPONSES = {c for c, _ in choices("status", kind="response")}
_PARTNERS = {"AFF1", "MLLT1", "MLLT3", "MLLT10", "other"}


def _b(series: Any) -> Any:
    """A boolean Series (numpy or Arrow-backed) as a numpy bool array (NA -> False)."""
    return series.to_numpy(dtype=bool, na_value=False)


def _numbers(col: pd.Series[Any], lo: float, hi: float) -> tuple[Any, Any]:
    """(values, ok): ok where the cell is empty or a plain number in [lo, hi]."""
    import pandas as pd

    empty = _b(col.eq(""))
    numbers = pd.to_numeric(col.where(~empty), errors="coerce")
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    plain = _b(col.str.match(_NUMBER))
    with np.errstate(invalid="ignore"):
        ok = empty | (plain & (values >= lo) & (values <= hi))
    return values, ok


def _dates(col: pd.Series[Any]) -> tuple[Any, Any]:
    import pandas as pd

    empty = _b(col.eq(""))
    parsed = pd.to_datetime(col.where(~empty), format="%Y-%m-%d", errors="coerce")
    ok = empty | (_b(col.str.match(_DATE)) & parsed.notna().to_numpy())
    return parsed, ok


def plain_rows(chunk: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
    """(mask of plain rows, their records as a frame of Patient fields + extra columns).

    ``chunk`` holds strings ("" = empty; Arrow-backed for speed) with choice values
    already stripped and in canonical case; a value with surrounding spaces is not plain.
    The frame has the columns of ``Patient.to_dict()`` and the extra columns, with the
    domain's derivations applied.
    """
    import pandas as pd

    n = len(chunk)
    ok = np.ones(n, dtype=bool)
    blank = pd.Series([""] * n, index=chunk.index, dtype=pd.StringDtype("pyarrow"))
    col = {
        c: chunk[c] if c in chunk.columns else blank
        for c in [*PATIENT_FIELDS, "induction_response", *MRD_FEATURES, CR_TO_HSCT_DAYS]
    }
    ok &= ~_b(col["patient_id"].str.match(r"^\s*$|^\s|.*\s$"))
    for name, allowed in _CHOICE_COLUMNS.items():
        if name in col:
            ok &= _b(col[name].isin(allowed | {""}))
    ok &= _b(col["induction_response"].isin(_RESPONSES | {""}))
    age_text = col["age_days"]
    age_plain = _b(age_text.eq("")) | _b(age_text.str.match(r"^\d{1,3}$"))
    ok &= age_plain
    age, age_ok = _numbers(age_text.where(age_plain, ""), 1, INFANT_MAX_AGE_DAYS)
    ok &= age_ok
    wbc, wbc_ok = _numbers(col["wbc"], 0.0, IMPLAUSIBLE_WBC)
    blasts, blasts_ok = _numbers(col["day8_blasts"], 0.0, MAX_BLASTS_PER_UL)
    ok &= wbc_ok & blasts_ok
    for name in MRD_FEATURES:
        ok &= _numbers(col[name], MRD_MIN, MRD_MAX)[1]
    ok &= _numbers(col[CR_TO_HSCT_DAYS], -1e300, 1e300)[1]
    birth, b_ok = _dates(col["birth_date"])
    diagnosis, d_ok = _dates(col["diagnosis_date"])
    enrollment, e_ok = _dates(col["enrollment_date"])
    ok &= b_ok & d_ok & e_ok
    computed = (diagnosis - birth).dt.days.to_numpy(dtype=float, na_value=np.nan)
    has_both = ~np.isnan(computed)
    with np.errstate(invalid="ignore"):
        ok &= ~has_both | ((computed >= 1) & (computed <= INFANT_MAX_AGE_DAYS))
        ok &= ~has_both | np.isnan(age) | (age == computed)
        late = (enrollment < diagnosis).to_numpy(dtype=bool)
    ok &= ~late
    pred_given = _b(col["prednisone_response"].isin(["good", "poor"]))
    derived = np.where(blasts >= PPR_THRESHOLD_PER_UL, "poor", "good")
    has_blasts = ~np.isnan(blasts)
    pred = col["prednisone_response"].to_numpy(dtype=object)
    ok &= ~(has_blasts & pred_given) | (pred == derived)
    kmt2a = col["kmt2a"].to_numpy(dtype=object)
    partner = col["fusion_partner"].to_numpy(dtype=object)
    ok &= ~((kmt2a == "germline") & np.isin(partner, list(_PARTNERS)))
    ok &= ~((kmt2a == "rearranged") & (partner == "none"))
    return ok, _records(chunk, col, ok, age, computed, wbc, blasts)


def _records(
    chunk: pd.DataFrame,
    col: dict[str, Any],
    ok: Any,
    age: Any,
    computed: Any,
    wbc: Any,
    blasts: Any,
) -> pd.DataFrame:
    import pandas as pd

    rows = np.flatnonzero(ok)
    out: dict[str, Any] = {}
    for name in PATIENT_FIELDS:
        values = col[name].to_numpy()[rows]
        if name in _CHOICE_COLUMNS or name in ("protocol", "site"):
            values = np.where(values == "", "unknown", values)
        elif name in ("birth_date", "diagnosis_date", "enrollment_date"):
            values = np.where(values == "", None, values)
        out[name] = values
    age_final = np.where(np.isnan(computed), age, computed)[rows]
    out["age_days"] = pd.array(np.where(np.isnan(age_final), np.nan, age_final)).astype("Int64")
    out["wbc"] = wbc[rows]
    out["day8_blasts"] = blasts[rows]
    pred = out["prednisone_response"]
    b = blasts[rows]
    out["prednisone_response"] = np.where(
        np.isnan(b), pred, np.where(b >= PPR_THRESHOLD_PER_UL, "poor", "good")
    )
    for name in ("induction_response", *MRD_FEATURES, CR_TO_HSCT_DAYS):
        values = col[name].to_numpy(dtype=object)[rows]
        out[name] = np.where(values == "", None, values)
    frame = pd.DataFrame(out)
    frame.index = chunk.index[rows]
    return frame
