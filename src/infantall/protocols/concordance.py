"""How often the protocols disagree: every patient stratified under every protocol, and the
pairwise agreement of protocols on who is high risk (share alike and Cohen's kappa)."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infantall.domain import PatientHistory
from infantall.protocols.api import stratify_all

__all__ = [
    "CONCORDANCE_PROTOCOLS",
    "HIGH_RISK_GROUPS",
    "ConcordanceResult",
    "protocol_concordance",
    "stratify_histories",
]

#: The groups counted as "high risk" when two protocols are compared. A protocol without
#: one of these groups (e.g. the KMT2A-status-only protocols) is compared on KMT2A-r instead.
HIGH_RISK_GROUPS = frozenset({"HR", "KMT2A-r"})

#: The protocols whose groups are compared for concordance (those that assign a risk group).
CONCORDANCE_PROTOCOLS: tuple[str, ...] = (
    "interfant-99",
    "interfant-06",
    "jplsg-mll-10",
    "cog-aall0631",
)


def stratify_histories(histories: Sequence[PatientHistory]) -> pd.DataFrame:
    """The group of every patient under every protocol (rows: patients; columns: protocols).

    Uses :func:`infantall.protocols.stratify_all`, so each cell is what the engine decides,
    ``indeterminate`` included.
    """
    rows: dict[str, dict[str, str]] = {}
    with warnings.catch_warnings():
        # implausible-value warnings were raised when the histories were built
        warnings.simplefilter("ignore")
        for h in histories:
            decisions = stratify_all(h)
            rows[h.patient.patient_id] = {
                p: d.group for p, d in decisions.items() if p != "prognostic-factors"
            }
    return pd.DataFrame.from_dict(rows, orient="index")


@dataclass(frozen=True, slots=True)
class ConcordanceResult:
    """Agreement of two protocols on who is high risk.

    ``agreement`` is the share of patients (determinate under both) classified alike;
    ``kappa`` is Cohen's kappa of that 2 × 2 table (statsmodels ``cohens_kappa``).
    """

    protocol_a: str
    protocol_b: str
    n: int
    agreement: float
    kappa: float
    high_a_only: int
    high_b_only: int

    def as_dict(self) -> dict[str, Any]:
        """The result as a flat record with a reader's column names (rounded)."""
        return {
            "protocol A": self.protocol_a,
            "protocol B": self.protocol_b,
            "patients (determinate under both)": self.n,
            "agreement, %": round(100.0 * self.agreement, 1),
            "Cohen's kappa": round(self.kappa, 3),
            "high risk under A only": self.high_a_only,
            "high risk under B only": self.high_b_only,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the fields (unrounded; NaN as ``None``)."""
        return {
            "protocol_a": self.protocol_a,
            "protocol_b": self.protocol_b,
            "n": self.n,
            "agreement": self.agreement if math.isfinite(self.agreement) else None,
            "kappa": self.kappa if math.isfinite(self.kappa) else None,
            "high_a_only": self.high_a_only,
            "high_b_only": self.high_b_only,
        }

    @property
    def summary(self) -> pd.DataFrame:
        """One-row table of :meth:`to_dict`."""
        return pd.DataFrame([self.to_dict()])


def _pair(groups: pd.DataFrame, a: str, b: str) -> ConcordanceResult | None:
    from statsmodels.stats.inter_rater import cohens_kappa  # heavy: only when comparing

    both = groups[[a, b]]
    ok = ~both.isin(["indeterminate", "not_eligible"]).any(axis=1)
    ha = both.loc[ok, a].isin(HIGH_RISK_GROUPS).to_numpy()
    hb = both.loc[ok, b].isin(HIGH_RISK_GROUPS).to_numpy()
    n = int(ok.sum())
    if n == 0:
        return None
    table = np.array(
        [[np.sum(ha & hb), np.sum(ha & ~hb)], [np.sum(~ha & hb), np.sum(~ha & ~hb)]],
        dtype=float,
    )
    agreement = float((table[0, 0] + table[1, 1]) / n)
    # kappa is undefined when both protocols put everyone in one class
    expected_all_one = table.sum(axis=0).min() == 0 and table.sum(axis=1).min() == 0
    kappa = 1.0 if expected_all_one else float(cohens_kappa(table, return_results=False))
    return ConcordanceResult(a, b, n, agreement, kappa, int(table[0, 1]), int(table[1, 0]))


def protocol_concordance(
    groups: pd.DataFrame, protocols: Sequence[str] = CONCORDANCE_PROTOCOLS
) -> list[ConcordanceResult]:
    """Pairwise agreement of ``protocols`` on the high-risk classification.

    ``groups`` is :func:`stratify_histories` (patients by protocols). Patients indeterminate
    (or not eligible) under either protocol of a pair are left out of that pair; a pair with
    no patient left is left out.
    """
    present = [p for p in protocols if p in groups.columns]
    pairs = (_pair(groups, a, b) for a, b in itertools.combinations(present, 2))
    return [r for r in pairs if r is not None]
