"""HSCT in CR1 adjusted for what decides transplant under the protocol.

Transplant is given by risk group and, for some protocols, by an MRD result (Interfant-06:
all HR, and MR with MRD >= 10^-4 at the start of OCTADAD). A time-dependent Cox model of
HSCT alone is therefore confounded by indication. The recommended estimate here is R's

``coxph(Surv(start, stop, event) ~ hsct + mrd + strata(risk))``

with ``hsct`` switching on at the transplant and ``mrd`` (the protocol's HSCT-rule MRD result
at or above its threshold) switching on at its measurement date, stratified by the
protocol's risk group. It estimates the effect of HSCT under the assumption of no unmeasured
confounding given risk group and that MRD result; it is an association otherwise.

* :func:`hsct_rule_mrd` — the MRD feature and threshold the protocol's HSCT rule reads;
* :func:`split_at` — (start, stop] rows with several indicators switching on (R ``tmerge``);
* :func:`hsct_frame` — one row per patient from histories: endpoint, HSCT day, risk group,
  day of a positive HSCT-rule MRD result, and the patients left out with the reason;
* :func:`landmark_hsct` — landmark Cox HR of HSCT by the landmark with survival at a horizon
  per arm (R ``coxph(Surv(time - L, event) ~ hsct)`` on patients at risk at L).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infantall.domain import PatientHistory
from infantall.errors import InvalidInputError
from infantall.outcomes._json import json_safe
from infantall.outcomes._validate import OutcomesWarning, as_event, as_time
from infantall.outcomes.cox import CoxResult, cox_ph
from infantall.outcomes.endpoints import derive_endpoints
from infantall.outcomes.hsct import MantelByarResult, mantel_byar
from infantall.outcomes.km import kaplan_meier_by_group
from infantall.protocols.conditions import Cmp, Param, fields_of
from infantall.protocols.features import (
    MRD_AFTER_CONSOLIDATION,
    MRD_AFTER_CONSOLIDATION_SOURCES,
    MRD_FEATURES,
)
from infantall.protocols.registry import get_protocol

__all__ = [
    "ASSUMPTION",
    "HSCTFrame",
    "LandmarkHSCT",
    "adjusted_cox",
    "hsct_frame",
    "hsct_rule_mrd",
    "landmark_hsct",
    "landmarks_of",
    "split_at",
    "strata_name",
    "stratified_mantel_byar",
]

#: What the adjusted estimate assumes; every presenter prints it beside the estimate.
ASSUMPTION = (
    "The adjusted hazard ratio estimates the effect of HSCT only if there is no unmeasured "
    "confounding given the adjusted variables (risk group, and the MRD result the protocol's "
    "HSCT rule uses) and the proportional-hazards model holds; otherwise it is an association."
)


def _conditions(cond: Any) -> list[Cmp]:
    if isinstance(cond, Cmp):
        return [cond]
    parts = (cond.part,) if hasattr(cond, "part") else getattr(cond, "parts", ())
    return [c for p in parts for c in _conditions(p)]


#: The time point name :func:`hsct_rule_mrd` gives for the shared "MRD after consolidation".
AFTER_CONSOLIDATION = "after_consolidation"
_AFTER_CONSOLIDATION_POINTS = tuple(
    src.removeprefix("mrd_") for src in MRD_AFTER_CONSOLIDATION_SOURCES
)


def hsct_rule_mrd(protocol: str) -> tuple[str, float] | None:
    """The MRD time point and threshold read by ``protocol``'s HSCT rule, or ``None``.

    Found in the data of the protocol's flag rules whose flag names HSCT (e.g.
    ``interfant-06.hsct_eligible``: ``("start_of_octadad", 1e-4)``).
    """
    p = get_protocol(protocol)
    for rule in p.flag_rules:
        if "hsct" not in rule.flag:
            continue
        for c in _conditions(rule.condition):
            if c.field == MRD_AFTER_CONSOLIDATION:
                value = p.defaults[c.value.name] if isinstance(c.value, Param) else c.value
                return AFTER_CONSOLIDATION, float(value)
            if c.field in MRD_FEATURES and c.field in fields_of(rule.condition):
                value = p.defaults[c.value.name] if isinstance(c.value, Param) else c.value
                return MRD_FEATURES[c.field].value, float(value)
    return None


def split_at(
    data: pd.DataFrame,
    time: str,
    event: str,
    switches: Mapping[str, str],
    *,
    keep: Sequence[str] = (),
    id_col: str | None = None,
) -> pd.DataFrame:
    """(start, stop] rows with 0/1 indicators that switch on at given times (R ``tmerge``).

    ``switches`` maps an indicator name to the column of the time it switches on (missing:
    never; 0: from the start). Follow-up is cut at every switch time strictly inside
    (0, T); the event sits on the last row. Rows with T = 0 are dropped (no time at risk).
    """
    t = as_time(data[time].to_numpy(), time)
    e = as_event(data[event].to_numpy(), t.shape[0], field=event)
    n = t.shape[0]
    ids = np.arange(n) if id_col is None else data[id_col].to_numpy()
    sw = {
        k: pd.to_numeric(data[c], errors="coerce").to_numpy(np.float64) for k, c in switches.items()
    }
    for name, col in switches.items():
        if (sw[name][~np.isnan(sw[name])] < 0).any():
            raise InvalidInputError(col, "switch times must be >= 0", "negative_time")
    row = [np.arange(n)]
    cut = [np.zeros(n)]
    for v in sw.values():
        inside = ~np.isnan(v) & (v > 0) & (v < t)
        row.append(np.flatnonzero(inside))
        cut.append(v[inside])
    cuts = pd.DataFrame({"r": np.concatenate(row), "start": np.concatenate(cut)})
    cuts = cuts.drop_duplicates().sort_values(["r", "start"], kind="stable")
    r = cuts["r"].to_numpy()
    start = cuts["start"].to_numpy()
    last = np.r_[r[1:] != r[:-1], True]
    stop = np.where(last, t[r], np.r_[start[1:], 0.0])
    out = pd.DataFrame(
        {"id": ids[r], "start": start, "stop": stop, "event": np.where(last, e[r], 0)}
    )
    for name, v in sw.items():
        out[name] = (~np.isnan(v[r]) & (v[r] <= start)).astype(np.int64)
    for c in keep:
        out[c] = data[c].to_numpy()[r]
    return out[out.stop > out.start].reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class HSCTFrame:
    """One row per analysed patient and who was left out (see :func:`hsct_frame`).

    ``data`` columns: ``USUBJID, time, status, HSCTDY, RISKGRP, MRDPOSDY`` (day of a positive
    HSCT-rule MRD result; NaN if none). ``excluded`` maps a reason to patient ids.
    """

    data: pd.DataFrame
    protocol: str
    mrd_rule: tuple[str, float] | None
    excluded: Mapping[str, tuple[str, ...]]
    cutoff: dt.date | None


def _mrd_positive_day(h: PatientHistory, rule: tuple[str, float] | None) -> float:
    if rule is None or h.patient.diagnosis_date is None:
        return float("nan")
    # "After consolidation" is the protocols' one reading: the end-of-consolidation result,
    # else the start of OCTADAD (infantall.protocols.features).
    points = _AFTER_CONSOLIDATION_POINTS if rule[0] == AFTER_CONSOLIDATION else (rule[0],)
    for point_name in points:
        for ev in h.events:
            point = getattr(ev, "time_point", None)
            value = getattr(ev, "value", None)
            if getattr(point, "value", None) == point_name and value is not None:
                if value >= rule[1]:
                    return float((ev.date - h.patient.diagnosis_date).days)
                return float("nan")
    return float("nan")


def hsct_frame(
    histories: Iterable[PatientHistory],
    protocol: str = "interfant-06",
    *,
    paramcd: str = "EFS",
    cutoff: dt.date | None = None,
) -> HSCTFrame:
    """Per patient: ``paramcd`` (days), HSCT in CR1 day, risk group under ``protocol`` and
    the day of a positive HSCT-rule MRD result (:func:`hsct_rule_mrd`).

    Left out, with the reason: no diagnosis date; no time at risk after diagnosis (e.g.
    induction failure counted at day 0, who were never at risk of a transplant in CR1).
    """
    hs = list(histories)
    pid = get_protocol(protocol).id
    rule = hsct_rule_mrd(pid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutcomesWarning)
        ds = derive_endpoints(hs, protocol=pid, cutoff=cutoff)
    df = ds.endpoint(paramcd)
    if paramcd.startswith("CIR"):
        df = df.assign(status=(df.status == 1).astype(int))
    mrd_day = {h.patient.patient_id: _mrd_positive_day(h, rule) for h in hs}
    df = df.assign(MRDPOSDY=df.USUBJID.map(mrd_day).astype(float))
    zero = df.time <= 0
    excluded = {
        "no diagnosis date or diagnosed after the cut-off": tuple(ds.excluded),
        "no time at risk after diagnosis (event or censoring at day 0)": tuple(
            df.USUBJID[zero].astype(str)
        ),
    }
    cols = ["USUBJID", "time", "status", "HSCTDY", "RISKGRP", "MRDPOSDY"]
    return HSCTFrame(df.loc[~zero, cols].reset_index(drop=True), pid, rule, excluded, cutoff)


@dataclass(frozen=True, slots=True)
class LandmarkHSCT:
    """Landmark analysis of HSCT: Cox HR of HSCT by the landmark, survival at a horizon."""

    landmark: float
    horizon: float
    n: int
    n_hsct: int
    events: int
    n_excluded: int
    hazard_ratio: float | None
    ci_lower: float | None
    ci_upper: float | None
    p_value: float | None
    survival: Mapping[str, float | None]
    note: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record (non-estimable values are null)."""
        return {
            "landmark": json_safe(self.landmark),
            "horizon": json_safe(self.horizon),
            "n": self.n,
            "n_hsct": self.n_hsct,
            "events": self.events,
            "n_excluded": self.n_excluded,
            "hazard_ratio": json_safe(self.hazard_ratio),
            "ci_lower": json_safe(self.ci_lower),
            "ci_upper": json_safe(self.ci_upper),
            "p_value": json_safe(self.p_value),
            "survival_at_horizon": {k: json_safe(v) for k, v in self.survival.items()},
            "note": self.note,
        }


def _survival_at(tt: np.ndarray, ee: np.ndarray, arm: np.ndarray, horizon: float) -> dict[str, Any]:
    out: dict[str, float | None] = {"hsct": None, "no_hsct": None}
    curves = kaplan_meier_by_group(tt, ee, np.where(arm == 1, "hsct", "no_hsct"))
    for c in curves.curves:
        row = c.at([horizon]).iloc[0]
        observed = bool(c.time.size) and float(c.time.max()) >= horizon
        out[str(row["group"])] = float(row["survival"]) if observed else None
    return out


def landmark_hsct(
    data: pd.DataFrame,
    time: str,
    event: str,
    exposure_time: str,
    landmark_time: float,
    horizon: float,
    *,
    strata: Sequence[str] = (),
) -> LandmarkHSCT:
    """Patients still at risk at the landmark L, grouped by HSCT at or before L, followed from
    L: Cox HR (R ``coxph(Surv(time - L, event) ~ hsct + strata(...))``, Efron; ``strata`` are
    columns known at L) and Kaplan–Meier survival ``horizon`` after L per arm (``None`` when
    the arm is not followed that long)."""
    t = as_time(data[time].to_numpy(), time)
    e = as_event(data[event].to_numpy(), t.shape[0], field=event)
    h = pd.to_numeric(data[exposure_time], errors="coerce").to_numpy(np.float64)
    keep = t > landmark_time
    arm = (~np.isnan(h) & (h <= landmark_time)).astype(np.int64)[keep]
    tt, ee = t[keep] - landmark_time, e[keep]
    base: dict[str, Any] = {"landmark": float(landmark_time), "horizon": float(horizon)}
    base |= {"n": int(keep.sum()), "n_hsct": int(arm.sum()), "events": int(ee.sum())}
    base["n_excluded"] = int((~keep).sum())
    if ee[arm == 1].sum() == 0 or ee[arm == 0].sum() == 0:
        return LandmarkHSCT(
            **base, hazard_ratio=None, ci_lower=None, ci_upper=None, p_value=None,
            survival=_survival_at(tt, ee, arm, horizon) if keep.any() else {},
            note="not estimable: both arms with events are needed at the landmark",
        )  # fmt: skip
    frame = pd.DataFrame({"t": tt, "e": ee, "hsct": arm})
    if strata:
        frame["s"] = data.loc[keep, list(strata)].astype(str).agg(" & ".join, axis=1).to_numpy()
    fit = cox_ph(frame, "t", "e", ["hsct"], strata="s" if strata else None)
    row = fit.summary.iloc[0]
    return LandmarkHSCT(
        **base, hazard_ratio=float(row["hr"]), ci_lower=float(row["hr_lower"]),
        ci_upper=float(row["hr_upper"]), p_value=float(row["p"]),
        survival=_survival_at(tt, ee, arm, horizon),
        note=f"{int((~keep).sum())} excluded: event or censored at or before the landmark; "
        + (f"stratified by {' & '.join(strata)}" if strata else "unadjusted"),
    )  # fmt: skip


def adjusted_cox(
    data: pd.DataFrame,
    time: str,
    event: str,
    exposure_time: str,
    strata: str | None,
    adjust: Sequence[str],
    switches: Mapping[str, str],
    switch_mode: str,
) -> tuple[CoxResult | None, pd.DataFrame | None]:
    """The adjusted model and its (start, stop] rows (column ``_strata`` = the strata used)."""
    if strata is None and not adjust and not switches:
        return None, None
    keep = [c for c in (strata, *adjust) if c is not None]
    cp = split_at(data, time, event, {"hsct": exposure_time, **switches}, keep=keep)
    by = [cp[strata].astype(str)] if strata is not None else []
    if switch_mode == "strata":
        by += [f"{k}=" + cp[k].astype(str) for k in switches]
        covs = ["hsct", *adjust]
    else:
        covs = ["hsct", *switches, *adjust]
    cp["_strata"] = pd.concat(by, axis=1).agg(" & ".join, axis=1) if by else "all"
    s = "_strata" if by else None
    fit = cox_ph(cp, "stop", "event", covs, entry="start", strata=s, concordance=False)
    return fit, cp


def landmarks_of(
    data: pd.DataFrame,
    time: str,
    event: str,
    exposure_time: str,
    at: float,
    horizon: float | None,
    strata: str | None,
    sw: Mapping[str, str],
) -> tuple[LandmarkHSCT, ...]:
    """The unadjusted landmark and, with strata or switches, the one stratified by the
    strata and the switches' status at the landmark."""
    hz = 0.0 if horizon is None else horizon
    out = [landmark_hsct(data, time, event, exposure_time, at, hz)]
    if strata is None and not sw:
        return tuple(out)
    extra = {k: (pd.to_numeric(data[c], errors="coerce") <= at).astype(int) for k, c in sw.items()}
    cols = ([strata] if strata else []) + list(extra)
    out.append(landmark_hsct(data.assign(**extra), time, event, exposure_time, at, hz, strata=cols))
    return tuple(out)


def strata_name(strata: str | None, sw: Mapping[str, str], mode: str) -> str | None:
    """Name of the adjusted model's strata (the column and, in strata mode, the switches)."""
    names = ([strata] if strata else []) + (list(sw) if mode == "strata" else [])
    return " & ".join(names) or None


def stratified_mantel_byar(
    cp_adj: pd.DataFrame | None, strata: str | None, sw: Mapping[str, str], mode: str
) -> MantelByarResult | None:
    """Mantel–Byar test within the adjusted model's strata (``None`` without strata)."""
    if cp_adj is None or strata_name(strata, sw, mode) is None:
        return None
    return mantel_byar(cp_adj, "hsct", strata="_strata")
