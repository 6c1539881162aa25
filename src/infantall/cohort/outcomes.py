"""Vectorised event histories of the synthetic infants (the outcome model).

Each patient gets one first-event fate with probabilities from the
:class:`~infantall.cohort.calibration.CalibratedModel` of its risk group, dated with the
model's timing distributions, plus what follows: death after relapse or induction failure,
MRD at the end of induction and of consolidation (higher in patients who will relapse),
HSCT in CR1 for the groups the protocol allocates to it, and the last contact. Events after
the patient's censoring day (data cut-off or loss to follow-up) are not recorded.

By default HSCT has no effect on outcome (hazard ratio 1). With ``OutcomeOptions.hsct_hr = X``
a transplanted patient's first-event hazards in CR (relapse, death in CR, second malignancy)
on every day after the transplant are X times those of event-free untransplanted patients of
the same risk group and HSCT-rule MRD status on that day (:mod:`infantall.cohort.hsct_effect`):
the true HSCT hazard ratio given risk group and MRD status — what the adjusted analysis of
:mod:`infantall.outcomes.hsct_adjusted` estimates — is exactly X. HSCT is given only to
patients still event-free at their planned transplant day (immortal time) and by risk group
and MRD (confounding by indication): the biases that analysis must remove (Interfant-06: "only
46% of [HR patients] received SCT, because many had early events", JCO 2019 abstract).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from infantall.cohort import hsct_effect
from infantall.cohort.calibration import CalibratedModel
from infantall.domain import EVENT_KINDS

__all__ = [
    "CATEGORIES",
    "EVENT_COLUMNS",
    "HSCT_MRD_RULE",
    "HSCT_UPTAKE",
    "OutcomeOptions",
    "draw_events",
]

#: Share of HSCT-eligible patients in CR1 who are transplanted when still event-free at the
#: planned day (donor found, family consent). Chosen so that about 46% of Interfant-06 HR
#: patients are transplanted (JCO 2019 abstract) and about three quarters of MLL-10 HR
#: patients (HSCT 47.8% of all 90, HR 56/90; domain-facts.md §4.3).
HSCT_UPTAKE: dict[str, float] = {"interfant-06": 0.70, "mll-10": 0.90}

#: Interfant-06 also allocated MR patients with MRD ≥ 10^-4 at the start of OCTADAD to SCT,
#: after a June 2009 amendment (ASH 2018 abstract; domain-facts.md §1.2, wording partly
#: truncated): (group, MRD threshold, from diagnosis date).
HSCT_MRD_RULE: dict[str, tuple[str, float, dt.date]] = {
    "interfant-06": ("MR", 1e-4, dt.date(2009, 6, 1)),
}

#: Columns of the long events frame (attributes are empty where they do not apply).
EVENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "kind",
    "day",
    "date",
    "status",
    "marrow",
    "value",
    "time_point",
    "method",
    "detection_limit",
    "site",
    "cause",
    "donor",
    "hla_match",
    "conditioning",
    "diagnosis",
    "synthetic",
)

_RELAPSE_SITES = ("isolated_marrow", "combined", "isolated_cns", "other_extramedullary")
_DONORS = ("unrelated", "cord_blood", "matched_sibling", "haploidentical")
_DONOR_P = (0.45, 0.25, 0.15, 0.15)
_Seen = Callable[[np.ndarray], np.ndarray]
_CONSOLIDATION = "end_of_early_consolidation"
_SMN = ("secondary AML", "myelodysplastic syndrome", "other solid tumour")

#: Categories of the categorical event columns. ``kind`` is the domain's registry of event
#: types (in the order events of one day are sorted); the other columns hold the subset of each
#: domain choice list that the outcome model generates (a test checks they are domain values).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "kind": EVENT_KINDS,
    "status": ("cr", "no_cr"),
    "marrow": ("M1", "M2", "M3"),
    "time_point": ("end_of_induction", "start_of_octadad", "end_of_early_consolidation"),
    "method": ("pcr_ig_tcr", "pcr_kmt2a_fusion"),
    "site": _RELAPSE_SITES,
    "cause": ("leukemia", "infection_toxicity", "hsct_related", "other"),
    "donor": _DONORS,
    "hla_match": ("10/10", "9/10", "6/6", "5/6", "4/6", "5/10"),
    "conditioning": ("myeloablative_busulfan", "myeloablative_other"),
    "diagnosis": _SMN,
}  # fmt: skip
_FLOAT_COLUMNS = ("value", "detection_limit")


@dataclass(frozen=True, slots=True)
class OutcomeOptions:
    """Assumptions of the outcome model beyond the calibrated probabilities.

    Attributes
    ----------
    relapse_site_p, relapse_site_p_cns3
        P(isolated marrow, combined, isolated CNS, other) without and with CNS3 at
        diagnosis. "Mostly isolated marrow" (Interfant-99, domain-facts.md §4.1); the
        shares are an assumption.
    mrd_measured
        Share of CR patients with MRD results: 249/439 = 57% of Interfant-06 KMT2A-r
        (domain-facts.md §4.2, Stutterheim JCO 2021).
    mrd_log10_mean
        Mean log10 MRD at the end of induction for future relapses / others; KMT2A-r adds
        ``mrd_kmt2a_shift``; the consolidation value is ``mrd_consolidation_drop`` logs
        lower. Assumption giving AALL0631-like separation at 1e-4 (domain-facts.md §4.4).
    mrd_sd
        Standard deviation of log10 MRD.
    mrd_detection_limit
        Values below it are reported as 0 (not detected) with this limit.
    hsct_hr
        True hazard ratio of HSCT in CR1 given risk group and MRD status (1 = no effect).
    """

    relapse_site_p: tuple[float, float, float, float] = (0.75, 0.12, 0.10, 0.03)
    relapse_site_p_cns3: tuple[float, float, float, float] = (0.55, 0.22, 0.20, 0.03)
    mrd_measured: float = 0.57
    mrd_log10_mean: tuple[float, float] = (-2.8, -4.2)
    mrd_kmt2a_shift: float = 0.4
    mrd_consolidation_drop: float = 1.0
    mrd_sd: float = 0.9
    mrd_detection_limit: float = 1e-5
    hsct_hr: float = 1.0


@dataclass(frozen=True, slots=True)
class _Fates:
    """Per-patient days (since diagnosis; ``inf`` when it does not happen)."""

    eoi: np.ndarray
    cr: np.ndarray
    failure: np.ndarray
    relapse: np.ndarray
    death: np.ndarray
    second_malignancy: np.ndarray
    death_cause: np.ndarray
    first_event: np.ndarray


def _lognormal_days(
    rng: np.random.Generator, median_sigma: tuple[float, float], n: int
) -> np.ndarray:
    median, sigma = median_sigma
    return np.maximum(1.0, np.round(median * np.exp(sigma * rng.standard_normal(n))))


def _group_param(
    groups: np.ndarray, model: CalibratedModel, values: dict[str, float]
) -> np.ndarray:
    """Per-patient value of a group parameter; ``groups`` are codes into ``model.groups``."""
    table = np.asarray([values[g] for g in model.groups], dtype=float)
    return np.asarray(table[groups])


def _draw_fates(rng: np.random.Generator, groups: np.ndarray, model: CalibratedModel) -> _Fates:
    n = groups.size
    t = model.timing
    rate = {
        name: _group_param(groups, model, {g: getattr(model.rates[g], name) for g in model.groups})
        for name in ("induction_death", "induction_failure", "death_in_cr", "second_malignancy")
    }
    relapse_p = _group_param(groups, model, dict(model.relapse))
    after_relapse_p = _group_param(groups, model, dict(model.death_after_relapse))
    eoi = rng.integers(t.end_of_induction[0], t.end_of_induction[1] + 1, n).astype(float)
    u = rng.random(n)
    early_death = u < rate["induction_death"]
    failure = ~early_death & (u < rate["induction_death"] + rate["induction_failure"])
    cr = ~early_death & ~failure
    v = rng.random(n)
    is_relapse = cr & (v < relapse_p)
    is_dcr = cr & ~is_relapse & (v < relapse_p + rate["death_in_cr"])
    smn_limit = relapse_p + rate["death_in_cr"] + rate["second_malignancy"]
    is_smn = cr & ~is_relapse & ~is_dcr & (v < smn_limit)
    inf = np.full(n, np.inf)
    relapse = np.where(is_relapse, eoi + _lognormal_days(rng, t.relapse, n), inf)
    smn_day = eoi + np.round(rng.uniform(*t.second_malignancy, n))
    smn = np.where(is_smn, smn_day, inf)
    death = np.full(n, np.inf)
    cause = np.full(n, -1, dtype=np.int8)
    death[early_death] = np.floor(rng.uniform(3.0, eoi))[early_death]
    cause[early_death] = _code("cause", "infection_toxicity")
    dies_f = failure & (rng.random(n) < t.failure_death_probability)
    after_f = eoi + _lognormal_days(rng, t.death_after_failure, n)
    death[dies_f] = after_f[dies_f]
    cause[dies_f] = _code("cause", "leukemia")
    in_cr = eoi + _lognormal_days(rng, t.death_in_cr, n)
    death[is_dcr] = in_cr[is_dcr]
    cause[is_dcr] = _code("cause", "infection_toxicity")
    dies_r = is_relapse & (rng.random(n) < after_relapse_p)
    after_r = relapse + _lognormal_days(rng, t.death_after_relapse, n)
    death[dies_r] = after_r[dies_r]
    cause[dies_r] = _code("cause", "leukemia")
    dies_s = is_smn & (rng.random(n) < t.second_malignancy_death_probability)
    after_s = smn + _lognormal_days(rng, t.death_after_second_malignancy, n)
    death[dies_s] = after_s[dies_s]
    cause[dies_s] = _code("cause", "other")
    first = np.minimum.reduce([np.where(failure, eoi, inf), relapse, smn, death])
    return _Fates(eoi, cr, failure, relapse, death, smn, cause, first)


def _code(column: str, value: str) -> int:
    return CATEGORIES[column].index(value)


_Block = dict[str, np.ndarray]


def _block(idx: np.ndarray, kind: str, day: np.ndarray, **attrs: np.ndarray | float) -> _Block:
    """One kind of event: row indices, days and attributes (codes or floats)."""
    out: _Block = {
        "patient": idx.astype(np.int64),
        "kind": np.full(idx.size, _code("kind", kind), dtype=np.int8),
        "day": np.asarray(day, dtype=np.int64),
    }
    for name, value in attrs.items():
        dtype = np.int8 if name in CATEGORIES else np.float64
        out[name] = np.broadcast_to(np.asarray(value, dtype=dtype), idx.shape)
    return out


def _response_block(rng: np.random.Generator, f: _Fates, seen: _Seen) -> _Block:
    idx = np.flatnonzero((f.cr | f.failure) & seen(f.eoi))
    marrow = np.where(f.cr[idx], 0, np.where(rng.random(idx.size) < 0.6, 2, 1))
    return _block(idx, "response", f.eoi[idx], status=np.where(f.cr[idx], 0, 1), marrow=marrow)


@dataclass(frozen=True, slots=True)
class _MRD:
    """Latent MRD of every patient: measured or not, log10 values and the second day."""

    measured: np.ndarray
    first_log: np.ndarray
    second_log: np.ndarray
    second_day: np.ndarray
    method: np.ndarray


def _draw_mrd(
    rng: np.random.Generator,
    f: _Fates,
    rearranged: np.ndarray,
    model: CalibratedModel,
    opts: OutcomeOptions,
) -> _MRD:
    """MRD at the end of induction and after consolidation, higher in future relapses."""
    n = f.eoi.size
    measured = f.cr & (rng.random(n) < opts.mrd_measured)
    mean = np.where(np.isfinite(f.relapse), opts.mrd_log10_mean[0], opts.mrd_log10_mean[1])
    latent = mean + np.where(rearranged, opts.mrd_kmt2a_shift, 0.0)
    latent = latent + opts.mrd_sd * rng.standard_normal(n)
    lo, hi = model.timing.consolidation_mrd
    second_day = f.eoi + rng.integers(lo, hi + 1, n)
    method = np.where(rearranged, _code("method", "pcr_kmt2a_fusion"), 0)
    second_log = latent - opts.mrd_consolidation_drop + 0.3 * rng.standard_normal(n)
    return _MRD(measured, latent, second_log, second_day, method)


def _mrd_value(log_value: np.ndarray, opts: OutcomeOptions) -> np.ndarray:
    value = np.minimum(10.0**log_value, 0.04)
    return np.where(value < opts.mrd_detection_limit, 0.0, value)


def _mrd_blocks(
    f: _Fates, seen: _Seen, mrd: _MRD, model: CalibratedModel, opts: OutcomeOptions
) -> list[_Block]:
    """MRD events: the second result only for patients event-free on its day."""
    second_point = "start_of_octadad" if model.protocol == "interfant-06" else _CONSOLIDATION
    blocks = []
    for day, log_value, point, ok in (
        (f.eoi, mrd.first_log, "end_of_induction", mrd.measured & seen(f.eoi)),
        (mrd.second_day, mrd.second_log, second_point,
         mrd.measured & (mrd.second_day < f.first_event) & seen(mrd.second_day)),
    ):  # fmt: skip
        idx = np.flatnonzero(ok)
        blocks.append(
            _block(
                idx, "mrd", day[idx], value=_mrd_value(log_value[idx], opts),
                time_point=_code("time_point", point), method=mrd.method[idx],
                detection_limit=opts.mrd_detection_limit,
            )
        )  # fmt: skip
    return blocks


def _hsct_block(
    rng: np.random.Generator,
    f: _Fates,
    seen: _Seen,
    eligible: tuple[np.ndarray, np.ndarray, np.ndarray],
    uptake: float,
    model: CalibratedModel,
) -> tuple[_Block, np.ndarray]:
    """HSCT in CR1: ``eligible`` = (by group, by MRD, day of that MRD result)."""
    by_group, by_mrd, mrd_day = eligible
    n = f.eoi.size
    planned = f.eoi + _lognormal_days(rng, model.timing.hsct_delay, n)
    planned = np.where(by_mrd & ~by_group, mrd_day + rng.integers(14, 46, n), planned)
    candidate = (by_group | by_mrd) & f.cr
    done = candidate & (rng.random(n) < uptake) & (planned < f.first_event) & seen(planned)
    idx = np.flatnonzero(done)
    donor = rng.choice(len(_DONORS), idx.size, p=_DONOR_P)
    u = rng.random(idx.size)
    hla = np.select(
        [donor == 2, donor == 0, donor == 1],
        [
            np.zeros(idx.size),
            np.where(u < 0.6, 0, 1),
            np.where(u < 0.3, 2, np.where(u < 0.8, 3, 4)),
        ],
        default=5,
    )
    block = _block(
        idx, "hsct", planned[idx], donor=donor, hla_match=hla, conditioning=np.where(u < 0.8, 0, 1)
    )
    return block, np.where(done, planned, np.inf)


def _combine(blocks: list[_Block]) -> dict[str, np.ndarray]:
    """Concatenate blocks into full columns (missing codes −1, missing floats NaN), sorted
    by patient, day and kind order."""
    columns: dict[str, np.ndarray] = {}
    names = ["patient", "kind", "day", *CATEGORIES.keys() - {"kind"}, *_FLOAT_COLUMNS]
    for name in names:
        parts = []
        for b in blocks:
            size = b["patient"].size
            if name in b:
                parts.append(b[name])
            elif name in _FLOAT_COLUMNS:
                parts.append(np.full(size, np.nan))
            else:
                parts.append(np.full(size, -1, dtype=np.int8))
        columns[name] = np.concatenate(parts)
    if columns["day"].size and columns["day"].max() >= 1 << 16:
        order = np.lexsort((columns["kind"], columns["day"], columns["patient"]))
    else:
        # One int64 key (patient, day < 2^16, kind < 2^4) sorts faster than a 3-key lexsort.
        kind = columns["kind"].astype(np.int64)
        order = np.argsort((columns["patient"] << 20) | (columns["day"] << 4) | kind)
    return {name: values[order] for name, values in columns.items()}


def draw_events(
    rng: np.random.Generator,
    groups: np.ndarray,
    patients: pd.DataFrame,
    censor_day: np.ndarray,
    model: CalibratedModel,
    options: OutcomeOptions | None = None,
    diagnosis: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Events of every patient as columns (``patient`` = row index in ``patients``).

    ``groups`` are the patients' risk groups as integer codes into ``model.groups``;
    ``diagnosis`` (datetime64 days) dates the patients for :data:`HSCT_MRD_RULE`.

    ``censor_day`` is each patient's last possible day of observation (days since
    diagnosis). Returns ``patient``, ``day`` and, as integer codes into :data:`CATEGORIES`
    (−1 where the attribute does not apply), ``kind`` and the categorical attributes, and
    the float attributes ``value`` and ``detection_limit``; sorted by patient, day and kind.
    """
    opts = options or OutcomeOptions()
    f = _draw_fates(rng, groups, model)
    rearranged = (patients["kmt2a"] == "rearranged").to_numpy()

    def seen(day: np.ndarray) -> np.ndarray:
        return np.asarray(day <= censor_day)

    mrd = _draw_mrd(rng, f, rearranged, model, opts)
    recorded = mrd.measured & (mrd.second_day < f.first_event) & seen(mrd.second_day)
    by_group = np.asarray([model.rates[g].hsct_eligible for g in model.groups])[groups]
    by_mrd = np.zeros(groups.size, dtype=bool)
    rule = HSCT_MRD_RULE.get(model.protocol)
    if rule is not None and rule[0] in model.groups:
        group, threshold, since = rule
        allowed = np.ones(groups.size, dtype=bool)
        if diagnosis is not None:
            allowed = diagnosis >= np.datetime64(since, "D")
        positive = recorded & (_mrd_value(mrd.second_log, opts) >= threshold)
        by_mrd = (groups == model.groups.index(group)) & positive & allowed
    uptake = HSCT_UPTAKE.get(model.protocol, 0.0)
    hsct, hsct_day = _hsct_block(rng, f, seen, (by_group, by_mrd, mrd.second_day), uptake, model)
    if opts.hsct_hr != 1.0:
        f = _after_hsct(rng, f, (groups, rearranged), model, mrd, hsct_day, opts)
    mrd_blocks = _mrd_blocks(f, seen, mrd, model, opts)
    cns3 = (patients["cns"] == "CNS3").to_numpy()
    rel_idx = np.flatnonzero(np.isfinite(f.relapse) & seen(f.relapse))
    site_p = np.where(cns3[rel_idx, None], opts.relapse_site_p_cns3, opts.relapse_site_p).cumsum(
        axis=1
    )
    site_k = np.minimum((rng.random(rel_idx.size)[:, None] > site_p).sum(axis=1), 3)
    smn_idx = np.flatnonzero(np.isfinite(f.second_malignancy) & seen(f.second_malignancy))
    dead = np.isfinite(f.death) & seen(f.death)
    death_idx = np.flatnonzero(dead)
    cause = f.death_cause[death_idx]
    after_hsct = (cause == _code("cause", "infection_toxicity")) & (
        hsct_day[death_idx] < f.death[death_idx]
    )
    cause = np.where(after_hsct, _code("cause", "hsct_related"), cause)
    alive_idx = np.flatnonzero(~dead)
    blocks = [
        _response_block(rng, f, seen),
        *mrd_blocks,
        hsct,
        _block(rel_idx, "relapse", f.relapse[rel_idx], site=site_k),
        _block(
            smn_idx, "second_malignancy", f.second_malignancy[smn_idx],
            diagnosis=rng.integers(0, len(_SMN), smn_idx.size),
        ),
        _block(death_idx, "death", f.death[death_idx], cause=cause),
        _block(alive_idx, "last_contact", censor_day[alive_idx]),
    ]  # fmt: skip
    return _combine(blocks)


def _after_hsct(
    rng: np.random.Generator,
    f: _Fates,
    groups_rearranged: tuple[np.ndarray, np.ndarray],
    model: CalibratedModel,
    mrd: _MRD,
    hsct_day: np.ndarray,
    opts: OutcomeOptions,
) -> _Fates:
    """Redraw the first event of transplanted patients with X × their stratum's hazards.

    The stratum is the risk group and the :data:`HSCT_MRD_RULE` MRD status (positive after
    a result at or above the rule's threshold, in every group); the hazards are those of
    event-free untransplanted patients of the stratum on each day
    (:mod:`infantall.cohort.hsct_effect`), so the true HSCT hazard ratio given the stratum is
    exactly ``opts.hsct_hr``. What follows the new event is redrawn.
    """
    groups, rearranged = groups_rearranged
    rule = HSCT_MRD_RULE.get(model.protocol)
    mrd_class = None
    positive_after = np.full(groups.size, np.inf)
    if rule is not None:
        counts = np.bincount(groups, minlength=len(model.groups)).astype(float)
        share = np.bincount(groups, weights=rearranged, minlength=len(model.groups))
        p_positive = hsct_effect.mrd_class(
            opts.mrd_log10_mean, opts.mrd_kmt2a_shift, opts.mrd_consolidation_drop, opts.mrd_sd,
            rule[1], share / np.maximum(counts, 1.0),
        )  # fmt: skip
        timing = model.timing.consolidation_mrd
        mrd_class = hsct_effect.MRDClass(p_positive, opts.mrd_measured, timing)
        positive = mrd.measured & (_mrd_value(mrd.second_log, opts) >= rule[1])
        positive_after = np.where(positive, mrd.second_day - f.eoi, np.inf)
    idx = np.flatnonzero(np.isfinite(hsct_day))
    hazard = hsct_effect.stratum_hazards(model, mrd_class)
    day, kind = hsct_effect.post_hsct_events(
        rng, hazard, groups[idx], hsct_day[idx] - f.eoi[idx], positive_after[idx], opts.hsct_hr
    )
    return _redraw(rng, f, idx, f.eoi[idx] + day, kind, groups, model)


def _redraw(
    rng: np.random.Generator,
    f: _Fates,
    idx: np.ndarray,
    when: np.ndarray,
    kind: np.ndarray,
    groups: np.ndarray,
    model: CalibratedModel,
) -> _Fates:
    """Fates of ``idx`` replaced by a first event of ``kind`` (0 relapse, 1 death in CR,
    2 second malignancy, -1 none) on day ``when``, with what follows drawn again."""
    t = model.timing
    inf = np.full(idx.size, np.inf)
    relapse = np.where(kind == 0, when, inf)
    smn = np.where(kind == 2, when, inf)
    death = np.where(kind == 1, when, inf)
    cause = np.where(kind == 1, _code("cause", "infection_toxicity"), -1)
    after_p = _group_param(groups[idx], model, dict(model.death_after_relapse))
    dies_r = (kind == 0) & (rng.random(idx.size) < after_p)
    after_r = relapse + _lognormal_days(rng, t.death_after_relapse, idx.size)
    dies_s = (kind == 2) & (rng.random(idx.size) < t.second_malignancy_death_probability)
    after_s = smn + _lognormal_days(rng, t.death_after_second_malignancy, idx.size)
    death = np.where(dies_r, after_r, np.where(dies_s, after_s, death))
    cause = np.where(dies_r, _code("cause", "leukemia"), cause)
    cause = np.where(dies_s, _code("cause", "other"), cause)
    out = {name: getattr(f, name).copy() for name in _Fates.__slots__}
    for name, value in (
        ("relapse", relapse), ("second_malignancy", smn), ("death", death),
        ("death_cause", cause), ("first_event", np.where(kind >= 0, when, inf)),
    ):  # fmt: skip
        out[name][idx] = value
    return _Fates(**out)
