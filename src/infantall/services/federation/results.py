"""Results of federated analyses: the local result types plus where they came from.

Each wraps the result the local analysis would return (``KaplanMeierResult``,
``CumulativeIncidence``, ``LogRankResult``, the synthesis ``ModelFit``) with the nodes that
contributed and, for curves, the grid used and the finer grids some node refused. Each has a
``summary`` DataFrame and a JSON-safe ``to_dict()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infantall.outcomes import CumulativeIncidence, KaplanMeierResult, LogRankResult
from infantall.outcomes._json import json_safe, records
from infantall.outcomes.aggregates import TimeGrid
from infantall.synthesis import ModelFit

__all__ = [
    "FederatedCurves",
    "FederatedIncidence",
    "FederatedLogRank",
    "FederatedTable",
    "TwoStageResult",
]


def _safe(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = json_safe(value)
    return out


@dataclass(frozen=True, slots=True)
class FederatedCurves:
    """Kaplan–Meier curves by group on ``grid`` from the nodes' counts."""

    endpoint: str
    group: str | None
    grid: TimeGrid
    curves: tuple[KaplanMeierResult, ...]
    nodes: tuple[str, ...]
    refused_grids: tuple[TimeGrid, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per group and grid time: at risk, events, survival and its CI."""
        frames = [c.summary.assign(group=c.label) for c in self.curves]
        return pd.concat(frames, ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return _safe(
            {
                "analysis": "federated Kaplan-Meier",
                "endpoint": self.endpoint,
                "group": self.group,
                "grid": self.grid.to_dict(),
                "refused_grids": [g.to_dict() for g in self.refused_grids],
                "nodes": list(self.nodes),
                "curves": records(self.summary),
            }
        )


@dataclass(frozen=True, slots=True)
class FederatedIncidence:
    """Aalen–Johansen cumulative incidence on ``grid`` from the nodes' counts."""

    endpoint: str
    grid: TimeGrid
    curve: CumulativeIncidence
    nodes: tuple[str, ...]
    refused_grids: tuple[TimeGrid, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """The curve (estimate, SE, CI, at risk) at its grid times."""
        return self.curve.summary

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return _safe(
            {
                "analysis": "federated cumulative incidence",
                "endpoint": self.endpoint,
                "cause": self.curve.cause,
                "grid": self.grid.to_dict(),
                "refused_grids": [g.to_dict() for g in self.refused_grids],
                "nodes": list(self.nodes),
                "curve": records(self.summary),
            }
        )


@dataclass(frozen=True, slots=True)
class FederatedLogRank:
    """The log-rank test of ``group`` stratified by node."""

    endpoint: str
    group: str
    test: LogRankResult
    nodes: tuple[str, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """Per group N, observed, expected (as R ``survdiff`` prints)."""
        return self.test.summary

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return _safe(
            {
                "analysis": "federated stratified log-rank (node as stratum)",
                "endpoint": self.endpoint,
                "group": self.group,
                "nodes": list(self.nodes),
                "groups": records(self.summary),
                "chisq": self.test.chisq,
                "df": self.test.df,
                "p_value": self.test.p_value,
            }
        )


@dataclass(frozen=True, slots=True)
class TwoStageResult:
    """Node estimates (log HR of one covariate) pooled by random effects (synthesis)."""

    endpoint: str
    covariate: str
    nodes: tuple[str, ...]
    estimates: np.ndarray
    se: np.ndarray
    n: tuple[int, ...]
    n_events: tuple[int, ...]
    fit: ModelFit

    @property
    def summary(self) -> pd.DataFrame:
        """One row per node and one for the pooled estimate (log HR, SE, HR and its CI)."""
        z = self.fit.crit
        rows = [
            {
                "node": n,
                "n": k,
                "events": e,
                "log_hr": y,
                "se": s,
                "hr": np.exp(y),
                "hr_lower": np.exp(y - z * s),
                "hr_upper": np.exp(y + z * s),
            }
            for n, k, e, y, s in zip(
                self.nodes, self.n, self.n_events, self.estimates, self.se, strict=True
            )
        ]
        b, se = float(self.fit.beta[0]), float(self.fit.se[0])
        rows.append(
            {
                "node": f"pooled ({self.fit.method.value})",
                "n": sum(self.n),
                "events": sum(self.n_events),
                "log_hr": b,
                "se": se,
                "hr": np.exp(b),
                "hr_lower": np.exp(float(self.fit.ci_low[0])),
                "hr_upper": np.exp(float(self.fit.ci_high[0])),
            }
        )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, heterogeneity included."""
        return _safe(
            {
                "analysis": "two-stage pooling of node Cox estimates",
                "endpoint": self.endpoint,
                "covariate": self.covariate,
                "rows": records(self.summary),
                "tau2": self.fit.tau2,
                "i2": self.fit.i2,
                "q": self.fit.qe,
                "q_df": self.fit.qe_df,
                "q_p": self.fit.qe_p,
                "method": self.fit.method.value,
            }
        )


@dataclass(frozen=True, slots=True)
class FederatedTable:
    """Counts by variable level and group summed over nodes (table one)."""

    endpoint: str
    group: str | None
    levels: tuple[str, ...]
    tables: Mapping[str, tuple[tuple[str, ...], np.ndarray]]
    refused: Mapping[str, tuple[str, ...]]
    n: np.ndarray
    nodes: tuple[str, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """Long table: variable, level, group, count, percent of the group."""
        rows = []
        for name, (levels, cells) in self.tables.items():
            for i, lev in enumerate(levels):
                for j, g in enumerate(self.levels):
                    pct = 100.0 * cells[i, j] / self.n[j] if self.n[j] else float("nan")
                    rows.append(
                        {
                            "variable": name,
                            "level": lev,
                            "group": g,
                            "count": int(cells[i, j]),
                            "percent": pct,
                        }
                    )
        return pd.DataFrame(rows, columns=["variable", "level", "group", "count", "percent"])

    def to_dict(self) -> dict[str, Any]:
        """JSON form; refused variables name the nodes that refused them."""
        return _safe(
            {
                "analysis": "federated table",
                "endpoint": self.endpoint,
                "group": self.group,
                "n": dict(zip(self.levels, self.n.tolist(), strict=True)),
                "nodes": list(self.nodes),
                "rows": records(self.summary),
                "refused": {k: list(v) for k, v in self.refused.items()},
            }
        )
