"""Outcomes after allogeneic HSCT in first CR, by study and pooled (seed 004 Table 3).

Table 3 of Kotecha et al. (2014) counts, per trial, the infants transplanted in CR1 and their
outcome: continued CR1, death in CR, relapse. These are real counts (not Kaplan-Meier
percentages), so each outcome is pooled as a binomial proportion: random effects (REML) on
the logit scale by default, with metafor's continuity correction for a 0 count; the crude
total (Σ events / Σ N, the table's Total row) is given beside it.

What this cannot show: the table has no non-transplanted comparator, so it describes
outcomes after HSCT; it does not estimate a benefit of HSCT (and patients had to stay in CR
until transplant: immortal-time bias).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infantall.errors import InvalidInputError
from infantall.synthesis._json import frame_records, json_safe
from infantall.synthesis.evidence_inputs import evidence_frame
from infantall.synthesis.inputs import proportion_inputs
from infantall.synthesis.model import Method
from infantall.synthesis.pool import PooledProportion, pool_proportions, study_intervals
from infantall.synthesis.transforms import Transform

__all__ = ["HSCT_OUTCOMES", "HsctSynthesis", "hsct_counts_from_evidence", "pool_hsct_outcomes"]

HSCT_OUTCOMES: dict[str, str] = {
    "continued_cr1": "Continued first CR",
    "death_in_cr": "Death in CR",
    "relapse": "Relapse",
}
"""Outcome columns of seed 004 Table 3 and their printed names."""

_EVIDENCE_ENDPOINTS = {
    "continued_cr": "continued_cr1",
    "death_in_cr": "death_in_cr",
    "relapse": "relapse",
}


def hsct_counts_from_evidence(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-study counts of Table 3 from the evidence base (population ``hsct_cr1``).

    Returns columns study, group, accrual_start, accrual_end, n_hsct, continued_cr1,
    death_in_cr, relapse, source_location.

    Raises
    ------
    InvalidInputError
        The evidence base holds no HSCT-in-CR1 outcome counts (``no_hsct_records``).
    """
    if frame is None:
        frame = evidence_frame()
    rows = frame[
        (frame["population"] == "hsct_cr1")
        & frame["endpoint"].isin(list(_EVIDENCE_ENDPOINTS))
        & frame["events"].notna()
    ]
    if rows.empty:
        raise InvalidInputError(
            "evidence", "the evidence base has no HSCT-in-CR1 outcome counts", "no_hsct_records"
        )
    wide = rows.pivot_table(
        index=[
            "record_id",
            "study",
            "group",
            "accrual_start",
            "accrual_end",
            "n",
            "source_location",
        ],
        columns="endpoint",
        values="events",
        aggfunc="first",
    ).reset_index()
    wide = wide.rename(columns={**_EVIDENCE_ENDPOINTS, "n": "n_hsct"})
    wide.columns.name = None
    order = {rid: i for i, rid in enumerate(dict.fromkeys(rows["record_id"]))}
    wide = wide.sort_values("record_id", key=lambda s: s.map(order)).reset_index(drop=True)
    cols = [
        "study",
        "group",
        "accrual_start",
        "accrual_end",
        "n_hsct",
        *HSCT_OUTCOMES,
        "source_location",
    ]
    out = wide.reindex(columns=cols)
    for c in ("accrual_start", "accrual_end", "n_hsct", *HSCT_OUTCOMES):
        out[c] = out[c].astype(float)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class HsctSynthesis:
    """Table 3 by study and pooled.

    Attributes
    ----------
    by_study
        One row per study: N transplanted and, per outcome, the count and percentage with a
        95% CI (logit Wald, back-transformed).
    pooled
        One row per outcome: k, Σ events / Σ N with the crude %, the pooled % with CI and
        prediction interval, τ², I² and Q's p.
    results
        The full :class:`PooledProportion` per outcome.
    notes
        Choices made (model, continuity correction) and the limits of the data.
    """

    by_study: pd.DataFrame
    pooled: pd.DataFrame
    results: dict[str, PooledProportion]
    notes: tuple[str, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """The pooled table."""
        return self.pooled

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the by-study and pooled rows and the notes."""
        out: dict[str, Any] = json_safe(
            {
                "by_study": frame_records(self.by_study),
                "pooled": frame_records(self.pooled),
                "notes": list(self.notes),
            }
        )
        return out


def _check_counts(counts: pd.DataFrame) -> None:
    for _, row in counts.iterrows():
        total = sum(float(row[c]) for c in HSCT_OUTCOMES)
        if total > float(row["n_hsct"]) + 1e-9:
            raise InvalidInputError(
                f"hsct[{row['study']}]",
                f"outcome counts sum to {total:g}, more than the {row['n_hsct']:g} transplanted",
                "hsct_counts_exceed_n",
            )


def pool_hsct_outcomes(
    counts: pd.DataFrame | None = None,
    *,
    transform: Transform | str = Transform.logit,
    method: Method | str = Method.REML,
    knha: bool = False,
) -> HsctSynthesis:
    """Pool continued CR1, death in CR and relapse after HSCT in CR1 across studies.

    Parameters
    ----------
    counts
        Columns study, n_hsct, continued_cr1, death_in_cr, relapse (default: from the
        evidence base, :func:`hsct_counts_from_evidence`).
    """
    data = hsct_counts_from_evidence() if counts is None else counts.reset_index(drop=True)
    _check_counts(data)
    by_study = data.drop(columns=["source_location"], errors="ignore").copy()
    results: dict[str, PooledProportion] = {}
    pooled_rows = []
    notes: list[str] = []
    for col, label in HSCT_OUTCOMES.items():
        n = data["n_hsct"].to_numpy(dtype=float)
        x = data[col].to_numpy(dtype=float)
        inp = proportion_inputs(data["study"].astype(str).tolist(), 100.0 * x / n, n)
        res = pool_proportions(inp, transform=transform, method=method, knha=knha)
        results[col] = res
        low, high = study_intervals(res.effects)
        by_study[f"{col}_pct"] = 100.0 * x / n
        by_study[f"{col}_ci_low_pct"] = 100.0 * low
        by_study[f"{col}_ci_high_pct"] = 100.0 * high
        rec = res.as_record()
        pooled_rows.append(
            {
                "outcome": label,
                "k": rec["k"],
                "events": float(np.sum(x)),
                "n": float(np.sum(n)),
                "crude_pct": 100.0 * float(np.sum(x)) / float(np.sum(n)),
                **{
                    key: rec[key]
                    for key in (
                        "estimate_pct",
                        "ci_low_pct",
                        "ci_high_pct",
                        "pi_low_pct",
                        "pi_high_pct",
                        "tau2",
                        "i2_pct",
                        "q_p",
                    )
                },
            }
        )
        notes.extend(n_ for n_ in res.notes if n_ not in notes and "Variance from" not in n_)
    notes.insert(0, "Outcomes after HSCT are counts, pooled as binomial proportions.")
    notes.append(
        "Table 3 has no non-transplanted comparator: it describes outcomes after HSCT and "
        "cannot by itself show or exclude a benefit of HSCT (patients also had to remain in "
        "CR until transplant)."
    )
    return HsctSynthesis(
        by_study=by_study, pooled=pd.DataFrame(pooled_rows), results=results, notes=tuple(notes)
    )
