"""Each federated result beside the pooled analysis of the same patients.

The pooled side stacks the nodes' own analysis frames (what each node computes from) with
the node as stratum; it is what a consortium would get if the patients could be pooled.
Agreement figures are the largest absolute differences, judged against the issue's targets:
exact (to the last bits of a floating-point sum) for counts, curves and the log-rank test,
1e-8 for the distributed Cox fit, and equal to the synthesis part for two-stage pooling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infantall.outcomes import cox_ph, cumulative_incidence, kaplan_meier, logrank_test
from infantall.outcomes._json import json_safe, records
from infantall.outcomes.aggregates import FederatedCoxResult
from infantall.protocols import get_protocol
from infantall.services.federation.coordinator import (
    Node,
    check_nodes,
    federated_cif,
    federated_cox,
    federated_km,
    federated_logrank,
    federated_table,
    two_stage,
)
from infantall.services.federation.node import NodeData
from infantall.services.federation.results import (
    FederatedCurves,
    FederatedIncidence,
    FederatedLogRank,
    FederatedTable,
    TwoStageResult,
)
from infantall.synthesis import fit_model

__all__ = ["COX_COVARIATES", "Comparison", "compare"]

#: The covariates of the demo's site-stratified Cox model of EFS.
COX_COVARIATES = ("KMT2A_R", "PPR", "AGEDAYS")
#: Targets: exact pieces agree to floating-point summation order; the Cox fit to 1e-8.
EXACT_TOL = 1e-12
COX_TOL = 1e-8
TABLE_VARIABLES: dict[str, dict[str, Any]] = {
    "KMT2A": {"levels": ["rearranged", "germline", "unknown"]},
    "SEX": {"levels": ["male", "female", "unknown"]},
    "AGECLASS": {"levels": ["<3m", "3-<6m", "6-12m", "unknown"]},
    "WBC": {"bins": [0, 50, 300, 1_000_000]},
}


@dataclass(frozen=True, slots=True)
class Comparison:
    """The federated results, and one agreement row per compared quantity."""

    nodes: tuple[str, ...]
    descriptions: tuple[dict[str, Any], ...]
    table: FederatedTable
    km: FederatedCurves
    logrank: FederatedLogRank
    cif: FederatedIncidence
    cox: FederatedCoxResult
    cox_pooled: pd.DataFrame
    two_stage: TwoStageResult
    rows: tuple[dict[str, Any], ...]

    @property
    def summary(self) -> pd.DataFrame:
        """analysis, quantity, federated, pooled, |difference|, target, agrees."""
        return pd.DataFrame(list(self.rows))

    @property
    def all_agree(self) -> bool:
        """Whether every quantity met its target."""
        return all(r["agrees"] for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = json_safe(
            {
                "nodes": list(self.nodes),
                "agreement": records(self.summary),
                "all_agree": self.all_agree,
                "table": self.table.to_dict(),
                "km": self.km.to_dict(),
                "logrank": self.logrank.to_dict(),
                "cif": self.cif.to_dict(),
                "cox": self.cox.to_dict(),
                "two_stage": self.two_stage.to_dict(),
            }
        )
        return out


def _row(analysis: str, quantity: str, fed: Any, pooled: Any, tol: float) -> dict[str, Any]:
    f = np.asarray(fed, dtype=np.float64)
    p = np.asarray(pooled, dtype=np.float64)
    same_shape = f.shape == p.shape
    diff = float(np.nanmax(np.abs(f - p))) if same_shape and f.size else float("inf")
    nan_same = same_shape and bool((np.isnan(f) == np.isnan(p)).all())
    return {
        "analysis": analysis,
        "quantity": quantity,
        "federated": float(f.flat[0]) if f.size == 1 else f"{f.size} values",
        "pooled": float(p.flat[0]) if p.size == 1 else f"{p.size} values",
        "max_abs_difference": diff,
        "target": tol,
        "agrees": bool(nan_same and diff <= tol),
    }


def _pooled(data: Sequence[NodeData], endpoint: str) -> pd.DataFrame:
    return pd.concat([d.frames[endpoint].assign(NODE=d.name) for d in data], ignore_index=True)


def _table_rows(
    table: FederatedTable, efs: pd.DataFrame, levels: Sequence[str]
) -> list[dict[str, Any]]:
    rows = []
    for name, (labels, cells) in table.tables.items():
        spec = TABLE_VARIABLES[name]
        col = efs[name]
        if "bins" in spec:
            edges = [float(b) for b in spec["bins"]]
            col = pd.cut(pd.to_numeric(col), edges, right=False, labels=list(labels[:-1]))
        col = col.astype("string").fillna("missing")
        col = col.where(col.isin(labels), "other")
        expect = pd.crosstab(col, efs["RISKGRP"]).reindex(
            index=list(labels), columns=list(levels), fill_value=0
        )
        rows.append(_row("table one", f"{name} by risk group", cells, expect.to_numpy(), 0.0))
    return rows


def _curve_rows(
    km: FederatedCurves, cif: FederatedIncidence, efs: pd.DataFrame, cir: pd.DataFrame
) -> list[dict[str, Any]]:
    rows = []
    t, e = km.grid.coarsen(efs["time"], efs["status"])
    for curve in km.curves:
        m = (efs["RISKGRP"] == curve.label).to_numpy()
        ref = kaplan_meier(t[m], e[m])
        rows.append(
            _row(
                "KM of EFS (grid)",
                f"survival, {curve.label}",
                curve.survival,
                ref.survival,
                EXACT_TOL,
            )
        )
        rows.append(
            _row("KM of EFS (grid)", f"at risk, {curve.label}", curve.n_risk, ref.n_risk, 0.0)
        )
    tc, sc = cif.grid.coarsen(cir["time"], cir["status"])
    ref_c = cumulative_incidence(tc, sc).curve(cif.curve.cause)
    rows.append(
        _row("CIF of relapse (grid)", "estimate", cif.curve.estimate, ref_c.estimate, EXACT_TOL)
    )
    rows.append(
        _row("CIF of relapse (grid)", "variance", cif.curve.variance, ref_c.variance, EXACT_TOL)
    )
    return rows


def compare(
    nodes: Sequence[Node], data: Sequence[NodeData], *, protocol: str = "interfant-06"
) -> Comparison:
    """Run every federated analysis over ``nodes`` and the pooled one over ``data`` (the
    same patients), and measure their agreement."""
    descriptions = check_nodes(nodes)
    levels = list(get_protocol(protocol).groups)
    efs, cir = _pooled(data, "EFS"), _pooled(data, "CIR")
    table = federated_table(nodes, "EFS", TABLE_VARIABLES, group="RISKGRP", levels=levels)
    km = federated_km(nodes, "EFS", group="RISKGRP", levels=levels)
    lr = federated_logrank(nodes, "EFS", "RISKGRP", levels)
    cif = federated_cif(nodes, "CIR", cause=1)
    cox = federated_cox(nodes, "EFS", list(COX_COVARIATES))
    ts = two_stage(nodes, "EFS", "KMT2A_R")
    rows = _table_rows(table, efs, levels) + _curve_rows(km, cif, efs, cir)
    pooled_lr = logrank_test(
        efs["time"],
        efs["status"],
        pd.Categorical(efs["RISKGRP"], categories=levels),
        strata=efs["NODE"],
    )
    rows.append(
        _row("stratified log-rank", "chi-square", lr.test.chisq, pooled_lr.chisq, EXACT_TOL)
    )
    rows.append(
        _row(
            "stratified log-rank",
            "observed - expected",
            lr.test.observed - lr.test.expected,
            pooled_lr.observed - pooled_lr.expected,
            EXACT_TOL,
        )
    )
    pooled_cox = cox_ph(efs, "time", "status", list(COX_COVARIATES), strata="NODE")
    rows.append(_row("site-stratified Cox", "coefficients", cox.coef, pooled_cox.coef, COX_TOL))
    rows.append(_row("site-stratified Cox", "standard errors", cox.se, pooled_cox.se, COX_TOL))
    ys, vs = [], []
    for d in data:
        fit = cox_ph(d.frames["EFS"], "time", "status", ["KMT2A_R"], concordance=False)
        ys.append(fit.coef[0])
        vs.append(fit.variance[0, 0])
    direct = fit_model(np.array(ys), np.array(vs), method="reml")
    rows.append(
        _row("two-stage pooling", "pooled log HR (KMT2A-r)", ts.fit.beta, direct.beta, EXACT_TOL)
    )
    rows.append(_row("two-stage pooling", "tau^2", ts.fit.tau2, direct.tau2, EXACT_TOL))
    return Comparison(
        nodes=tuple(n.name for n in nodes),
        descriptions=tuple(descriptions),
        table=table,
        km=km,
        logrank=lr,
        cif=cif,
        cox=cox,
        cox_pooled=pooled_cox.summary,
        two_stage=ts,
        rows=tuple(rows),
    )
