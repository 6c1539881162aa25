"""Subgroup analysis with a test of subgroup differences.

Each subgroup is pooled on its own (its own τ², as R meta's ``subgroup`` with
``tau.common = FALSE``), then the subgroup estimates on the pooling scale are compared by the
between-group Q statistic Q_B = Σ (θ_g − θ̄)²/SE_g², θ̄ the inverse-variance mean, on G − 1
df (Borenstein et al. 2009, ch. 19). This equals metafor ``rma(theta_g, sei = se_g,
method = "FE")$QE``. A subgroup of one study enters with its own estimate and sampling SE.
The alternative with a common τ² is the meta-regression on the grouping variable
(:func:`infantall.synthesis.metareg.meta_regression`), whose Q_M is reported beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from infantall.errors import InvalidInputError
from infantall.synthesis._json import frame_records, json_safe
from infantall.synthesis.inputs import ProportionInputs
from infantall.synthesis.model import Method
from infantall.synthesis.pool import pool_proportions, study_intervals
from infantall.synthesis.transforms import Transform, effect_sizes

__all__ = ["SubgroupAnalysis", "subgroup_analysis"]


@dataclass(frozen=True, slots=True, eq=False)
class SubgroupAnalysis:
    """Pooled estimate per subgroup and the test of subgroup differences.

    Attributes
    ----------
    table
        One row per subgroup: k, N, pooled % with CI and PI, τ², I², Q and its p, plus the
        estimate and SE on the pooling scale (``theta``, ``theta_se``) that the test uses.
    q_between, df_between, p_between
        Test of subgroup differences (separate τ² per subgroup).
    """

    by: str
    table: pd.DataFrame
    q_between: float
    df_between: int
    p_between: float
    method: Method
    transform: Transform
    notes: tuple[str, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """The per-subgroup table."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the test of subgroup differences, the per-subgroup rows and the notes."""
        out: dict[str, Any] = json_safe(
            {
                "by": self.by,
                "q_between": self.q_between,
                "df_between": self.df_between,
                "p_between": self.p_between,
                "method": self.method.value,
                "transform": self.transform.value,
                "subgroups": frame_records(self.table),
                "notes": list(self.notes),
            }
        )
        return out


def _single_study_row(
    inputs: ProportionInputs, transform: Transform, level: float
) -> dict[str, object]:
    eff = effect_sizes(inputs, transform)
    low, high = study_intervals(eff, level)
    return {
        "k": 1,
        "n_total": float(inputs.n[0]),
        "estimate_pct": float(inputs.proportion[0]) * 100.0,
        "ci_low_pct": float(low[0]) * 100.0,
        "ci_high_pct": float(high[0]) * 100.0,
        "pi_low_pct": math.nan,
        "pi_high_pct": math.nan,
        "tau2": math.nan,
        "i2_pct": math.nan,
        "q": math.nan,
        "q_p": math.nan,
        "theta": float(eff.yi[0]),
        "theta_se": float(math.sqrt(eff.vi[0])),
    }


def subgroup_analysis(
    inputs: ProportionInputs,
    groups: Sequence[str],
    *,
    by: str = "group",
    transform: Transform | str = Transform.logit,
    method: Method | str = Method.REML,
    knha: bool = False,
    level: float = 0.95,
    order: Sequence[str] | None = None,
) -> SubgroupAnalysis:
    """Pool within each subgroup and test whether the subgroups differ.

    ``order`` lists the subgroups in the order of the table (default: sorted labels).

    Raises
    ------
    InvalidInputError
        ``groups`` not one label per study, or fewer than 2 subgroups (``too_few_subgroups``).
    """
    labels = [str(g) for g in groups]
    if len(labels) != inputs.k:
        raise InvalidInputError(by, f"need one label per study ({inputs.k})", "shape")
    present = set(labels)
    levels = [g for g in order if g in present] if order is not None else sorted(present)
    levels += sorted(present - set(levels))
    if len(levels) < 2:
        raise InvalidInputError(
            by, f"a subgroup analysis needs at least 2 subgroups, got {levels}", "too_few_subgroups"
        )
    tf = Transform(transform)
    m = Method(method)
    rows: list[dict[str, object]] = []
    singles: list[str] = []
    for level_name in levels:
        sub = inputs.subset(np.array(labels) == level_name)
        if sub.k == 1:
            row = _single_study_row(sub, tf, level)
            singles.append(level_name)
        else:
            res = pool_proportions(sub, transform=tf, method=m, knha=knha, level=level)
            rec = res.as_record()
            row = {
                key: rec[key]
                for key in (
                    "k",
                    "n_total",
                    "estimate_pct",
                    "ci_low_pct",
                    "ci_high_pct",
                    "pi_low_pct",
                    "pi_high_pct",
                    "tau2",
                    "i2_pct",
                    "q",
                    "q_p",
                )
            }
            row["theta"] = float(res.fit.beta[0])
            row["theta_se"] = float(res.fit.se[0])
        rows.append({by: level_name, **row})
    table = pd.DataFrame(rows)
    theta = table["theta"].to_numpy(dtype=float)
    w = 1.0 / table["theta_se"].to_numpy(dtype=float) ** 2
    mean = float(np.sum(w * theta) / np.sum(w))
    q_b = float(np.sum(w * (theta - mean) ** 2))
    df_b = len(levels) - 1
    notes = [
        *inputs.notes,
        f"Each subgroup pooled separately ({m.label}, {tf.value} scale); test of subgroup "
        "differences: Q between subgroups on G − 1 df.",
    ]
    if singles:
        notes.append(
            f"Single-study subgroups ({', '.join(singles)}) enter with their own estimate and "
            "sampling SE."
        )
    return SubgroupAnalysis(
        by=by,
        table=table,
        q_between=q_b,
        df_between=df_b,
        p_between=float(stats.chi2.sf(q_b, df_b)),
        method=m,
        transform=tf,
        notes=tuple(notes),
    )
