"""Validated study-level inputs of a meta-analysis of single-arm proportions.

A published 5-year EFS of 46.1% in 483 infants is a Kaplan-Meier estimate, not 223 events out
of 483: censoring makes the binomial count a fiction. Two honest ways to turn it into an
effect size and a sampling variance are offered, and every result states which was used:

* ``effective-count``: events = p·N (not rounded), the usual approximation when a source
  gives only the percentage and N;
* ``supplied-se``: the source's standard error of the percentage (e.g. Greenwood's); it is
  turned into an effective sample size N_eff = p(1 − p)/SE², so that every transformation
  below gets the delta-method variance of the supplied SE (exactly, for raw, logit and
  arcsine; to O(1/N²) for Freeman-Tukey).

All checks happen here, once (STYLE.md §1); the statistics downstream trust the object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from infantall.errors import InvalidInputError

__all__ = [
    "ProportionInputs",
    "VarianceSource",
    "proportion_inputs",
    "read_proportions_csv",
]


class VarianceSource(StrEnum):
    """How the sampling variance of each study is obtained."""

    auto = "auto"
    """The supplied SE where a study has one, the effective count elsewhere."""
    effective_count = "effective-count"
    """events = p·N, the study treated as binomial."""
    supplied_se = "supplied-se"
    """N_eff = p(1 − p)/SE² from the supplied SE (every study must have one)."""


@dataclass(frozen=True, slots=True, eq=False)
class ProportionInputs:
    """Checked inputs: one entry per study, proportions on the 0-1 scale.

    Attributes
    ----------
    study
        Study labels (unique).
    proportion
        Reported proportion p in [0, 1] (the percentage / 100).
    n
        Number of patients the percentage refers to (> 0).
    effective_n
        N used by the transformations: ``n`` for effective counts, p(1 − p)/SE² for a
        supplied SE.
    variance_source
        Per study: ``"effective-count"`` or ``"supplied-se"``.
    horizon_years
        Per study, the time point of the estimate (NaN when not given).
    notes
        Sentences describing the choices made (printed with every result).
    """

    study: tuple[str, ...]
    proportion: np.ndarray
    n: np.ndarray
    effective_n: np.ndarray
    variance_source: tuple[str, ...]
    horizon_years: np.ndarray
    notes: tuple[str, ...]

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.study)

    @property
    def events(self) -> np.ndarray:
        """Effective number of events p·N_eff (not rounded)."""
        return np.asarray(self.proportion * self.effective_n, dtype=float)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per study: the inputs as used."""
        return pd.DataFrame(
            {
                "study": list(self.study),
                "percent": self.proportion * 100.0,
                "n": self.n,
                "effective_n": self.effective_n,
                "events": self.events,
                "variance_source": list(self.variance_source),
                "horizon_years": self.horizon_years,
            }
        )

    def subset(self, mask: Sequence[bool] | np.ndarray) -> ProportionInputs:
        """The inputs restricted to the studies where ``mask`` is true (notes kept)."""
        m = np.asarray(mask, dtype=bool)
        return ProportionInputs(
            study=tuple(s for s, keep in zip(self.study, m, strict=True) if keep),
            proportion=self.proportion[m],
            n=self.n[m],
            effective_n=self.effective_n[m],
            variance_source=tuple(
                s for s, keep in zip(self.variance_source, m, strict=True) if keep
            ),
            horizon_years=self.horizon_years[m],
            notes=self.notes,
        )


def _as_float_array(values: Sequence[float] | np.ndarray, field: str, k: int) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(field, f"must be numbers ({exc})", "not_numeric") from exc
    if arr.shape != (k,):
        raise InvalidInputError(
            field, f"must have one value per study ({k}), got shape {arr.shape}", "length_mismatch"
        )
    return arr


def _check_percent_and_n(study: tuple[str, ...], pct: np.ndarray, n: np.ndarray) -> None:
    for i, label in enumerate(study):
        if not math.isfinite(pct[i]) or not 0.0 <= pct[i] <= 100.0:
            raise InvalidInputError(
                f"percent[{label}]",
                f"must be a percentage in [0, 100], got {pct[i]!r}",
                "percent_out_of_range",
            )
        if not math.isfinite(n[i]) or n[i] <= 0:
            raise InvalidInputError(
                f"n[{label}]",
                f"must be a positive number of patients, got {n[i]!r}",
                "n_not_positive",
            )


def _check_horizons(horizon: np.ndarray, allow_mixed: bool) -> tuple[str, ...]:
    distinct = sorted({float(h) for h in horizon if math.isfinite(h)})
    if len(distinct) <= 1:
        return ()
    listed = ", ".join(f"{h:g}" for h in distinct)
    if not allow_mixed:
        raise InvalidInputError(
            "horizon_years",
            f"estimates at different time points ({listed} years) would be pooled together; "
            "filter to one horizon, or ask explicitly to mix them",
            "mixed_horizons",
        )
    return (
        f"WARNING: estimates at different horizons ({listed} years) were pooled together "
        "at the user's request.",
    )


def _effective_n(
    study: tuple[str, ...],
    p: np.ndarray,
    n: np.ndarray,
    se: np.ndarray,
    source: VarianceSource,
) -> tuple[np.ndarray, tuple[str, ...]]:
    has_se = np.isfinite(se)
    if source is VarianceSource.supplied_se and not has_se.all():
        missing = [s for s, h in zip(study, has_se, strict=True) if not h]
        raise InvalidInputError(
            "se",
            f"a standard error is required for every study; missing for {missing}",
            "se_missing",
        )
    use_se = has_se & (source is not VarianceSource.effective_count)
    eff = n.astype(float).copy()
    for i in np.flatnonzero(use_se):
        if se[i] <= 0:
            raise InvalidInputError(
                f"se[{study[i]}]", f"must be positive, got {se[i]!r}", "se_not_positive"
            )
        if p[i] in (0.0, 1.0):
            raise InvalidInputError(
                f"se[{study[i]}]",
                "an effective sample size cannot be derived from an SE at 0% or 100%; "
                "drop the SE for this study to use its count",
                "se_at_boundary",
            )
        eff[i] = p[i] * (1.0 - p[i]) / (se[i] / 100.0) ** 2
    sources = tuple(
        VarianceSource.supplied_se.value if u else VarianceSource.effective_count.value
        for u in use_se
    )
    return eff, sources


def proportion_inputs(
    study: Sequence[str],
    percent: Sequence[float] | np.ndarray,
    n: Sequence[float] | np.ndarray,
    *,
    se: Sequence[float | None] | np.ndarray | None = None,
    horizon_years: Sequence[float | None] | np.ndarray | None = None,
    variance: VarianceSource | str = VarianceSource.auto,
    allow_mixed_horizons: bool = False,
) -> ProportionInputs:
    """Check study-level percentages and build :class:`ProportionInputs`.

    Parameters
    ----------
    study, percent, n
        Labels, reported percentages in [0, 100] and numbers of patients (> 0).
    se
        Optional standard errors of the percentages (percentage points); NaN/None where absent.
    horizon_years
        Optional time point of each estimate. Different horizons are refused unless
        ``allow_mixed_horizons`` is true, in which case the results say so.
    variance
        ``auto`` (SE where given, else effective count), ``effective-count`` or ``supplied-se``.

    Raises
    ------
    InvalidInputError
        Percent outside [0, 100] (``percent_out_of_range``), N ≤ 0 (``n_not_positive``),
        duplicate or no studies, mixed horizons (``mixed_horizons``), bad SEs.
    """
    labels = tuple(str(s) for s in study)
    k = len(labels)
    if k == 0:
        raise InvalidInputError("study", "no studies were given", "no_studies")
    if len(set(labels)) != k:
        dupes = sorted({s for s in labels if labels.count(s) > 1})
        raise InvalidInputError(
            "study", f"study labels must be unique; repeated: {dupes}", "duplicate_study"
        )
    source = VarianceSource(variance)
    pct = _as_float_array(percent, "percent", k)
    nn = _as_float_array(n, "n", k)
    _check_percent_and_n(labels, pct, nn)
    se_arr = (
        np.full(k, np.nan)
        if se is None
        else _as_float_array([np.nan if v is None else v for v in se], "se", k)
    )
    hz = (
        np.full(k, np.nan)
        if horizon_years is None
        else _as_float_array(
            [np.nan if v is None else v for v in horizon_years], "horizon_years", k
        )
    )
    notes = list(_check_horizons(hz, allow_mixed_horizons))
    p = pct / 100.0
    eff, sources = _effective_n(labels, p, nn, se_arr, source)
    n_se = sources.count(VarianceSource.supplied_se.value)
    if n_se == 0:
        notes.insert(
            0, "Variance from effective counts: events = p·N (KM percentages treated as binomial)."
        )
    elif n_se == k:
        notes.insert(0, "Variance from the supplied SEs: effective N = p(1−p)/SE².")
    else:
        notes.insert(
            0,
            f"Variance from the supplied SE for {n_se} of {k} studies "
            "(effective N = p(1−p)/SE²), from effective counts (events = p·N) "
            "for the others.",
        )
    return ProportionInputs(
        study=labels,
        proportion=p,
        n=nn,
        effective_n=eff,
        variance_source=sources,
        horizon_years=hz,
        notes=tuple(notes),
    )


_REQUIRED_COLUMNS = ("study", "percent", "n")


def read_proportions_csv(
    path: str | Path,
    *,
    variance: VarianceSource | str = VarianceSource.auto,
    allow_mixed_horizons: bool = False,
) -> ProportionInputs:
    """Read a user table with columns ``study, percent, n`` and optional ``se``, ``horizon_years``.

    Raises
    ------
    InvalidInputError
        The file is missing, unreadable, or lacks a required column (``bad_csv``), or a
        value fails the checks of :func:`proportion_inputs`.
    """
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InvalidInputError("csv", f"cannot read {path}: {exc}", "bad_csv") from exc
    missing = [c for c in _REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            "csv", f"{path} lacks the column(s) {missing}; required: study, percent, n", "bad_csv"
        )
    return proportion_inputs(
        frame["study"].astype(str).tolist(),
        pd.to_numeric(frame["percent"], errors="coerce").to_numpy(),
        pd.to_numeric(frame["n"], errors="coerce").to_numpy(),
        se=pd.to_numeric(frame["se"], errors="coerce").to_numpy() if "se" in frame else None,
        horizon_years=(
            pd.to_numeric(frame["horizon_years"], errors="coerce").to_numpy()
            if "horizon_years" in frame
            else None
        ),
        variance=variance,
        allow_mixed_horizons=allow_mixed_horizons,
    )
