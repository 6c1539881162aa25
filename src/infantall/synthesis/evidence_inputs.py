"""Study-level inputs of the synthesis taken from the evidence base (:mod:`infantall.evidence`).

The evidence frame has one row per reported number, from several places (tables and text of
two seed reviews), so the same trial can report the same endpoint more than once. A
meta-analysis needs one independent estimate per trial: :func:`select_estimates` filters by
endpoint, population, horizon, protocol type, study group and era, keeps one row per trial
and arm (a table row before a text row, then file order) and says what it dropped.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from infantall.errors import InvalidInputError
from infantall.evidence import load_evidence
from infantall.synthesis.inputs import ProportionInputs, VarianceSource, proportion_inputs

__all__ = [
    "ERA_BREAKS",
    "MODERATORS",
    "SUBGROUP_COLUMNS",
    "Selection",
    "era_label",
    "evidence_frame",
    "select_estimates",
]

ERA_BREAKS: tuple[int, ...] = (1990, 2000)
"""Accrual mid-year cut points of the default eras: before 1990, 1990-1999, 2000 and later."""

MODERATORS: tuple[str, ...] = (
    "accrual_mid_year",
    "hsct_share",
    "n",
    "group",
    "protocol_type",
    "era",
)
"""Columns of a :class:`Selection` that can be meta-regression moderators."""

SUBGROUP_COLUMNS: tuple[str, ...] = ("group", "era", "protocol_type", "population")
"""Columns of a :class:`Selection` that can define subgroups."""


def evidence_frame(enrichment: bool = False) -> pd.DataFrame:
    """The evidence base as one row per reported number (``load_evidence().frame``).

    The shipped data files are read and validated once per process (they do not change while
    it runs); each call returns a fresh copy that the caller may modify.
    """
    return _shipped_frame(enrichment).copy()


@functools.cache
def _shipped_frame(enrichment: bool) -> pd.DataFrame:
    return load_evidence(enrichment=enrichment).frame


def era_label(mid_year: float, breaks: tuple[int, ...] = ERA_BREAKS) -> str:
    """The era of an accrual mid-year, e.g. ``"1990-1999"`` for the default breaks."""
    edges = [*breaks]
    if mid_year < edges[0]:
        return f"before {edges[0]}"
    for lo, hi in itertools.pairwise(edges):
        if lo <= mid_year < hi:
            return f"{lo}-{hi - 1}"
    return f"{edges[-1]} and later"


@dataclass(frozen=True, slots=True, eq=False)
class Selection:
    """Estimates chosen from the evidence base, one per trial and arm.

    ``table`` columns: study, record_id, trial_id, group, population, protocol_type, arm,
    accrual_start, accrual_end, accrual_mid_year, era, n, percent, se, horizon_years,
    hsct_share, source_seed, source_location. ``notes`` say what was chosen and dropped.
    """

    table: pd.DataFrame
    endpoint: str
    notes: tuple[str, ...]

    @property
    def k(self) -> int:
        """Number of estimates."""
        return len(self.table)

    def levels(self, column: str) -> list[str]:
        """The distinct values of ``column`` ordered by mean accrual mid-year (then name)."""
        t = self.table.assign(_key=self.table[column].astype(str))
        means = t.groupby("_key")["accrual_mid_year"].mean()
        return sorted(means.index, key=lambda g: (means[g], g))

    def overlap_note(self, column: str) -> str | None:
        """A warning when one trial contributes to more than one subgroup of ``column``
        (e.g. all infants and its KMT2A-r subset): the subgroups are then not independent,
        which the test of subgroup differences assumes."""
        levels = self.table.groupby("trial_id")[column].nunique()
        shared = sorted(levels[levels > 1].index.astype(str))
        if not shared:
            return None
        return (
            f"WARNING: trial(s) {', '.join(shared)} contribute to more than one {column} "
            "subgroup; the subgroups overlap and the test of subgroup differences, which "
            "assumes independent subgroups, is approximate."
        )

    def inputs(
        self,
        *,
        variance: VarianceSource | str = VarianceSource.auto,
        allow_mixed_horizons: bool = False,
    ) -> ProportionInputs:
        """Checked meta-analysis inputs; the selection's notes are carried along."""
        t = self.table
        inp = proportion_inputs(
            t["study"].tolist(),
            t["percent"].to_numpy(dtype=float),
            t["n"].to_numpy(dtype=float),
            se=t["se"].to_numpy(dtype=float),
            horizon_years=t["horizon_years"].to_numpy(dtype=float),
            variance=variance,
            allow_mixed_horizons=allow_mixed_horizons,
        )
        return ProportionInputs(
            study=inp.study,
            proportion=inp.proportion,
            n=inp.n,
            effective_n=inp.effective_n,
            variance_source=inp.variance_source,
            horizon_years=inp.horizon_years,
            notes=(*self.notes, *inp.notes),
        )

    @property
    def summary(self) -> pd.DataFrame:
        """The selected estimates."""
        return self.table


def _norm(values: str | Iterable[str] | None) -> set[str] | None:
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    out = {p.strip().lower().replace("-", "_") for v in items for p in str(v).split(",")}
    return {v for v in out if v}


def _filter(
    frame: pd.DataFrame,
    endpoint: str,
    population: str | Iterable[str] | None,
    protocol_type: str | None,
    groups: str | Iterable[str] | None,
    era: tuple[int | None, int | None] | None,
) -> pd.DataFrame:
    df = frame[frame["endpoint"].str.lower() == endpoint.lower()]
    if df.empty:
        known = ", ".join(sorted(frame["endpoint"].dropna().unique()))
        raise InvalidInputError(
            "endpoint", f"no {endpoint!r} estimates; known: {known}", "no_estimates"
        )
    pops = _norm(population)
    if pops is not None and "any" not in pops:
        df = df[df["population"].str.lower().isin(pops)]
    if protocol_type is not None:
        df = df[df["protocol_type"].str.lower() == protocol_type.lower()]
    wanted = _norm(groups)
    if wanted is not None:
        df = df[df["group"].str.lower().str.replace("-", "_").isin(wanted)]
    if era is not None:
        first, last = era
        start = df["accrual_start"].astype(float)
        end = df["accrual_end"].astype(float).fillna(start)
        keep = start.notna()
        if first is not None:
            keep &= end >= first
        if last is not None:
            keep &= start <= last
        df = df[keep]
    return df


def _choose_horizon(
    df: pd.DataFrame, horizon: float | None, allow_mixed: bool, notes: list[str]
) -> pd.DataFrame:
    if horizon is not None:
        return df[np.isclose(df["horizon_years"].astype(float), float(horizon))]
    horizons = df["horizon_years"].dropna()
    if horizons.nunique() <= 1 or allow_mixed:
        return df
    counts = horizons.value_counts()
    top = counts[counts == counts.max()].index.min()
    others = ", ".join(f"{h:g} y ({c})" for h, c in counts.items() if h != top)
    notes.append(
        f"Horizon {top:g} years (the most frequent); estimates at other horizons left out: "
        f"{others}. Pass a horizon, or allow mixing, to change this."
    )
    return df[np.isclose(df["horizon_years"].astype(float), float(top))]


def _deduplicate(df: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    df = df.assign(
        _from_table=df["source_location"].fillna("").str.startswith("Table"),
        _order=np.arange(len(df)),
    ).sort_values(["_from_table", "_order"], ascending=[False, True])
    key = ["trial_id", "population", "arm", "horizon_years"]
    dup = df.duplicated(subset=key, keep="first")
    if dup.any():
        dropped = ", ".join(df.loc[dup, "record_id"].astype(str))
        notes.append(
            f"Repeated reports of the same trial left out (first table row kept): {dropped}."
        )
    return df[~dup].sort_values("_order").drop(columns=["_from_table", "_order"])


_MAX_LABEL = 32
"""Longer study names (e.g. "No uniform study. Retrospective analysis of ...") are replaced
by group and accrual years in labels."""


def _years(row: pd.Series) -> str:
    start, end = row["accrual_start"], row["accrual_end"]
    if pd.isna(start):
        return "years n/a"
    return f"{int(start)}" if pd.isna(end) or end == start else f"{int(start)}-{int(end)}"


def _qualifier(row: pd.Series, level: int) -> str:
    if level == 0:
        return f"{row['group']} {_years(row)}"
    if level == 1:
        return str(row["arm"]) if isinstance(row["arm"], str) else str(row["population"])
    return str(row["record_id"])


def _labels(df: pd.DataFrame) -> list[str]:
    """Unique, short study labels: the study name, else group and years; qualified by
    group, years, arm and population until unique, and by record id as a last resort."""
    rows = [row for _, row in df.iterrows()]
    labels = [
        str(r["study"]) if len(str(r["study"])) <= _MAX_LABEL else f"{r['group']} {_years(r)}"
        for r in rows
    ]
    for level in range(3):
        counts = pd.Series(labels).value_counts()
        if counts.max() == 1:
            break
        labels = [
            f"{lab} ({_qualifier(r, level)})" if counts[lab] > 1 else lab
            for lab, r in zip(labels, rows, strict=True)
        ]
    return labels


def select_estimates(
    frame: pd.DataFrame | None = None,
    *,
    endpoint: str = "efs",
    population: str | Iterable[str] | None = "all",
    horizon: float | None = None,
    protocol_type: str | None = None,
    groups: str | Iterable[str] | None = None,
    era: tuple[int | None, int | None] | None = None,
    allow_mixed_horizons: bool = False,
    era_breaks: tuple[int, ...] = ERA_BREAKS,
) -> Selection:
    """Choose one estimate per trial from the evidence base.

    Parameters
    ----------
    frame
        ``load_evidence().frame`` (loaded when None).
    endpoint
        ``efs``, ``os``, ``dfs``, ``cr``, ...
    population
        Population code(s) (``all``, ``kmt2a-r``, ...; ``-`` and ``_`` are the same), comma
        separated or a list; ``any`` keeps every population.
    horizon
        Years. When None and several horizons remain, the most frequent is kept (and the
        others are named in the notes) unless ``allow_mixed_horizons``.
    protocol_type, groups, era
        ``infant-specific``/``childhood``; study group(s); accrual years overlapping
        ``(first, last)``.

    Raises
    ------
    InvalidInputError
        No estimate left after filtering (``no_estimates``).
    """
    src = evidence_frame() if frame is None else frame
    notes: list[str] = []
    df = _filter(src, endpoint, population, protocol_type, groups, era)
    missing = df["estimate_pct"].isna() | df["n"].isna()
    if missing.any():
        notes.append(
            f"{int(missing.sum())} {endpoint} row(s) without a percentage or N left out: "
            + ", ".join(df.loc[missing, "record_id"].astype(str))
            + "."
        )
    df = _choose_horizon(df[~missing], horizon, allow_mixed_horizons, notes)
    df = _deduplicate(df, notes)
    if df.empty:
        raise InvalidInputError(
            "endpoint", f"no {endpoint} estimates match the filters", "no_estimates"
        )
    start = df["accrual_start"].astype(float)
    end = df["accrual_end"].astype(float).fillna(start)
    mid = (start + end) / 2.0
    n = df["n"].astype(float)
    table = pd.DataFrame(
        {
            "study": _labels(df),
            "record_id": df["record_id"].to_numpy(),
            "trial_id": df["trial_id"].to_numpy(),
            "group": df["group"].to_numpy(),
            "population": df["population"].to_numpy(),
            "protocol_type": df["protocol_type"].to_numpy(),
            "arm": df["arm"].to_numpy(),
            "accrual_start": start.to_numpy(),
            "accrual_end": end.to_numpy(),
            "accrual_mid_year": mid.to_numpy(),
            "era": [era_label(m, era_breaks) if np.isfinite(m) else None for m in mid],
            "n": n.to_numpy(),
            "percent": df["estimate_pct"].astype(float).to_numpy(),
            "se": df["se_pct"].astype(float).to_numpy(),
            "horizon_years": df["horizon_years"].astype(float).to_numpy(),
            "hsct_share": (df["hsct_n"].astype(float) / n).to_numpy(),
            "source_seed": df["source_seed"].to_numpy(),
            "source_location": df["source_location"].to_numpy(),
        }
    )
    notes.insert(
        0,
        f"{len(table)} {endpoint.upper()} estimate(s) from the evidence base "
        f"(population: {population or 'any'}"
        + (f", protocol type: {protocol_type}" if protocol_type else "")
        + ").",
    )
    return Selection(table=table.reset_index(drop=True), endpoint=endpoint, notes=tuple(notes))
