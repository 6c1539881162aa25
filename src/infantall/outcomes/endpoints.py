"""Analysis datasets from patient histories: EFS, OS, DFS, CIR, early death, relapse site.

:func:`derive_endpoints` turns :class:`~infantall.domain.PatientHistory` objects into one row
per patient per endpoint in the shape of a CDISC ADaM ADTTE dataset (PARAMCD, PARAM, AVAL,
CNSR, EVNTDESC, CNSDTDSC, STARTDT, ADT, ...) with the covariates the analyses use. The
endpoint definitions follow the glossary of ``DESIGN.md`` (Interfant conventions):

* **EFS** from diagnosis: first of induction failure (at day 0 by default, or at the date of
  the response assessment), relapse, death from any cause, second malignancy.
* **OS** from diagnosis: death from any cause.
* **DFS** from complete remission: relapse or death in CR (patients in CR only).
* **CIR** from diagnosis (patients in CR): STATUS 1 relapse, 2 competing (death in CR or a
  second malignancy before relapse), 0 censored.
* **EARLYDTH**: death within 90 days of enrollment (diagnosis when enrollment is missing),
  follow-up censored at 90 days.
* **CIRBM / CIRCNS / CIRCOMB / CIROTH**: cumulative incidence of relapse by site (isolated
  marrow, isolated CNS, combined, other or unknown); a relapse at another site and death in
  CR compete (STATUS 2).
* **OSREL**: overall survival from the first relapse (patients who relapsed): death from any
  cause, censored at the last information date.
* **CR2**: second complete remission after the first relapse (patients who relapsed), time
  from relapse: STATUS 1 CR2, 2 death before CR2 (competing), 0 censored. Its cumulative
  incidence at a horizon is the CR2 rate; the crude rate is :attr:`AnalysisDataset.cr2_rate`.

Censoring is at the last information date (death or latest event/contact), or at an
optional administrative cut-off date; events after the cut-off are not seen.
CNSR follows ADaM (0 = event of interest, 1 = censored); competing events have CNSR 2 and
STATUS 2.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from infantall.domain import (
    Death,
    MRDTimePoint,
    PatientHistory,
    Relapse,
    RelapseSite,
    SecondMalignancy,
)
from infantall.domain.events import SecondRemission
from infantall.errors import InvalidInputError
from infantall.outcomes._validate import OutcomesWarning
from infantall.outcomes.hsct import counting_process
from infantall.protocols import stratify

__all__ = [
    "ENDPOINTS",
    "AnalysisDataset",
    "EndpointOptions",
    "derive_endpoints",
    "read_histories",
    "write_adtte",
]

DAYS_PER_YEAR = 365.25

#: PARAMCD -> PARAM (label) of every endpoint derived.
ENDPOINTS: dict[str, str] = {
    "EFS": "Event-free survival (days from diagnosis)",
    "OS": "Overall survival (days from diagnosis)",
    "DFS": "Disease-free survival (days from complete remission)",
    "CIR": "Cumulative incidence of relapse (days from diagnosis; death in CR competing)",
    "EARLYDTH": "Death within the early-death window of enrollment",
    "CIRBM": "Isolated bone-marrow relapse (competing: other relapse, death in CR)",
    "CIRCNS": "Isolated CNS relapse (competing: other relapse, death in CR)",
    "CIRCOMB": "Combined relapse (competing: other relapse, death in CR)",
    "CIROTH": "Other or unknown-site relapse (competing: other relapse, death in CR)",
    "OSREL": "Overall survival from first relapse (days from relapse)",
    "CR2": "Second complete remission (days from first relapse; death before CR2 competing)",
}

_SITE_PARAM = {
    RelapseSite.isolated_marrow: "CIRBM",
    RelapseSite.isolated_cns: "CIRCNS",
    RelapseSite.combined: "CIRCOMB",
    RelapseSite.other_extramedullary: "CIROTH",
    RelapseSite.unknown: "CIROTH",
}


@dataclass(frozen=True, slots=True)
class EndpointOptions:
    """Conventions of the derivation; each is a named, documented choice.

    Attributes
    ----------
    induction_failure_at_day0
        Count induction failure as an EFS event at day 0 (Interfant convention) rather
        than at the date of the end-of-induction assessment.
    cutoff
        Administrative cut-off date: follow-up after it is ignored.
    early_death_days
        Window of the early-death endpoint (90 days of enrollment).
    age_classes_days
        Upper bounds (exclusive) of the age classes, in days: <91 ("<3m"),
        91-<183 ("3-<6m"), else ("6-12m"); Interfant reports < 6 versus >= 6 months.
    protocol
        Protocol whose risk group is added (``RISKGRP``) via :mod:`infantall.protocols`;
        ``None`` to skip.
    """

    induction_failure_at_day0: bool = True
    cutoff: dt.date | None = None
    early_death_days: int = 90
    age_classes_days: tuple[int, int] = (91, 183)
    protocol: str | None = "interfant-06"


@dataclass(frozen=True, slots=True)
class AnalysisDataset:
    """Derived endpoints (ADTTE long format) and the per-patient covariates."""

    adtte: pd.DataFrame
    covariates: pd.DataFrame
    options: EndpointOptions
    excluded: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> pd.DataFrame:
        """Per endpoint: patients, events of interest, competing events, censored."""
        g = self.adtte.groupby("PARAMCD", sort=False)
        return pd.DataFrame(
            {
                "n": g.size(),
                "events": g["STATUS"].apply(lambda s: int((s == 1).sum())),
                "competing": g["STATUS"].apply(lambda s: int((s == 2).sum())),
                "censored": g["STATUS"].apply(lambda s: int((s == 0).sum())),
            }
        ).reset_index()

    def endpoint(self, paramcd: str) -> pd.DataFrame:
        """One endpoint as an analysis frame: time (days), time_years, status, covariates."""
        if paramcd not in ENDPOINTS:
            raise InvalidInputError(
                "paramcd", f"{paramcd!r}; use one of {list(ENDPOINTS)}", "bad_option"
            )
        rows = self.adtte[paramcd == self.adtte.PARAMCD]
        out = pd.DataFrame(
            {
                "USUBJID": rows.USUBJID.to_numpy(),
                "time": rows.AVAL.to_numpy(dtype=float),
                "time_years": rows.AVALY.to_numpy(dtype=float),
                "status": rows.STATUS.to_numpy(dtype=int),
            }
        )
        return out.merge(self.covariates, on="USUBJID", how="left")

    def hsct_counting_process(self, paramcd: str = "EFS") -> pd.DataFrame:
        """Counting-process rows of ``paramcd`` with HSCT in CR1 as a time-varying exposure.

        Patients whose time is 0 (induction failure counted at day 0) were never at risk of
        a transplant in CR1 and have no (start, stop] interval: they are left out.
        """
        df = self.endpoint(paramcd)
        df = df[df.time > 0]
        if paramcd in ("CIR", "CIRBM", "CIRCNS", "CIRCOMB", "CIROTH"):
            df = df.assign(status=(df.status == 1).astype(int))
        cols = [c for c in ("KMT2A_R", "AGEDAYS") if c in df.columns]
        return counting_process(df, "time", "status", "HSCTDY", covariates=cols, id_col="USUBJID")

    def cr2_rate(self, window_days: int = 180) -> dict[str, Any]:
        """Crude CR2 rate among relapsed patients evaluable at ``window_days`` after relapse.

        Evaluable: CR2 reached (at any time), death before CR2, or follow-up of at least
        ``window_days`` after relapse; patients followed for less are left out (still on
        salvage). ``rate`` is ``None`` when no patient is evaluable (never a NaN).
        """
        rows = self.adtte[self.adtte.PARAMCD == "CR2"]
        evaluable = (rows.STATUS != 0) | (window_days <= rows.AVAL)
        n, cr2 = int(evaluable.sum()), int((rows.STATUS == 1).sum())
        rate = cr2 / n if n else None
        return {"relapsed": len(rows), "evaluable": n, "cr2": cr2, "rate": rate}

    def print_summary(self) -> None:
        """Print events per endpoint."""
        print(self.summary.to_string(index=False))
        if self.excluded:
            print(f"excluded (no diagnosis date): {', '.join(self.excluded)}")


def _age_class(age: int | None, bounds: tuple[int, int]) -> str:
    if age is None:
        return "unknown"
    if age < bounds[0]:
        return "<3m"
    return "3-<6m" if age < bounds[1] else "6-12m"


def _covariates(h: PatientHistory, opts: EndpointOptions, origin: dt.date) -> dict[str, Any]:
    p = h.patient
    mrd = h.mrd(MRDTimePoint.end_of_induction)
    hsct_day = _hsct_cr1_day(h, origin)
    row: dict[str, Any] = {
        "USUBJID": p.patient_id,
        "SITEID": p.site,
        "STUDYID": p.protocol,
        "AGEDAYS": p.age_days,
        "AGECLASS": _age_class(p.age_days, opts.age_classes_days),
        "SEX": p.sex.value,
        "WBC": p.wbc,
        "KMT2A": p.kmt2a.value,
        "KMT2A_R": {"rearranged": 1.0, "germline": 0.0}.get(p.kmt2a.value, np.nan),
        "PRED_RESP": p.prednisone_response.value,
        "PPR": {"poor": 1.0, "good": 0.0}.get(p.prednisone_response.value, np.nan),
        "CNS": p.cns.value,
        "MRD_EOI": None if mrd is None else mrd.value,
        "HSCTDY": hsct_day,
        "HSCT_CR1": int(hsct_day is not None),
    }
    if opts.protocol is not None:
        row["RISKGRP"] = _risk_group(h, opts.protocol)
    return row


def _risk_group(h: PatientHistory, protocol: str) -> str:

    with warnings.catch_warnings():
        # warnings about the patient were raised when the history was built
        warnings.simplefilter("ignore")
        return stratify(h, protocol).group


def _hsct_cr1_day(h: PatientHistory, origin: dt.date) -> float | None:
    """Days from diagnosis to the first HSCT before any relapse (HSCT in CR1)."""
    resp = h.induction_response
    if resp is None or not resp.is_cr or not h.transplants:
        return None
    first_relapse = h.relapses[0].date if h.relapses else None
    tx = h.transplants[0].date
    if first_relapse is not None and tx >= first_relapse:
        return None
    return float((tx - origin).days)


@dataclass(frozen=True, slots=True)
class _Obs:
    """Follow-up of one patient after the cut-off is applied."""

    end: dt.date
    events: tuple[Any, ...]


def _observe(h: PatientHistory, cutoff: dt.date | None) -> _Obs:
    last = h.last_follow_up
    if last is None:
        raise InvalidInputError("events", "no follow-up date", "missing_time")
    if cutoff is None or last <= cutoff:
        return _Obs(last, h.events)
    return _Obs(cutoff, tuple(e for e in h.events if e.date <= cutoff))


def _row(
    h: PatientHistory, paramcd: str, start: dt.date, date: dt.date, status: int, desc: str
) -> dict[str, Any]:
    aval = float((date - start).days)
    return {
        "STUDYID": h.patient.protocol,
        "USUBJID": h.patient.patient_id,
        "PARAMCD": paramcd,
        "PARAM": ENDPOINTS[paramcd],
        "STARTDT": start,
        "ADT": date,
        "AVAL": aval,
        "AVALU": "DAYS",
        "AVALY": aval / DAYS_PER_YEAR,
        "STATUS": status,
        "CNSR": {1: 0, 0: 1, 2: 2}[status],
        "EVNTDESC": desc if status != 0 else "",
        "CNSDTDSC": desc if status == 0 else "",
    }


def _first(events: Iterable[Any], kinds: tuple[type, ...]) -> Any:
    return next((e for e in events if isinstance(e, kinds)), None)


def _efs(h: PatientHistory, obs: _Obs, origin: dt.date, opts: EndpointOptions) -> dict[str, Any]:
    resp = h.induction_response
    if resp is not None and resp.status.value == "no_cr" and resp.date <= obs.end:
        date = origin if opts.induction_failure_at_day0 else resp.date
        return _row(h, "EFS", origin, date, 1, "INDUCTION FAILURE")
    ev = _first(obs.events, (Relapse, Death, SecondMalignancy))
    if ev is not None:
        return _row(h, "EFS", origin, ev.date, 1, _desc(ev))
    return _row(h, "EFS", origin, obs.end, 0, _censor_desc(obs, opts))


def _desc(ev: Any) -> str:
    if isinstance(ev, Relapse):
        return f"RELAPSE ({ev.site.value})"
    if isinstance(ev, Death):
        return f"DEATH ({ev.cause.value})"
    return "SECOND MALIGNANCY"


def _censor_desc(obs: _Obs, opts: EndpointOptions) -> str:
    if opts.cutoff is not None and obs.end == opts.cutoff:
        return "ADMINISTRATIVE CUT-OFF"
    return "LAST CONTACT"


def _competing(
    h: PatientHistory, obs: _Obs, origin: dt.date, cr_date: dt.date, opts: EndpointOptions
) -> list[dict[str, Any]]:
    """CIR and relapse-site rows for a patient in CR."""
    rel = _first((e for e in obs.events if e.date >= cr_date), (Relapse,))
    comp = _first((e for e in obs.events if e.date >= cr_date), (Death, SecondMalignancy))
    rows = []
    if rel is not None and (comp is None or rel.date <= comp.date):
        rows.append(_row(h, "CIR", origin, rel.date, 1, _desc(rel)))
        site_code = _SITE_PARAM[rel.site]
        for code in ("CIRBM", "CIRCNS", "CIRCOMB", "CIROTH"):
            status = 1 if code == site_code else 2
            rows.append(_row(h, code, origin, rel.date, status, _desc(rel)))
    elif comp is not None:
        for code in ("CIR", "CIRBM", "CIRCNS", "CIRCOMB", "CIROTH"):
            rows.append(_row(h, code, origin, comp.date, 2, _desc(comp) + " IN CR"))
    else:
        for code in ("CIR", "CIRBM", "CIRCNS", "CIRCOMB", "CIROTH"):
            rows.append(_row(h, code, origin, obs.end, 0, _censor_desc(obs, opts)))
    return rows


def _patient_rows(
    h: PatientHistory, opts: EndpointOptions, origin: dt.date
) -> list[dict[str, Any]]:
    obs = _observe(h, opts.cutoff)
    rows = [_efs(h, obs, origin, opts)]
    death = _first(obs.events, (Death,))
    if death is not None:
        rows.append(_row(h, "OS", origin, death.date, 1, _desc(death)))
    else:
        rows.append(_row(h, "OS", origin, obs.end, 0, _censor_desc(obs, opts)))
    enrol = h.patient.enrollment_date or origin
    window_end = enrol + dt.timedelta(days=opts.early_death_days)
    if death is not None and death.date <= window_end:
        rows.append(_row(h, "EARLYDTH", enrol, death.date, 1, _desc(death)))
    else:
        end = min(obs.end, window_end)
        rows.append(_row(h, "EARLYDTH", enrol, max(end, enrol), 0, _censor_desc(obs, opts)))
    resp = h.induction_response
    if resp is not None and resp.is_cr and resp.date <= obs.end:
        ev = _first((e for e in obs.events if e.date >= resp.date), (Relapse, Death))
        if ev is not None:
            rows.append(_row(h, "DFS", resp.date, ev.date, 1, _desc(ev)))
        else:
            rows.append(_row(h, "DFS", resp.date, obs.end, 0, _censor_desc(obs, opts)))
        rows.extend(_competing(h, obs, origin, resp.date, opts))
    return rows + _after_relapse(h, obs, death, opts)


def _after_relapse(
    h: PatientHistory, obs: _Obs, death: Death | None, opts: EndpointOptions
) -> list[dict[str, Any]]:
    """OSREL and CR2 rows of a patient with a relapse (none otherwise)."""
    relapse = _first(obs.events, (Relapse,))
    if relapse is None:
        return []
    if death is not None:
        rows = [_row(h, "OSREL", relapse.date, death.date, 1, _desc(death))]
    else:
        rows = [_row(h, "OSREL", relapse.date, obs.end, 0, _censor_desc(obs, opts))]
    cr2 = _first((e for e in obs.events if e.date > relapse.date), (SecondRemission,))
    if cr2 is not None:
        rows.append(_row(h, "CR2", relapse.date, cr2.date, 1, "SECOND REMISSION"))
    elif death is not None:
        rows.append(_row(h, "CR2", relapse.date, death.date, 2, _desc(death) + " BEFORE CR2"))
    else:
        rows.append(_row(h, "CR2", relapse.date, obs.end, 0, _censor_desc(obs, opts)))
    return rows


def derive_endpoints(
    histories: Iterable[PatientHistory],
    *,
    options: EndpointOptions | None = None,
    **overrides: Any,
) -> AnalysisDataset:
    """Derive every endpoint of every patient (ADaM ADTTE shape) and the covariates.

    Parameters
    ----------
    histories
        Validated patient histories (:class:`~infantall.domain.PatientHistory`).
    options, overrides
        :class:`EndpointOptions`, or its fields as keywords (``cutoff=date(2024, 12, 31)``).

    Patients without a diagnosis date cannot be placed on the time axis: they are listed
    in ``excluded`` with an :class:`~infantall.outcomes.OutcomesWarning`.
    """
    opts = options or EndpointOptions()
    if overrides:
        opts = EndpointOptions(**{**_as_dict(opts), **overrides})
    rows: list[dict[str, Any]] = []
    covs: list[dict[str, Any]] = []
    excluded: list[str] = []
    for h in histories:
        origin = h.patient.diagnosis_date
        if origin is None:
            excluded.append(h.patient.patient_id)
            continue
        if opts.cutoff is not None and origin > opts.cutoff:
            excluded.append(h.patient.patient_id)
            continue
        rows.extend(_patient_rows(h, opts, origin))
        covs.append(_covariates(h, opts, origin))
    if excluded:
        warnings.warn(
            f"{len(excluded)} patient(s) excluded (no diagnosis date, or diagnosed after "
            f"the cut-off): {', '.join(excluded[:5])}{' ...' if len(excluded) > 5 else ''}",
            OutcomesWarning,
            stacklevel=2,
        )
    if not rows:
        raise InvalidInputError("histories", "no patient could be analysed", "empty_data")
    adtte = pd.DataFrame(rows)
    cov = pd.DataFrame(covs)
    adtte = adtte.merge(cov.drop(columns=["STUDYID"]), on="USUBJID", how="left")
    return AnalysisDataset(adtte, cov, opts, tuple(excluded))


def _as_dict(opts: EndpointOptions) -> dict[str, Any]:
    return {name: getattr(opts, name) for name in EndpointOptions.__slots__}


def read_histories(path: str | Path) -> list[PatientHistory]:
    """Read patient histories from JSON: a list of history objects, or
    ``{"histories": [...]}`` / ``{"patients": [...]}`` (the ``to_dict`` form)."""
    import json

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(str(p), f"cannot read JSON: {exc}", "bad_option") from exc
    if isinstance(data, dict):
        data = data.get("histories", data.get("patients"))
    if not isinstance(data, list):
        raise InvalidInputError(
            str(p),
            "expected a list of patient histories (or {'histories': [...]})",
            "bad_option",
        )
    out = []
    for i, item in enumerate(data):
        try:
            out.append(PatientHistory.from_dict(item))
        except InvalidInputError as exc:
            raise InvalidInputError(f"[{i}].{exc.field}", exc.reason, exc.code) from exc
    return out


def write_adtte(
    dataset: AnalysisDataset | pd.DataFrame, path: str | Path, columns: Sequence[str] | None = None
) -> Path:
    """Write the ADTTE frame as CSV or Parquet (chosen by the suffix); dates as ISO."""
    df = dataset.adtte if isinstance(dataset, AnalysisDataset) else dataset
    if columns is not None:
        df = df[list(columns)]
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        out = df.copy()
        for c in ("STARTDT", "ADT"):
            if c in out.columns:
                out[c] = pd.to_datetime(out[c])
        out.to_parquet(p, index=False)
    elif p.suffix.lower() == ".csv":
        df.to_csv(p, index=False)
    else:
        raise InvalidInputError(str(p), "use a .csv or .parquet file name", "bad_option")
    return p
