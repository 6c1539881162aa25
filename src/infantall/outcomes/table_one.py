"""Table 1: the cohort's diagnosis features by risk group and overall.

Counts are n (% of patients with a known value); continuous features are median [IQR]
(NumPy's linear percentiles, R ``quantile(type = 7)``); a share or median with no known value
is ``n/e`` (not estimable).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infantall.domain import PatientHistory
from infantall.outcomes._json import records
from infantall.outcomes.questions import clinical_order

__all__ = ["TableOne", "table_one"]


@dataclass(frozen=True, slots=True)
class TableOne:
    """Table 1 by group.

    ``cells`` is the long numeric form, one row per feature and column (``all`` then the
    groups in order): ``feature, column, kind`` (``count``, ``share`` or ``median_iqr``),
    ``n`` and ``known`` (shares), ``median, q1, q3`` and ``digits`` (medians).
    """

    cells: pd.DataFrame
    features: tuple[str, ...]
    columns: tuple[str, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """The printed table: features (rows) by columns, as ``n (x%)`` or ``median [q1–q3]``."""
        text = {(r.feature, r.column): _format(r) for r in self.cells.itertuples(index=False)}
        return pd.DataFrame(
            {c: [text[(f, c)] for f in self.features] for c in self.columns},
            index=list(self.features),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the columns, the features and every cell in numbers."""
        return {
            "columns": list(self.columns),
            "features": list(self.features),
            "cells": records(self.cells),
        }


def _format(r: Any) -> str:
    if r.kind == "count":
        return str(int(r.n))
    if r.kind == "share":
        if r.known == 0:
            return "n/e"
        return f"{int(r.n)} ({100.0 * r.n / r.known:.0f}%)"
    if np.isnan(r.median):
        return "n/e"
    d = int(r.digits)
    return f"{r.median:.{d}f} [{r.q1:.{d}f}–{r.q3:.{d}f}]"


def _features(histories: Sequence[PatientHistory]) -> pd.DataFrame:
    rows = []
    for h in histories:
        p = h.patient
        rows.append(
            {
                "patient_id": p.patient_id,
                "age_days": p.age_days,
                "wbc": p.wbc,
                "kmt2a": p.kmt2a.value,
                "fusion": p.fusion_partner.value,
                "cd10": p.cd10.value,
                "cns": p.cns.value,
                "ppr": p.prednisone_response.value,
                "sex": p.sex.value,
            }
        )
    return pd.DataFrame(rows).set_index("patient_id")


def _median_iqr(values: pd.Series, digits: int) -> dict[str, Any]:
    v = values.dropna()
    if v.empty:
        return {"kind": "median_iqr", "median": np.nan, "q1": np.nan, "q3": np.nan,
                "digits": digits}  # fmt: skip
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {"kind": "median_iqr", "median": float(med), "q1": float(q1), "q3": float(q3),
            "digits": digits}  # fmt: skip


def _share(mask: pd.Series, known: pd.Series) -> dict[str, Any]:
    return {"kind": "share", "n": int((mask & known).sum()), "known": int(known.sum())}


#: The rows of Table 1: label -> cell of one column's features.
_ROWS: dict[str, Callable[[pd.DataFrame], dict[str, Any]]] = {
    "patients": lambda f: {"kind": "count", "n": len(f)},
    "age at diagnosis, days": lambda f: _median_iqr(f["age"], 0),
    "age < 90 days": lambda f: _share(f["age"] < 90, f["age"].notna()),
    "age < 6 months (< 183 days)": lambda f: _share(f["age"] < 183, f["age"].notna()),
    "male": lambda f: _share(f["sex"] == "male", f["sex"] != "unknown"),
    "KMT2A rearranged": lambda f: _share(f["kmt2a"] == "rearranged", f["kmt2a"] != "unknown"),
    "  AFF1 (t(4;11)) among KMT2A-r": lambda f: _share(
        f["fusion"] == "AFF1", (f["kmt2a"] == "rearranged") & (f["fusion"] != "unknown")
    ),
    "WBC, 10^9/L": lambda f: _median_iqr(f["wbc"], 1),
    "WBC ≥ 300": lambda f: _share(f["wbc"] >= 300, f["wbc"].notna()),
    "CD10 negative": lambda f: _share(f["cd10"] == "negative", f["cd10"] != "unknown"),
    "CNS3": lambda f: _share(f["cns"] == "CNS3", f["cns"] != "unknown"),
    "prednisone poor response": lambda f: _share(f["ppr"] == "poor", f["ppr"] != "unknown"),
}


def table_one(
    histories: Sequence[PatientHistory], groups: pd.Series, *, protocol: str | None = None
) -> TableOne:
    """Table 1 of ``histories`` with one column per group after ``all``.

    ``groups`` maps patient id to its group (e.g. the Interfant-06 risk group); patients
    without one are in ``indeterminate``. The group columns are in the clinical order of
    ``protocol``'s risk groups (:func:`~infantall.outcomes.questions.clinical_order`; LR, MR,
    HR for Interfant-06), then other labels, then indeterminate.
    """
    feats = _features(histories)
    feats["group"] = groups.reindex(feats.index).fillna("indeterminate")
    feats["age"] = pd.to_numeric(feats["age_days"], errors="coerce")
    feats["wbc"] = pd.to_numeric(feats["wbc"], errors="coerce")
    parts: dict[str, pd.DataFrame] = {"all": feats}
    for g in clinical_order(feats["group"].unique(), protocol):
        parts[str(g)] = feats[feats["group"] == g]
    cells = [
        {"feature": label, "column": name, "n": np.nan, "known": np.nan, **cell(f)}
        for name, f in parts.items()
        for label, cell in _ROWS.items()
    ]
    columns = ["feature", "column", "kind", "n", "known", "median", "q1", "q3", "digits"]
    table = pd.DataFrame(cells).reindex(columns=columns)
    return TableOne(table, tuple(_ROWS), tuple(parts))
