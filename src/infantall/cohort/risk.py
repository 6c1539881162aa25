"""Risk groups of the synthetic infants and their expected shares.

The groups drive the outcome model, which is calibrated to published results *by risk
group*. :func:`assign_groups` uses the protocol engine of ``infantall.protocols``
(``stratify_frame``) when it places every patient in one of the calibrated groups; otherwise
it applies the two rules below, written out here (and checked against the engine in
``tests/cohort``):

* Interfant-06 (domain-facts.md §1.2): LR = KMT2A germline; HR = KMT2A-r and age
  < 6 months and (WBC ≥ 300 × 10^9/L or poor prednisone response); MR = other KMT2A-r.
  The ASH 2018 abstract's "< 6 months" is used (the JCO 2019 abstract's "older than" is very
  probably an error, domain-facts.md §1.2), with 6 months = :data:`SIX_MONTHS_DAYS` days.
* JPLSG MLL-10 (domain-facts.md §1.4): LR = germline; HR = KMT2A-r and (age < 180 days or
  CNS disease, taken as CNS3); IR = other KMT2A-r.

:func:`expected_group_shares` gives the exact expected share of each group under the
feature model (needed to derive pooled targets such as "KMT2A-r" from group targets).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from infantall.cohort.features import (
    SIX_MONTHS_DAYS,
    FeatureModel,
    age_pmf,
    kmt2a_r_probability,
    prob_high_wbc,
)
from infantall.protocols import stratify_frame

__all__ = [
    "ENGINE_IDS",
    "GROUPS",
    "MLL10_AGE_DAYS",
    "assign_groups",
    "expected_group_shares",
    "fallback_groups",
]

#: Risk groups of each protocol the outcome model is calibrated for, in display order.
GROUPS: dict[str, tuple[str, ...]] = {
    "interfant-06": ("LR", "MR", "HR"),
    "mll-10": ("LR", "IR", "HR"),
}

#: MLL-10's age cut for HR: "age < 180 days" (domain-facts.md §1.4, Blood 2020;136:1813).
MLL10_AGE_DAYS = 180

#: Identifier of each calibration protocol in ``infantall.protocols``.
ENGINE_IDS: dict[str, str] = {"interfant-06": "interfant-06", "mll-10": "jplsg-mll-10"}

#: The features the two protocols' group rules read (passed alone to the engine: faster).
_ENGINE_COLUMNS = ("kmt2a", "age_days", "wbc", "prednisone_response", "cns")

_HYPERLEUKOCYTOSIS = 300.0


def fallback_groups(patients: pd.DataFrame, protocol: str) -> np.ndarray:
    """Risk group of every row by the rules in this module's docstring (vectorised).

    ``patients`` needs the columns ``kmt2a``, ``age_days``, ``wbc``,
    ``prednisone_response`` and ``cns`` with domain enumeration values.
    """
    rearranged = (patients["kmt2a"] == "rearranged").to_numpy()
    age = patients["age_days"].to_numpy()
    if protocol == "interfant-06":
        adverse = (patients["wbc"].to_numpy() >= _HYPERLEUKOCYTOSIS) | (
            patients["prednisone_response"] == "poor"
        ).to_numpy()
        high = rearranged & (age < SIX_MONTHS_DAYS) & adverse
        return np.where(~rearranged, "LR", np.where(high, "HR", "MR"))
    if protocol == "mll-10":
        high = rearranged & ((age < MLL10_AGE_DAYS) | (patients["cns"] == "CNS3").to_numpy())
        return np.where(~rearranged, "LR", np.where(high, "HR", "IR"))
    raise ValueError(f"no risk rules for protocol {protocol!r}; choose from {sorted(GROUPS)}")


def _engine_groups(patients: pd.DataFrame, protocol: str) -> np.ndarray | None:
    """Groups from ``infantall.protocols.stratify_frame``, or None when any patient falls
    outside the calibrated groups (e.g. ``indeterminate``)."""
    columns = [c for c in _ENGINE_COLUMNS if c in patients.columns]
    result = stratify_frame(patients[columns], ENGINE_IDS[protocol])
    values = np.asarray(result["group"].astype(str).to_numpy())
    if not np.isin(values, GROUPS[protocol]).all():
        return None
    return values


def assign_groups(patients: pd.DataFrame, protocol: str) -> tuple[np.ndarray, str]:
    """Risk group of every patient and the name of the rules that gave it.

    Returns ``(groups, source)`` where ``source`` is ``"infantall.protocols"`` or
    ``"infantall.cohort.risk"`` (the fallback rules).
    """
    if protocol not in GROUPS:
        raise ValueError(f"no risk rules for protocol {protocol!r}; choose from {sorted(GROUPS)}")
    engine = _engine_groups(patients, protocol)
    if engine is not None:
        return engine, "infantall.protocols"
    return fallback_groups(patients, protocol), "infantall.cohort.risk"


def expected_group_shares(model: FeatureModel, protocol: str) -> dict[str, float]:
    """Exact expected share of each risk group under the feature model and fallback rules.

    Sums over whole days of age; the WBC and prednisone-response terms use the model's
    closed forms (WBC does not depend on age or partner in the model).
    """
    pmf = age_pmf(model)
    joint_r = pmf * kmt2a_r_probability(model)
    p_r = float(joint_r.sum())
    days = np.arange(pmf.size)
    if protocol == "interfant-06":
        p_high = prob_high_wbc(model.log_wbc_r)
        adverse = p_high + (1.0 - p_high) * model.ppr_r
        hr = float(joint_r[days < SIX_MONTHS_DAYS].sum()) * adverse
        return {"LR": 1.0 - p_r, "MR": p_r - hr, "HR": hr}
    if protocol == "mll-10":
        young = float(joint_r[days < MLL10_AGE_DAYS].sum())
        hr = young + (p_r - young) * model.cns3_r
        return {"LR": 1.0 - p_r, "IR": p_r - hr, "HR": hr}
    raise ValueError(f"no risk rules for protocol {protocol!r}; choose from {sorted(GROUPS)}")
