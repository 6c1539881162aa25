"""Accrual and historical rates derived from the evidence base.

Works on the evidence frame (``infantall.evidence.load_evidence().frame``; one row per
reported number, columns in INTERFACES.md) or any frame with the same columns, so that the
maths can be tested on given rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from infantall.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "HistoricalRate",
    "accrual_duration",
    "consortium_accrual",
    "historical_rate",
]

Conversion = Literal["bound", "constant-hazard"]


def accrual_duration(n: float, per_year: float, *, sites: int = 1) -> float:
    """Years to recruit ``n`` patients at ``per_year`` patients a year per site (``sites``)."""
    if not (np.isfinite(n) and n > 0):
        raise InvalidInputError("n", "must be a positive number of patients", "out_of_range")
    if not (np.isfinite(per_year) and per_year > 0):
        raise InvalidInputError("per_year", "must be positive patients per year", "out_of_range")
    if sites < 1:
        raise InvalidInputError("sites", "must be >= 1", "out_of_range")
    return float(n / (per_year * sites))


def _norm(text: str) -> str:
    return text.strip().lower().replace("_", "-")


def consortium_accrual(frame: pd.DataFrame) -> pd.DataFrame:
    """Patients per year of each trial in the evidence base: N over accrual years.

    Only years are published, so a trial accruing 2006–2016 counts 11 calendar years
    (inclusive; a trial within one year counts 1). One row per trial: the largest reported
    population of the trial (the whole trial when reported). Trials without an end year
    (ongoing) are left out.
    """
    import pandas as pd

    need = {"trial_id", "study", "group", "n", "accrual_start", "accrual_end", "population"}
    missing = need - set(frame.columns)
    if missing:
        raise InvalidInputError("frame", f"missing columns {sorted(missing)}", "missing_columns")
    df = frame.dropna(subset=["n", "accrual_start", "accrual_end"])
    df = df.sort_values("n", ascending=False).drop_duplicates("trial_id")
    years = df["accrual_end"].astype(float) - df["accrual_start"].astype(float) + 1.0
    out = pd.DataFrame(
        {
            "trial_id": df["trial_id"],
            "study": df["study"],
            "group": df["group"],
            "population": df["population"],
            "n": df["n"].astype(int),
            "accrual_start": df["accrual_start"].astype(int),
            "accrual_end": df["accrual_end"].astype(int),
            "accrual_years": years,
            "per_year": df["n"].astype(float) / years,
        }
    )
    return out.sort_values(["group", "accrual_start"]).reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class HistoricalRate:
    """A landmark proportion (e.g. 2-year EFS) of a historical trial, with its provenance."""

    trial_id: str
    study: str
    population: str
    endpoint: str
    horizon_years: float
    rate: float
    reported_horizon_years: float
    reported_pct: float
    conversion: str
    n: int | None
    per_year: float | None
    source: str
    quote: str


def historical_rate(
    frame: pd.DataFrame,
    trial_id: str,
    population: str,
    endpoint: str,
    horizon_years: float,
    *,
    conversion: Conversion = "bound",
) -> HistoricalRate:
    """The historical landmark rate of ``endpoint`` at ``horizon_years`` for a trial population.

    When the trial reports the endpoint at exactly ``horizon_years``, that value is used.
    Otherwise the nearest later horizon is converted by ``conversion``:

    * ``"bound"`` (default): the later value itself. Survival cannot rise with time, so
      ``S(h) >= S(h_reported)`` for ``h < h_reported``: a lower bound, close when the curve has
      reached its plateau (infant ALL events cluster in the first two years, seed 004);
    * ``"constant-hazard"``: ``S(h) = S(h_reported) ** (h / h_reported)``, which overstates
      early survival when hazards fall with time.

    The conversion is named in the result.
    """
    need = {"trial_id", "population", "endpoint", "horizon_years", "estimate_pct"}
    missing = need - set(frame.columns)
    if missing:
        raise InvalidInputError("frame", f"missing columns {sorted(missing)}", "missing_columns")
    if horizon_years <= 0:
        raise InvalidInputError("horizon", "must be positive years", "out_of_range")
    rows = _endpoint_rows(frame, trial_id, population, endpoint)
    exact = rows[np.isclose(rows["horizon_years"].astype(float), horizon_years)]
    later = rows[rows["horizon_years"].astype(float) > horizon_years]
    if not exact.empty:
        row, how = exact.iloc[0], "as reported"
    elif not later.empty:
        row = later.sort_values("horizon_years").iloc[0]
        how = conversion
    else:
        hs = ", ".join(f"{h:g}" for h in sorted(rows["horizon_years"].astype(float)))
        raise InvalidInputError(
            "horizon",
            f"{trial_id}/{population} reports {endpoint} only at {hs} years; no later horizon to "
            f"bound {horizon_years:g} years",
            "unknown_horizon",
        )
    pct = float(row["estimate_pct"])
    h_rep = float(row["horizon_years"])
    rate = pct / 100.0
    if how == "constant-hazard":
        rate = rate ** (horizon_years / h_rep)
    elif how not in {"as reported", "bound"}:
        raise InvalidInputError(
            "conversion", "must be 'bound' or 'constant-hazard'", "unknown_conversion"
        )
    n_value = _number(row.get("n"))
    n = None if n_value is None else int(n_value)
    per_year = _per_year(row, n)
    source = f"{row.get('source_seed', '')} {row.get('source_location', '')}".strip()
    return HistoricalRate(
        trial_id=str(row["trial_id"]),
        study=str(row.get("study", row["trial_id"])),
        population=str(row["population"]),
        endpoint=str(row["endpoint"]),
        horizon_years=float(horizon_years),
        rate=float(rate),
        reported_horizon_years=h_rep,
        reported_pct=pct,
        conversion=how,
        n=n,
        per_year=per_year,
        source=source,
        quote=str(row.get("quote", "")),
    )


def _endpoint_rows(
    frame: pd.DataFrame, trial_id: str, population: str, endpoint: str
) -> pd.DataFrame:
    """The rows of a trial population reporting a rate of ``endpoint`` at a horizon."""
    trial = frame[frame["trial_id"].astype(str).map(_norm) == _norm(trial_id)]
    if trial.empty:
        known = ", ".join(sorted(set(frame["trial_id"].astype(str)))[:40])
        raise InvalidInputError(
            "trial", f"unknown trial {trial_id!r}; known: {known}", "unknown_trial"
        )
    pop = trial[trial["population"].astype(str).map(_norm) == _norm(population)]
    if pop.empty:
        known = ", ".join(sorted(set(trial["population"].astype(str))))
        raise InvalidInputError(
            "population",
            f"{trial_id} reports no {population!r}; it has: {known}",
            "unknown_population",
        )
    rows = pop[
        (pop["endpoint"].astype(str).map(_norm) == _norm(endpoint)) & pop["estimate_pct"].notna()
    ]
    rows = rows[rows["horizon_years"].notna()]
    if rows.empty:
        known = ", ".join(sorted(set(pop["endpoint"].astype(str))))
        raise InvalidInputError(
            "endpoint",
            f"{trial_id}/{population} reports no {endpoint!r} rate; it has: {known}",
            "unknown_endpoint",
        )
    return rows


def _number(value: object) -> float | None:
    """``value`` as a float, or ``None`` when it is missing (``None``, NaN, ``pd.NA``, ``NaT``).

    The evidence frame uses pandas' nullable integers, whose missing value ``pd.NA`` cannot be
    converted by ``float()``; a value that is present but not a number is an error.
    """
    import pandas as pd

    if value is None or bool(pd.isna(value)):  # type: ignore[call-overload]
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(
            "frame", f"{value!r} is not a number (n or accrual year)", "not_a_number"
        ) from None


def _per_year(row: pd.Series, n: int | None) -> float | None:
    """Patients a year of the row's trial (N over inclusive accrual years), if known."""
    if n is None or not all(c in row.index for c in ("accrual_start", "accrual_end")):
        return None
    start, end = _number(row["accrual_start"]), _number(row["accrual_end"])
    if start is None or end is None:
        return None
    return float(n) / (end - start + 1.0)
