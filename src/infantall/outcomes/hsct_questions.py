"""HSCT in CR1, the question the platform exists to get right: one analysis used by the CLI,
the coordinator page and the report.

* :func:`histories_hsct_analysis` — the recommended analysis from domain histories: the
  time-dependent Cox model adjusted for what decides transplant under the protocol (stratified
  by its risk group and by the MRD status its HSCT rule reads, from the measurement date), with
  the unadjusted estimate shown as confounded by indication;
* :func:`hsct_analysis` (and :func:`dataset_hsct_analysis` for an analysis dataset) — the
  general form: time-dependent Cox, Mantel–Byar, landmark at the median time to HSCT,
  Simon–Makuch curves, and the naive "ever transplanted" Cox shown for contrast only.

Each returns a frozen result with a ``summary`` DataFrame and a JSON-safe ``to_dict()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from infantall.domain import PatientHistory
from infantall.errors import InvalidInputError
from infantall.outcomes._json import json_safe
from infantall.outcomes.cox import CoxResult, cox_ph
from infantall.outcomes.endpoints import AnalysisDataset
from infantall.outcomes.hsct import (
    LandmarkResult,
    MantelByarResult,
    counting_process,
    landmark,
    mantel_byar,
    simon_makuch,
    time_dependent_cox,
)
from infantall.outcomes.hsct_adjusted import (
    ASSUMPTION,
    LandmarkHSCT,
    adjusted_cox,
    hsct_frame,
    landmarks_of,
    strata_name,
    stratified_mantel_byar,
)
from infantall.outcomes.km import SurvivalCurves

__all__ = [
    "Estimate",
    "HSCTAnalysis",
    "dataset_hsct_analysis",
    "histories_hsct_analysis",
    "hsct_analysis",
]


@dataclass(frozen=True, slots=True)
class Estimate:
    """One estimate or test of an analysis: a hazard ratio with its CI, a chi-square on 1 df
    and its p-value, the patients and events it rests on, and a note on how it was made.

    Fields that do not apply (no hazard ratio for a test) are ``None``.
    """

    label: str
    hazard_ratio: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    n: int | None = None
    events: int | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return {
            "label": self.label,
            "hazard_ratio": json_safe(self.hazard_ratio),
            "ci_lower": json_safe(self.ci_lower),
            "ci_upper": json_safe(self.ci_upper),
            "statistic": json_safe(self.statistic),
            "p_value": json_safe(self.p_value),
            "n": self.n,
            "events": self.events,
            "note": self.note,
        }


def _cox_estimate(label: str, fit: CoxResult, n: int, note: str = "") -> Estimate:
    row = fit.summary.iloc[0]
    return Estimate(
        label,
        hazard_ratio=float(row["hr"]),
        ci_lower=float(row["hr_lower"]),
        ci_upper=float(row["hr_upper"]),
        statistic=float(row["z"]) ** 2,
        p_value=float(row["p"]),
        n=n,
        events=fit.n_events,
        note=note,
    )


@dataclass(frozen=True, slots=True)
class HSCTAnalysis:
    """HSCT as a time-dependent exposure (see :func:`hsct_analysis`).

    ``time_dependent`` is the unadjusted time-dependent Cox model (confounded by indication:
    transplant is decided by risk group and MRD); ``adjusted`` the recommended model
    (stratified by ``strata``, adjusted for ``adjusted_for``), ``None`` when nothing was given
    to adjust for. ``mantel_byar`` is stratified by ``strata`` when given. ``landmark`` is
    ``None`` when no patient is still at risk at ``landmark_time`` (``landmark_note`` says why).
    ``excluded`` counts the patients left out, by reason.
    """

    n: int
    n_exposed: int
    counting: pd.DataFrame
    time_dependent: CoxResult
    mantel_byar: MantelByarResult
    landmark_time: float
    landmark: LandmarkResult | None
    landmark_note: str
    naive: CoxResult
    simon_makuch: SurvivalCurves
    adjusted: CoxResult | None = None
    strata: str | None = None
    adjusted_for: tuple[str, ...] = ()
    landmarks: tuple[LandmarkHSCT, ...] = ()
    excluded: Mapping[str, int] = field(default_factory=dict)
    protocol: str | None = None
    mantel_byar_stratified: MantelByarResult | None = None

    @property
    def unadjusted_estimate(self) -> Estimate:
        """The time-dependent Cox HR of HSCT alone (confounded by indication)."""
        return _cox_estimate(
            "unadjusted time-dependent Cox (confounded by indication)",
            self.time_dependent,
            self.n,
            "HSCT is given by risk group and MRD: for contrast only, not an effect estimate",
        )

    @property
    def adjusted_estimate(self) -> Estimate | None:
        """The recommended estimate: HSCT's HR stratified by risk group, adjusted for MRD."""
        if self.adjusted is None:
            return None
        by = ", ".join(self.adjusted_for)
        note = "recommended; assumes no unmeasured confounding given the adjusted variables"
        return _cox_estimate(f"adjusted time-dependent Cox ({by})", self.adjusted, self.n, note)

    @property
    def estimates(self) -> tuple[Estimate, ...]:
        """Time-dependent Cox, Mantel–Byar, landmark log-rank, the naive Cox and, when
        adjusted, the adjusted Cox, in order."""
        mb = self.mantel_byar
        lm = self.landmark
        test = None if lm is None else lm.test
        out = [
            _cox_estimate(
                "time-dependent Cox (Efron)",
                self.time_dependent,
                self.n,
                f"{len(self.counting)} (start, stop] rows; unadjusted: confounded by indication",
            ),
            _mb_estimate("Mantel-Byar test (unstratified)", mb, self),
            Estimate(
                f"landmark at {self.landmark_time:g}",
                hazard_ratio=self.landmarks[0].hazard_ratio if self.landmarks else None,
                ci_lower=self.landmarks[0].ci_lower if self.landmarks else None,
                ci_upper=self.landmarks[0].ci_upper if self.landmarks else None,
                statistic=None if test is None else test.chisq,
                p_value=None if test is None else test.p_value,
                n=None if lm is None else lm.n_at_risk,
                note=self.landmark_note,
            ),
            _cox_estimate("naive ever-HSCT Cox (immortal-time biased)", self.naive, self.n),
        ]
        adj = self.adjusted_estimate
        smb = self.mantel_byar_stratified
        if smb is not None:
            out.append(_mb_estimate(f"Mantel-Byar test stratified by {self.strata}", smb, self))
        return tuple(out if adj is None else [*out, adj])

    @property
    def summary(self) -> pd.DataFrame:
        """One row per estimate (the fields of :class:`Estimate`)."""
        return pd.DataFrame([e.to_dict() for e in self.estimates])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: counts, exclusions, the unadjusted and adjusted estimates, the
        Mantel–Byar test, the landmarks, the assumption and every estimate."""
        adj = self.adjusted_estimate
        smb = self.mantel_byar_stratified
        test = self.mantel_byar if smb is None else smb
        mb = _mb_estimate("Mantel-Byar test", test, self).to_dict()
        mb.update(observed=test.observed, expected=test.expected)
        return {
            "n": self.n,
            "n_exposed": self.n_exposed,
            "n_analysed": int(self.counting["id"].nunique()),
            "counting_rows": len(self.counting),
            "protocol": self.protocol,
            "excluded": dict(self.excluded),
            "unadjusted": self.unadjusted_estimate.to_dict(),
            "adjusted": None
            if adj is None
            else {**adj.to_dict(), "adjusted_for": list(self.adjusted_for), "strata": self.strata},
            "assumption": ASSUMPTION,
            "mantel_byar": {**mb, "strata": None if smb is None else self.strata},
            "landmark_time": json_safe(self.landmark_time),
            "landmarks": [lm.to_dict() for lm in self.landmarks],
            "estimates": [e.to_dict() for e in self.estimates],
        }


def _landmark(
    data: pd.DataFrame, time: str, event: str, at: float, exposure_time: str
) -> tuple[LandmarkResult | None, str]:
    try:
        lm = landmark(data, time, event, at, exposure_time=exposure_time)
    except InvalidInputError as exc:
        if exc.code != "empty_data":
            raise
        return None, f"not estimable: {exc.reason}"
    note = f"exposed = HSCT by landmark; {lm.n_excluded} excluded (event/censored before it)"
    return lm, note


def hsct_analysis(
    data: pd.DataFrame,
    time: str,
    event: str,
    exposure_time: str,
    *,
    landmark_time: float | None = None,
    counting: pd.DataFrame | None = None,
    strata: str | None = None,
    adjust: Sequence[str] = (),
    switches: Mapping[str, str] | None = None,
    horizon: float | None = None,
    excluded: Mapping[str, int] | None = None,
    protocol: str | None = None,
    switch_mode: Literal["strata", "covariate"] = "strata",
) -> HSCTAnalysis:
    """HSCT in CR1 as a time-dependent exposure, one row per patient in ``data``.

    ``exposure_time`` is the time to HSCT (missing: never transplanted). Computes the
    counting-process rows (unless given as ``counting``), the unadjusted time-dependent Cox
    model (Efron; confounded by indication), the adjusted one when ``strata``, ``adjust``
    (baseline columns) or ``switches`` (indicator name -> column of the time it switches on,
    e.g. a positive MRD result from its measurement date) are given: with ``switch_mode``
    ``"strata"`` (default) R ``coxph(Surv(start, stop, event) ~ hsct + strata(risk, mrd))``,
    a patient moving to the MRD-positive stratum at the measurement date, which assumes
    nothing about the form of the MRD effect; with ``"covariate"`` R
    ``coxph(Surv(start, stop, event) ~ hsct + mrd + strata(risk))``. Then the Mantel–Byar
    test stratified the same way, the landmark analysis at ``landmark_time`` (default: the
    median time to HSCT) with a Cox HR and survival ``horizon`` after it per arm (default:
    the median follow-up after the landmark), Simon–Makuch curves and, for contrast only, the
    naive "ever transplanted" Cox model.

    Raises
    ------
    InvalidInputError
        ``too_few_groups`` when no patient is exposed before the end of follow-up.
    """
    for col in (time, event, exposure_time, strata, *adjust, *(switches or {}).values()):
        if col is not None and col not in data.columns:
            raise InvalidInputError(col, "is not a column of the data", "unknown_column")
    sw = dict(switches or {})
    h = pd.to_numeric(data[exposure_time], errors="coerce")
    cp = counting_process(data, time, event, exposure_time) if counting is None else counting
    if cp["hsct"].sum() == 0:
        raise InvalidInputError(
            exposure_time,
            f"no patient has a {exposure_time} before the end of follow-up: nothing to compare",
            "too_few_groups",
        )
    lm_time = float(np.nanmedian(h)) if landmark_time is None else float(landmark_time)
    lm, lm_note = _landmark(data, time, event, lm_time, exposure_time)
    after = data[time].to_numpy(dtype=float) - lm_time
    hz = float(np.median(after[after > 0])) if horizon is None and (after > 0).any() else horizon
    lms = (
        ()
        if lm is None
        else landmarks_of(data, time, event, exposure_time, lm_time, hz, strata, sw)
    )
    if switch_mode not in ("strata", "covariate"):
        raise InvalidInputError(
            "switch_mode", f"{switch_mode!r}: 'strata' or 'covariate'", "bad_option"
        )
    adjusted, cp_adj = adjusted_cox(
        data, time, event, exposure_time, strata, adjust, sw, switch_mode
    )
    ever = data.assign(_ever=(h.notna() & (h < data[time])).astype(int))
    how = " (strata)" if switch_mode == "strata" else ""
    by = ([f"{strata} (strata)"] if strata else []) + [f"{k}{how}" for k in sw] + list(adjust)
    return HSCTAnalysis(
        n=len(data),
        n_exposed=int(h.notna().sum()),
        counting=cp,
        time_dependent=time_dependent_cox(cp, ["hsct"]),
        mantel_byar=mantel_byar(cp, "hsct"),
        mantel_byar_stratified=stratified_mantel_byar(cp_adj, strata, sw, switch_mode),
        landmark_time=lm_time,
        landmark=lm,
        landmark_note=lm_note,
        naive=cox_ph(ever, time, event, ["_ever"]),
        simon_makuch=simon_makuch(cp, "hsct"),
        adjusted=adjusted,
        strata=None if cp_adj is None else strata_name(strata, sw, switch_mode),
        adjusted_for=tuple(by),
        landmarks=lms,
        excluded=dict(excluded or {}),
        protocol=protocol,
    )


def _mb_estimate(label: str, mb: MantelByarResult, res: HSCTAnalysis) -> Estimate:
    return Estimate(
        label,
        statistic=mb.chisq,
        p_value=mb.p_value,
        n=res.n,
        events=int(res.counting["event"].sum()),
        note=f"O={mb.observed:g}, E={mb.expected:.2f} (transplanted)",
    )


def dataset_hsct_analysis(
    dataset: AnalysisDataset, paramcd: str = "EFS", *, landmark_time: float | None = None
) -> HSCTAnalysis:
    """:func:`hsct_analysis` of an endpoint of an analysis dataset (HSCT day ``HSCTDY``), on
    the dataset's counting-process rows
    (:meth:`~infantall.outcomes.endpoints.AnalysisDataset.hsct_counting_process`); adjusted
    by stratifying on the risk group ``RISKGRP`` when the dataset has it (the MRD of the HSCT
    rule needs the histories: :func:`histories_hsct_analysis`)."""
    df = dataset.endpoint(paramcd)
    strata = "RISKGRP" if "RISKGRP" in df.columns else None
    n_zero = int((df.time <= 0).sum())
    return hsct_analysis(
        df,
        "time",
        "status",
        "HSCTDY",
        landmark_time=landmark_time,
        counting=dataset.hsct_counting_process(paramcd),
        strata=strata,
        horizon=3 * 365.25,
        excluded={_NO_TIME: n_zero, _NO_DIAGNOSIS: len(dataset.excluded)},
        protocol=dataset.options.protocol,
    )


_NO_TIME = "no time at risk after diagnosis (event or censoring at day 0)"
_NO_DIAGNOSIS = "no diagnosis date or diagnosed after the cut-off"


def histories_hsct_analysis(
    histories: Iterable[PatientHistory],
    protocol: str = "interfant-06",
    paramcd: str = "EFS",
    *,
    cutoff: dt.date | None = None,
    landmark_time: float | None = None,
    horizon: float = 3 * 365.25,
) -> HSCTAnalysis:
    """The recommended HSCT analysis of patient histories under ``protocol``.

    Endpoints and risk groups are derived here
    (:func:`~infantall.outcomes.hsct_adjusted.hsct_frame`); the adjusted model is stratified
    by the protocol's risk group and by the protocol's HSCT-rule MRD result (positive at or
    above its threshold) as a time-dependent stratum from its measurement date. Survival in
    the landmark arms is given ``horizon`` days (default 3 years) after the landmark.
    """
    fr = hsct_frame(histories, protocol, paramcd=paramcd, cutoff=cutoff)
    switches = {} if fr.mrd_rule is None else {_mrd_name(fr.mrd_rule): "MRDPOSDY"}
    return hsct_analysis(
        fr.data,
        "time",
        "status",
        "HSCTDY",
        landmark_time=landmark_time,
        strata="RISKGRP",
        switches=switches,
        horizon=horizon,
        excluded={k: len(v) for k, v in fr.excluded.items()},
        protocol=fr.protocol,
    )


def _mrd_name(rule: tuple[str, float]) -> str:
    return f"MRD {rule[0]} >= {rule[1]:g}"
