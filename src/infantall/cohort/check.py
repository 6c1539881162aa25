"""Calibration check: the synthetic cohort's Kaplan–Meier estimates against the targets."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from infantall.cohort.calibration import CalibratedModel
from infantall.cohort.endpoints import endpoint_frame

__all__ = ["TOLERANCE_SE", "CalibratedCohort", "calibration_check", "km_at"]

#: A synthetic estimate agrees with its target when it lies within this many standard
#: errors of the published estimate (the brief's "± 2 SE", about a 95% interval).
TOLERANCE_SE = 2.0

_YEAR = 365.25


class CalibratedCohort(Protocol):
    """What the check reads of a cohort (a :class:`~infantall.cohort.SyntheticCohort`)."""

    @property
    def patients(self) -> pd.DataFrame:
        """One row per patient, with its ``risk_group``."""

    @property
    def events(self) -> pd.DataFrame:
        """One row per event."""

    @property
    def model(self) -> CalibratedModel:
        """The calibrated outcome model, with its targets."""


def km_at(days: np.ndarray, events: np.ndarray, horizon_days: float) -> tuple[float, float]:
    """Kaplan–Meier survival and its Greenwood SE at ``horizon_days`` (lifelines)."""
    from lifelines import KaplanMeierFitter

    fitter = KaplanMeierFitter().fit(days, events)
    surv = float(fitter.survival_function_at_times(horizon_days).iloc[0])
    table = fitter.event_table
    at = table[table.index <= horizon_days]
    denom = at["at_risk"] * (at["at_risk"] - at["observed"])
    ok = denom > 0
    greenwood = float((at["observed"][ok] / denom[ok]).sum())
    return surv, surv * float(np.sqrt(greenwood))


def calibration_check(cohort: CalibratedCohort) -> pd.DataFrame:
    """One row per calibration target of the cohort's protocol.

    Columns: population, endpoint, horizon_years, target_pct, target_se_pct,
    se_derived, synthetic_pct, synthetic_se_pct, n, difference_pct, within (|difference| ≤
    :data:`TOLERANCE_SE` × the target's SE), source.
    """
    ends = endpoint_frame(cohort.patients, cohort.events)
    rows = []
    for t in cohort.model.targets:
        mask = ends["risk_group"].isin(t.groups).to_numpy()
        prefix = "efs" if t.endpoint == "EFS" else "os"
        days = ends[f"{prefix}_days"].to_numpy()[mask]
        events = ends[f"{prefix}_event"].to_numpy()[mask]
        if days.size == 0:
            surv, se = float("nan"), float("nan")
        else:
            surv, se = km_at(days, events, t.horizon_years * _YEAR)
        diff = 100.0 * surv - t.estimate_pct
        rows.append(
            {
                "population": t.population,
                "endpoint": t.endpoint,
                "horizon_years": t.horizon_years,
                "target_pct": t.estimate_pct,
                "target_se_pct": t.se_pct,
                "se_derived": t.se_derived,
                "synthetic_pct": 100.0 * surv,
                "synthetic_se_pct": 100.0 * se,
                "n": int(mask.sum()),
                "difference_pct": diff,
                "within": bool(abs(diff) <= TOLERANCE_SE * t.se_pct),
                "source": t.source,
                "synthetic": True,
            }
        )
    return pd.DataFrame(rows)
