"""The node side of a federated analysis: answer one request with aggregates only.

:func:`answer` takes a request (a JSON object naming an ``analysis`` and its parameters),
the node's data (:class:`NodeData`: one analysis frame per endpoint, as
:meth:`infantall.outcomes.endpoints.AnalysisDataset.endpoint` gives it) and the node's
:class:`NodePolicy`; it returns the payload that may leave the node, after
:func:`~infantall.services.federation.disclosure.inspect_payload` passed it, or raises
:class:`~infantall.services.federation.disclosure.DisclosureRefusal` /
:class:`~infantall.errors.InvalidInputError`.

A request with ``"dry_run": true`` runs every check and returns only
``{"releasable": true}`` (or the refusal): the coordinator finds a grid every node releases
before any node releases counts on it.

Analyses (``analysis`` values): ``describe`` (versions, variables, patients per endpoint),
``km`` and ``cif`` (counts on a grid), ``logrank`` (O, E, V), ``cox`` (log-likelihood, score
and information at the coordinator's beta), ``estimate`` (the node's own Cox estimate, for
two-stage pooling) and ``table`` (counts by variable level and group).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from infantall.errors import InvalidInputError
from infantall.outcomes import cox_ph
from infantall.outcomes.aggregates import TimeGrid, cox_sums, grid_counts, logrank_sums
from infantall.services.federation.disclosure import (
    DEFAULT_NFILTER,
    DisclosureRefusal,
    check_counts,
    inspect_payload,
)

__all__ = ["ANALYSES", "NodeData", "NodePolicy", "answer", "node_data_from_frames"]

#: Every analysis a node can answer.
ANALYSES = ("describe", "km", "cif", "logrank", "cox", "estimate", "table")


@dataclass(frozen=True, slots=True)
class NodePolicy:
    """What the node's data manager allows: analysis types, nfilter and the finest grid."""

    allowed: frozenset[str] = frozenset(ANALYSES)
    nfilter: int = DEFAULT_NFILTER
    min_grid_days: float = 365.25 / 12

    def __post_init__(self) -> None:
        unknown = sorted(set(self.allowed) - set(ANALYSES))
        if unknown:
            raise InvalidInputError("policy.allowed", f"unknown analyses {unknown}", "bad_policy")
        if self.nfilter < 1:
            raise InvalidInputError("policy.nfilter", "must be at least 1", "bad_policy")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> NodePolicy:
        """A policy file's content (``allowed``, ``nfilter``, ``min_grid_days``)."""
        return cls(
            allowed=frozenset(data.get("allowed", ANALYSES)),
            nfilter=int(data.get("nfilter", DEFAULT_NFILTER)),
            min_grid_days=float(data.get("min_grid_days", 365.25 / 12)),
        )


@dataclass(frozen=True, slots=True)
class NodeData:
    """A node's analysis frames by endpoint (columns ``time``, ``status`` and covariates)."""

    name: str
    frames: Mapping[str, pd.DataFrame]
    software_version: str
    dictionary_version: str
    id_column: str = "USUBJID"
    identifiers: frozenset[str] = field(default=frozenset())

    def frame(self, endpoint: Any) -> pd.DataFrame:
        """The analysis frame of ``endpoint`` (refused by name when the node has none)."""
        if not isinstance(endpoint, str) or endpoint not in self.frames:
            raise InvalidInputError(
                "endpoint", f"{endpoint!r} is not an endpoint of node {self.name}", "bad_endpoint"
            )
        return self.frames[endpoint]


def _column(df: pd.DataFrame, name: Any, node: str, what: str) -> pd.Series:
    if not isinstance(name, str) or name not in df.columns:
        raise InvalidInputError(what, f"{name!r} is missing at node {node}", "missing_covariate")
    return df[name]


def _grid(req: Mapping[str, Any], policy: NodePolicy) -> TimeGrid:
    spec = req.get("grid")
    if not isinstance(spec, Mapping):
        raise InvalidInputError("grid", "declare a time grid {width, horizon} (days)", "bad_grid")
    grid = TimeGrid(float(spec.get("width", 0)), float(spec.get("horizon", 0)))
    if grid.width < policy.min_grid_days - 1e-9:
        raise DisclosureRefusal(
            "grid",
            f"the node releases event times on grids of at least {policy.min_grid_days:g} days",
            "grid_too_fine",
        )
    return grid


def _groups(
    req: Mapping[str, Any], df: pd.DataFrame, node: str
) -> tuple[pd.Series | None, list[str]]:
    name = req.get("group")
    if name is None:
        return None, []
    levels = req.get("levels")
    if not isinstance(levels, list) or not levels:
        raise InvalidInputError("levels", "declare the group levels (a list)", "bad_group")
    col = _column(df, name, node, "group").astype("string").fillna("missing")
    return col, [str(v) for v in levels]


def _with_at_risk(counts: np.ndarray, nfilter: int) -> None:
    """Refuse small cells and small risk sets (the number at risk is derivable)."""
    check_counts("counts", counts, nfilter)
    at_risk = np.cumsum(counts.sum(axis=2)[::-1], axis=0)[::-1]
    check_counts("n_risk", at_risk, nfilter)


def _km(req: Mapping[str, Any], data: NodeData, policy: NodePolicy, cif: bool) -> dict[str, Any]:
    df = data.frame(req.get("endpoint"))
    grid = _grid(req, policy)
    group, levels = _groups(req, df, data.name)
    status = df["status"].to_numpy() if cif else (df["status"].to_numpy() == 1).astype(int)
    counts = grid_counts(df["time"], status, grid, group=group, groups=levels)
    if cif and counts.shape[2] < 3:
        counts = np.concatenate([counts, np.zeros((*counts.shape[:2], 3 - counts.shape[2]))], 2)
    _with_at_risk(counts, policy.nfilter)
    return {"grid": grid.to_dict(), "levels": levels or ["all"], "counts": counts.tolist()}


def _logrank(req: Mapping[str, Any], data: NodeData, policy: NodePolicy) -> dict[str, Any]:
    df = data.frame(req.get("endpoint"))
    group, levels = _groups(req, df, data.name)
    if group is None:
        raise InvalidInputError("group", "the log-rank test compares groups: name one", "bad_group")
    event = (df["status"].to_numpy() == 1).astype(int)
    sums = logrank_sums(df["time"], event, group, levels)
    check_counts("n", sums.n, policy.nfilter)
    check_counts("observed", sums.observed, policy.nfilter)
    return sums.to_dict()


def _design(req: Mapping[str, Any], df: pd.DataFrame, data: NodeData, nfilter: int) -> np.ndarray:
    names = req.get("covariates")
    if not isinstance(names, list) or not names:
        raise InvalidInputError("covariates", "name at least one covariate", "bad_option")
    cols = []
    for name in names:
        s = pd.to_numeric(_column(df, name, data.name, "covariates"), errors="coerce")
        if s.isna().any():
            raise InvalidInputError(
                str(name), f"has missing values at node {data.name}", "missing_covariate"
            )
        levels = s.value_counts()
        if len(levels) <= 10:  # a categorical covariate: every level is a group of patients
            check_counts(str(name), levels.to_numpy(), nfilter)
        cols.append(s.to_numpy(dtype=np.float64))
    return np.column_stack(cols)


def _cox(req: Mapping[str, Any], data: NodeData, policy: NodePolicy) -> dict[str, Any]:
    df = data.frame(req.get("endpoint"))
    x = _design(req, df, data, policy.nfilter)
    beta = np.asarray(req.get("beta", np.zeros(x.shape[1])), dtype=np.float64).reshape(-1)
    if beta.shape[0] != x.shape[1] or not np.isfinite(beta).all():
        raise InvalidInputError("beta", "one finite coefficient per covariate", "shape")
    event = (df["status"].to_numpy() == 1).astype(int)
    sums = cox_sums(x, df["time"], event, beta, ties=str(req.get("ties", "efron")))
    check_counts("n", [sums.n, sums.n_events], policy.nfilter)
    return sums.to_dict()


def _estimate(req: Mapping[str, Any], data: NodeData, policy: NodePolicy) -> dict[str, Any]:
    df = data.frame(req.get("endpoint"))
    x = _design(req, df, data, policy.nfilter)
    names = [str(n) for n in req["covariates"]]
    frame = pd.DataFrame(x, columns=names)
    frame["time"] = df["time"].to_numpy()
    frame["event"] = (df["status"].to_numpy() == 1).astype(int)
    check_counts("n", [len(frame), int(frame["event"].sum())], policy.nfilter)
    fit = cox_ph(frame, "time", "event", names, concordance=False)
    return {
        "covariates": names,
        "coef": fit.coef.tolist(),
        "se": fit.se.tolist(),
        "n": fit.n,
        "n_events": fit.n_events,
    }


def _table(req: Mapping[str, Any], data: NodeData, policy: NodePolicy) -> dict[str, Any]:
    df = data.frame(req.get("endpoint"))
    group, levels = _groups(req, df, data.name)
    variables = req.get("variables")
    if not isinstance(variables, Mapping) or not variables:
        raise InvalidInputError("variables", "name variables and their levels", "bad_option")
    g = group if group is not None else pd.Series("all", index=df.index)
    cols = levels or ["all"]
    out: dict[str, Any] = {"levels": cols, "tables": {}, "refused": {}}
    for name, spec in variables.items():
        values = _binned(_column(df, name, data.name, "variables"), spec)
        rows = [str(v) for v in spec.get("levels", [])] if "bins" not in spec else _bin_labels(spec)
        if not rows:
            raise InvalidInputError(str(name), "declare its levels or bins", "bad_option")
        # a value outside the declared levels counts as "other", never silently dropped
        values = values.where(values.isin([*rows, "missing"]), "other")
        index = [*rows, "other", "missing"]
        cells = pd.crosstab(values, g).reindex(index=index, columns=cols, fill_value=0)
        try:
            check_counts(str(name), cells.to_numpy(), policy.nfilter)
        except DisclosureRefusal as exc:
            out["refused"][str(name)] = exc.as_dict()
            continue
        out["tables"][str(name)] = {"rows": list(cells.index), "cells": cells.to_numpy().tolist()}
    out["level_n"] = [int((g == c).sum()) for c in cols]
    return out


def _bin_labels(spec: Mapping[str, Any]) -> list[str]:
    edges = [float(b) for b in spec["bins"]]
    return [f"[{a:g}, {b:g})" for a, b in itertools.pairwise(edges)]


def _binned(col: pd.Series, spec: Any) -> pd.Series:
    if not isinstance(spec, Mapping):
        raise InvalidInputError("variables", "each variable needs {levels} or {bins}", "bad_option")
    if "bins" in spec:
        edges = [float(b) for b in spec["bins"]]
        cut = pd.cut(
            pd.to_numeric(col, errors="coerce"), edges, right=False, labels=_bin_labels(spec)
        )
        return cut.astype("string").fillna("missing")
    return col.astype("string").fillna("missing")


def _describe(req: Mapping[str, Any], data: NodeData, policy: NodePolicy) -> dict[str, Any]:
    n = {k: len(v) for k, v in data.frames.items()}
    check_counts("n", list(n.values()), policy.nfilter)
    first = next(iter(data.frames.values()), pd.DataFrame())
    return {
        "node": data.name,
        "software_version": data.software_version,
        "dictionary_version": data.dictionary_version,
        "endpoints": sorted(data.frames),
        "n": n,
        "variables": sorted(str(c) for c in first.columns if c != data.id_column),
        "allowed": sorted(policy.allowed),
        "nfilter": policy.nfilter,
    }


Handler = Callable[[Mapping[str, Any], NodeData, NodePolicy], dict[str, Any]]
_HANDLERS: dict[str, Handler] = {
    "describe": _describe,
    "km": lambda r, d, p: _km(r, d, p, cif=False),
    "cif": lambda r, d, p: _km(r, d, p, cif=True),
    "logrank": _logrank,
    "cox": _cox,
    "estimate": _estimate,
    "table": _table,
}


def answer(request: Mapping[str, Any], data: NodeData, policy: NodePolicy) -> dict[str, Any]:
    """The payload that may leave the node for ``request`` (checked by the last gate).

    Raises
    ------
    DisclosureRefusal
        ``not_allowed`` (policy), ``small_cell``, ``grid_too_fine`` or ``identifier``.
    InvalidInputError
        A malformed request, an unknown endpoint, a covariate missing at this node.
    """
    analysis = request.get("analysis")
    if analysis not in _HANDLERS:
        raise InvalidInputError(
            "analysis", f"{analysis!r}; use one of {list(ANALYSES)}", "bad_option"
        )
    if analysis not in policy.allowed:
        raise DisclosureRefusal(
            str(analysis), f"the data manager of node {data.name} does not allow it", "not_allowed"
        )
    payload = _HANDLERS[str(analysis)](request, data, policy)
    inspect_payload(payload, policy.nfilter, data.identifiers)
    if request.get("dry_run") is True:
        # the coordinator probes grids first: only "yes" leaves, never the finer counts
        return {"node": data.name, "analysis": analysis, "releasable": True}
    return {"node": data.name, "analysis": analysis, **payload}


def node_data_from_frames(
    name: str,
    frames: Mapping[str, pd.DataFrame],
    *,
    software_version: str,
    dictionary_version: str,
    id_column: str = "USUBJID",
) -> NodeData:
    """A :class:`NodeData` whose identifiers are the values of ``id_column`` in ``frames``."""
    ids: set[str] = set()
    for df in frames.values():
        if id_column in df.columns:
            ids.update(str(v) for v in df[id_column])
    return NodeData(
        name, dict(frames), software_version, dictionary_version, id_column, frozenset(ids)
    )
