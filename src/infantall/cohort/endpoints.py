"""Event-free and overall survival per synthetic patient, from the long events frame.

The vectorised derivation of the EFS and OS of :func:`infantall.outcomes.derive_endpoints`
(DESIGN.md glossary) for whole cohorts: ``tests/cohort/test_endpoints.py`` pins the two to
the same times and indicators on the same patients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["endpoint_frame"]


def endpoint_frame(
    patients: pd.DataFrame, events: pd.DataFrame, *, failure_at_day0: bool = True
) -> pd.DataFrame:
    """Event-free and overall survival times (days) and indicators per patient.

    EFS events: induction failure (at day 0 by convention, or at the response day when
    ``failure_at_day0`` is false), relapse, death from any cause, second malignancy
    (DESIGN.md glossary). Patients without an event are censored at their last recorded day
    (last contact or death).
    """
    ids = patients["patient_id"]
    day = events["day"].astype(float)
    failure = (events["kind"] == "response") & (events["status"] == "no_cr")
    efs_kinds = events["kind"].isin(["relapse", "death", "second_malignancy"]) | failure
    efs_day = day.where(~failure, 0.0) if failure_at_day0 else day.copy()
    first = efs_day[efs_kinds].groupby(events.loc[efs_kinds, "patient_id"], observed=True).min()
    last_day = day.groupby(events["patient_id"], observed=True).max()
    last = last_day.reindex(ids).fillna(0.0).to_numpy()
    first_arr = first.reindex(ids).to_numpy()
    is_death = events["kind"] == "death"
    death = day[is_death].groupby(events.loc[is_death, "patient_id"], observed=True).min()
    death_arr = death.reindex(ids).to_numpy()
    return pd.DataFrame(
        {
            "patient_id": ids.to_numpy(),
            "efs_days": np.where(np.isnan(first_arr), last, first_arr),
            "efs_event": ~np.isnan(first_arr),
            "os_days": np.where(np.isnan(death_arr), last, death_arr),
            "os_event": ~np.isnan(death_arr),
            "risk_group": patients["risk_group"].to_numpy(),
            "kmt2a": patients["kmt2a"].to_numpy(),
        }
    )
