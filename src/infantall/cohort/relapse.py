"""The course after first relapse (and after induction failure) of the synthetic infants.

:func:`add_relapse_courses` adds, to the long events frame of a cohort, what the domain
records of relapsed/refractory disease: salvage therapy lines (line, agents, start and stop),
refractory disease, second complete remission (CR2), HSCT in CR2 or with active disease (its
disease status and number; HSCTs in CR1 get status ``cr1`` and number 1), and a second
relapse before a leukemic death after CR2. SYNTHETIC.

Whether and when a relapsed patient dies is the outcome model's (its probabilities are
solved by :mod:`~infantall.cohort.calibration` so that OS from diagnosis meets the published
targets); this module draws the course *given* that fate, so it leaves every calibrated
figure unchanged. The probability of CR2 depends on the fate: survivors almost always reached
a second remission (``cr2_if_survives``), and ``cr2_if_dies`` is solved from the JILSG figures
for 39 relapsed/refractory KMT2A-r infants of MLL96/98 — "CR was achieved in 40.5% and
5-year OS was 25.6%" (seed 004, Treatment strategies for relapsed/refractory disease) — so
that a population with JILSG's post-relapse survival has JILSG's CR rate. For patients
still alive at censoring, the fate is drawn from its posterior given survival so far.

HSCT after relapse follows JILSG's shares: 9 HSCT in CR2 of about 15 in CR
(40.5% of 37 evaluable), 14 HSCT with active disease of the others. The timings and the
regimens are assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from infantall.cohort.calibration import CalibratedModel

__all__ = [
    "JILSG_CR_RATE",
    "JILSG_OS_5Y",
    "RELAPSE_CATEGORIES",
    "RELAPSE_COLUMNS",
    "RelapseOptions",
    "add_relapse_courses",
    "restore_relapse_columns",
]

#: JILSG relapsed/refractory KMT2A-r infants (n = 39; seed 004): CR rate and 5-year OS.
JILSG_CR_RATE = 0.405
JILSG_OS_5Y = 0.256

#: Categorical columns this module adds to the events frame, with the values it generates
#: (a test checks they are domain choices).
RELAPSE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "agents": (
        "FLAG-Ida",
        "clofarabine, etoposide, cyclophosphamide",
        "Interfant-type re-induction",
        "blinatumomab",
        "inotuzumab ozogamicin",
    ),
    "disease_status": ("cr1", "cr2", "active_disease"),
    "phase": ("induction", "salvage"),
}
#: Columns added to the events frame (the domain attributes of the new event kinds and of
#: HSCT): ``line`` and ``number`` nullable integers, ``end_date`` ISO text or missing.
RELAPSE_COLUMNS: tuple[str, ...] = (
    "line",
    "agents",
    "end_date",
    "disease_status",
    "number",
    "phase",
)
_INT_COLUMNS = ("line", "number")
#: Existing columns the new rows fill: an HSCT's donor, HLA match and conditioning (the
#: donor mix of the CR1 transplants, an assumption), a CR2's marrow, a second relapse's site.
_HSCT_COLUMNS = ("donor", "hla_match", "conditioning", "marrow", "site")
_DONOR_HLA = (("unrelated", ("10/10", "9/10")), ("cord_blood", ("6/6", "5/6", "4/6")),
              ("matched_sibling", ("10/10",)), ("haploidentical", ("5/10",)))  # fmt: skip
_DONOR_P = (0.45, 0.25, 0.15, 0.15)
_MIN_DAYS_TO_TREAT = 10


@dataclass(frozen=True, slots=True)
class RelapseOptions:
    """Assumptions of the post-relapse course.

    Attributes
    ----------
    cr2_if_survives
        P(CR2 | the patient survives the relapse): assumption (long-term survival after
        relapse without a second remission is exceptional).
    cr2_if_dies
        P(CR2 | the patient dies after relapse); ``None`` solves it from the JILSG figures:
        (0.405 − 0.256 × cr2_if_survives) / 0.744.
    cr2_in_first_line
        Share of CR2 reached with the first salvage line (the rest with the second).
    second_line
        P(a second salvage line | refractory to the first).
    hsct_in_cr2, hsct_active
        P(HSCT | CR2) = 9/15 and P(HSCT with active disease | no CR2) = 14/24 (JILSG).
    start_days, line_days, hsct_cr2_days, hsct_active_days
        Inclusive ranges (days): relapse to first line, duration of a line (response
        assessed at its end), CR2 to HSCT, start of the last line to HSCT with active disease.
    """

    cr2_if_survives: float = 0.95
    cr2_if_dies: float | None = None
    cr2_in_first_line: float = 0.6
    second_line: float = 0.8
    hsct_in_cr2: float = 9 / 15
    hsct_active: float = 14 / 24
    start_days: tuple[int, int] = (0, 7)
    line_days: tuple[int, int] = (28, 42)
    hsct_cr2_days: tuple[int, int] = (30, 60)
    hsct_active_days: tuple[int, int] = (14, 45)

    @property
    def p_cr2_dies(self) -> float:
        """P(CR2 | dies after relapse), solved from JILSG when not given."""
        if self.cr2_if_dies is not None:
            return self.cr2_if_dies
        solved = (JILSG_CR_RATE - JILSG_OS_5Y * self.cr2_if_survives) / (1.0 - JILSG_OS_5Y)
        return float(min(max(solved, 0.0), 1.0))


@dataclass(frozen=True, slots=True)
class _Patients:
    """Per patient (row of the patients frame): first relapse, death and last day, etc."""

    relapse: np.ndarray
    death: np.ndarray
    last: np.ndarray
    failure: np.ndarray
    leukemic_death: np.ndarray
    cr1_hsct: np.ndarray


def _per_patient(events: pd.DataFrame, n: int) -> _Patients:
    code = np.asarray(events["patient_id"].cat.codes, dtype=np.int64)
    day = events["day"].to_numpy(dtype=float)
    kind = events["kind"].astype(str).to_numpy()
    relapse, death, failure = np.full(n, np.inf), np.full(n, np.inf), np.full(n, np.inf)
    last = np.full(n, -np.inf)
    np.maximum.at(last, code, day)
    is_rel = kind == "relapse"
    np.minimum.at(relapse, code[is_rel], day[is_rel])
    is_death = kind == "death"
    death[code[is_death]] = day[is_death]
    leukemic = np.zeros(n, dtype=bool)
    leukemic[code[is_death]] = (events["cause"].astype(str).to_numpy() == "leukemia")[is_death]
    no_cr = (kind == "response") & (events["status"].astype(str).to_numpy() == "no_cr")
    failure[code[no_cr]] = day[no_cr]
    cr1_hsct = np.zeros(n, dtype=bool)
    is_hsct = kind == "hsct"
    cr1_hsct[code[is_hsct]] = True
    return _Patients(relapse, death, last, failure, leukemic, cr1_hsct)


def _survival_after_relapse(days: np.ndarray, model: CalibratedModel) -> np.ndarray:
    """P(T > days) for the lognormal time from relapse to death of those who die."""
    median, sigma = model.timing.death_after_relapse
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(days, 0.0) + 0.5) - np.log(median)) / sigma
    return np.asarray(1.0 - ndtr(z))


_Rows = dict[str, list[np.ndarray]]


def _emit(rows: _Rows, who: np.ndarray, kind: str, day: np.ndarray, **attrs: np.ndarray) -> None:
    rows["patient"].append(who)
    rows["kind"].append(np.full(who.size, kind, dtype=object))
    rows["day"].append(day.astype(np.int64))
    for name in (*RELAPSE_COLUMNS, *_HSCT_COLUMNS):
        value = attrs.get(name)
        rows[name].append(
            np.full(who.size, None, dtype=object) if value is None else value.astype(object)
        )


def _draw(rng: np.random.Generator, lo_hi: tuple[int, int], n: int) -> np.ndarray:
    return rng.integers(lo_hi[0], lo_hi[1] + 1, n).astype(float)


def _relapse_rows(
    rng: np.random.Generator, p: _Patients, q: np.ndarray, model: CalibratedModel,
    opts: RelapseOptions, rows: _Rows,
) -> None:  # fmt: skip
    idx = np.flatnonzero(np.isfinite(p.relapse))
    m = idx.size
    r, d, last = p.relapse[idx], p.death[idx], p.last[idx]
    dies = np.isfinite(d)
    surv = _survival_after_relapse(last - r, model)
    w = q[idx] * surv / (q[idx] * surv + 1.0 - q[idx])
    fated = dies | (rng.random(m) < w)
    cr2 = rng.random(m) < np.where(fated, opts.p_cr2_dies, opts.cr2_if_survives)
    line1 = rng.random(m) < opts.cr2_in_first_line
    s1 = _draw(rng, opts.start_days, m)
    e1 = s1 + _draw(rng, opts.line_days, m)
    two = (cr2 & ~line1) | (~cr2 & (rng.random(m) < opts.second_line))
    s2 = e1 + _draw(rng, (1, 7), m)
    e2 = s2 + _draw(rng, opts.line_days, m)
    cr2_off = np.where(line1, e1, e2)
    tx_cr2 = cr2 & (rng.random(m) < opts.hsct_in_cr2)
    tx_act = ~cr2 & (rng.random(m) < opts.hsct_active)
    tx_off = np.where(cr2, cr2_off + _draw(rng, opts.hsct_cr2_days, m),
                      np.where(two, s2, s1) + _draw(rng, opts.hsct_active_days, m))  # fmt: skip
    tx = tx_cr2 | tx_act
    span = np.maximum.reduce([np.where(two, e2, e1), np.where(tx, tx_off, 0.0)])
    # Dying patients: the course is compressed to fit before death (fate given).
    k = np.where(dies, np.minimum(1.0, (d - r - 1.0) / span), 1.0)
    treat = ~dies | (d - r >= _MIN_DAYS_TO_TREAT)
    s1, e1, s2, e2 = (np.floor(x * k) for x in (s1, e1, s2, e2))
    cr2_off = np.maximum(1.0, np.floor(cr2_off * k))
    tx_off = np.floor(tx_off * k)

    def seen(off: np.ndarray) -> np.ndarray:
        return np.asarray(treat & (r + off <= last) & (r + off < d))

    agent1 = rng.integers(0, 3, m)
    agent2 = rng.integers(3, 5, m)
    for line, start, end, agent, ok in (
        (1, s1, e1, agent1, seen(s1)),
        (2, s2, e2, agent2, seen(s2) & two),
    ):
        end_date = np.where(r + end <= last, r + end, np.nan)[ok]
        _emit(rows, idx[ok], "salvage_therapy", (r + start)[ok], line=np.full(ok.sum(), line),
              agents=np.asarray(RELAPSE_CATEGORIES["agents"], dtype=object)[agent[ok]],
              end_date=end_date)  # fmt: skip
    ref1 = seen(e1) & (~cr2 | ~line1)
    _emit(rows, idx[ref1], "refractory", (r + e1)[ref1], phase=np.full(ref1.sum(), "salvage"))
    ref2 = seen(e2) & two & ~cr2
    _emit(rows, idx[ref2], "refractory", (r + e2)[ref2], phase=np.full(ref2.sum(), "salvage"))
    got = cr2 & seen(cr2_off)
    _emit(rows, idx[got], "second_remission", (r + cr2_off)[got],
          marrow=np.full(got.sum(), "M1"))  # fmt: skip
    done = seen(tx_off) & ((tx_cr2 & got) | tx_act)
    status = np.where(cr2, "cr2", "active_disease")[done]
    number = np.where(p.cr1_hsct[idx], 2, 1)[done]
    _emit(rows, idx[done], "hsct", (r + tx_off)[done], disease_status=status, number=number,
          **_transplant(rng, int(done.sum())))  # fmt: skip
    after = np.where(done, tx_off, cr2_off)
    second = got & dies & p.leukemic_death[idx] & (r + after + 1 < d)
    mid = np.floor((r + after + d) / 2.0)
    _emit(rows, idx[second], "relapse", mid[second],
          site=np.full(second.sum(), "isolated_marrow"))  # fmt: skip


def _transplant(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Donor, HLA match and conditioning of ``n`` transplants after relapse."""
    donor = rng.choice(len(_DONOR_HLA), n, p=_DONOR_P)
    hla = [opts[rng.integers(len(opts))] for opts in (_DONOR_HLA[k][1] for k in donor)]
    return {
        "donor": np.asarray([_DONOR_HLA[k][0] for k in donor], dtype=object),
        "hla_match": np.asarray(hla, dtype=object),
        "conditioning": np.where(
            rng.random(n) < 0.8, "myeloablative_busulfan", "myeloablative_other"
        ).astype(object),
    }


def _failure_rows(
    rng: np.random.Generator, p: _Patients, opts: RelapseOptions, rows: _Rows
) -> None:
    idx = np.flatnonzero(np.isfinite(p.failure))
    f, d, last = p.failure[idx], p.death[idx], p.last[idx]
    _emit(rows, idx, "refractory", f, phase=np.full(idx.size, "induction"))
    start = f + _draw(rng, (1, 7), idx.size)
    end = start + _draw(rng, opts.line_days, idx.size)
    ok = (start <= last) & (start < d)
    end_date = np.where((end <= last) & (end < d), end, np.nan)[ok]
    agents = np.asarray(RELAPSE_CATEGORIES["agents"], dtype=object)[rng.integers(0, 3, idx.size)]
    _emit(rows, idx[ok], "salvage_therapy", start[ok], line=np.ones(ok.sum()), agents=agents[ok],
          end_date=end_date)  # fmt: skip


def restore_relapse_columns(events: pd.DataFrame) -> pd.DataFrame:
    """Give the columns of :data:`RELAPSE_COLUMNS` their types (missing ones are added empty):
    categoricals of :data:`RELAPSE_CATEGORIES`, nullable integers, ISO dates as text."""
    out = events.copy() if any(c not in events.columns for c in RELAPSE_COLUMNS) else events
    for name in RELAPSE_COLUMNS:
        values = out[name] if name in out.columns else pd.Series(None, index=out.index)
        if name in RELAPSE_CATEGORIES:
            out[name] = pd.Categorical(values, categories=list(RELAPSE_CATEGORIES[name]))
        elif name in _INT_COLUMNS:
            out[name] = pd.to_numeric(values).astype("Int64")
        else:
            dates = pd.to_datetime(values)
            out[name] = dates.dt.strftime("%Y-%m-%d").astype(object).where(dates.notna(), None)
    return out


def add_relapse_courses(
    events: pd.DataFrame,
    patients: pd.DataFrame,
    model: CalibratedModel,
    seed: int,
    options: RelapseOptions | None = None,
) -> pd.DataFrame:
    """The events frame with the course after first relapse and after induction failure.

    ``events`` is the long frame of a cohort (``patient_id`` categorical over the patients'
    ids, in their order); ``seed`` is the cohort's seed: the draws use the seventh stream
    spawned from it, independent of the six the cohort already uses. Returns a new frame,
    sorted by patient, day and the domain's order of kinds, with :data:`RELAPSE_COLUMNS`.
    """
    opts = options or RelapseOptions()
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(7)[6])
    n = len(patients)
    p = _per_patient(events, n)
    table = dict(model.death_after_relapse)
    q = patients["risk_group"].astype(str).map(table).to_numpy(dtype=float)
    keys = ("patient", "kind", "day", *RELAPSE_COLUMNS, *_HSCT_COLUMNS)
    rows: _Rows = {name: [] for name in keys}
    _relapse_rows(rng, p, q, model, opts, rows)
    _failure_rows(rng, p, opts, rows)
    base = restore_relapse_columns(events)
    is_cr1 = (base["kind"] == "hsct").to_numpy()
    base.loc[is_cr1, "disease_status"] = "cr1"
    base.loc[is_cr1, "number"] = 1
    return _merge(base, rows, patients)


def _stack(a: pd.Series, b: pd.Series) -> Any:
    """Two columns of one type end to end (column by column: no all-NA concat rules)."""
    if isinstance(a.dtype, pd.CategoricalDtype):
        codes = np.concatenate([a.cat.codes.to_numpy(), b.cat.codes.to_numpy()])
        return pd.Categorical.from_codes(codes, categories=a.cat.categories)
    if a.dtype == object or isinstance(a.dtype, pd.api.extensions.ExtensionDtype):
        values = np.concatenate([a.to_numpy(dtype=object), b.to_numpy(dtype=object)])
        return pd.Series(values, dtype=a.dtype).array
    return np.concatenate([a.to_numpy(), b.to_numpy().astype(a.dtype)])


def _merge(base: pd.DataFrame, rows: _Rows, patients: pd.DataFrame) -> pd.DataFrame:
    patient = np.concatenate(rows["patient"]).astype(np.int64)
    day = np.concatenate(rows["day"])
    ids = base["patient_id"].cat.categories
    diagnosis = patients["diagnosis_date"].to_numpy().astype("datetime64[D]")
    new = pd.DataFrame(
        {
            "patient_id": pd.Categorical.from_codes(patient, categories=ids),
            "kind": pd.Categorical(
                np.concatenate(rows["kind"]), categories=base["kind"].cat.categories
            ),
            "day": day,
            "date": (diagnosis[patient] + day.astype("timedelta64[D]")).astype("datetime64[ns]"),
            "synthetic": True,
        }
    )
    end = np.concatenate(rows["end_date"])
    has_end = np.asarray(pd.notna(end), dtype=bool)
    end_dates = np.full(end.size, None, dtype=object)
    if has_end.any():
        when = diagnosis[patient[has_end]] + end[has_end].astype(np.int64).astype("timedelta64[D]")
        end_dates[has_end] = np.datetime_as_string(when, unit="D").astype(object)
    for name in (*RELAPSE_COLUMNS, *_HSCT_COLUMNS):
        new[name] = end_dates if name == "end_date" else np.concatenate(rows[name])
    new = restore_relapse_columns(new)
    for name in base.columns:
        dtype = base[name].dtype
        if isinstance(dtype, pd.CategoricalDtype) and name not in RELAPSE_COLUMNS:
            values = new[name] if name in new.columns else [None] * len(new)
            new[name] = pd.Categorical(values, categories=dtype.categories)
        elif name not in new.columns:
            new[name] = pd.Series(np.nan, index=new.index, dtype=dtype)
    merged = pd.DataFrame({c: _stack(base[c], new[c]) for c in base.columns}, copy=False)
    order = np.lexsort(
        (merged["kind"].cat.codes, merged["day"].to_numpy(), merged["patient_id"].cat.codes)
    )
    return merged.iloc[order].reset_index(drop=True)[[*base.columns]]
