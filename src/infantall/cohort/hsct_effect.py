"""The true effect of HSCT in CR1 in the synthetic cohort (``hsct_hr = X``).

What X means. The adjusted analysis stratifies by risk group and by the HSCT-rule MRD status
at each day (positive from the day after a positive result is recorded, otherwise not —
negative, not measured or not yet measured). For a patient transplanted on day h after CR,
every first-event hazard in CR (relapse, death in CR, second malignancy) on each day d > h is
X times the hazard, on day d, of an event-free untransplanted patient of the same risk group
and MRD status. The true hazard ratio of HSCT conditional on (risk group, MRD status, day of
CR) is therefore exactly X, the quantity the adjusted Cox model estimates.

Why it is computable. Untransplanted patients keep the fates of
:mod:`infantall.cohort.outcomes`: a fate type (relapse, death in CR, second malignancy, none)
with probabilities and integer-day distributions (:func:`cr_event_cdfs`), and an MRD result
after consolidation that depends only on whether the patient relapses and on the KMT2A status.
Given the group and the MRD status on day d, the fate types of the event-free patients are a
known mixture, so their hazard on day d is a known number (:func:`stratum_hazards`).
Transplanted patients get a new first event drawn from X times that hazard, switching to the
MRD-positive stratum's hazard after a positive result (:func:`post_hsct_events`); which event
it is follows the types' shares of the stratum's hazard on that day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from infantall.cohort.calibration import CalibratedModel, cr_event_cdfs

__all__ = ["HORIZON_DAYS", "MRDClass", "post_hsct_events", "stratum_hazards"]

#: Days after CR over which hazards are tabulated (30 years); later events do not happen.
HORIZON_DAYS = 10_958


@dataclass(frozen=True, slots=True)
class MRDClass:
    """How the HSCT-rule MRD status depends on the fate (``None`` where the protocol has none).

    Attributes
    ----------
    p_positive
        P(result >= threshold | group, fate type), shape (groups, 4); types relapse, death in
        CR, second malignancy, none.
    measured
        Share of CR patients with MRD results.
    days
        First and last day after CR of the measurement (uniform on the integer days).
    """

    p_positive: np.ndarray
    measured: float
    days: tuple[int, int]


def mrd_class(
    log10_mean: tuple[float, float],
    kmt2a_shift: float,
    drop: float,
    sd: float,
    threshold: float,
    share_rearranged: np.ndarray,
) -> np.ndarray:
    """P(log10 MRD after consolidation >= log10 ``threshold`` | group, fate), (groups, 4).

    The value is ``mean + shift·rearranged + sd·Z1 − drop + 0.3·Z2`` with the relapse mean for
    future relapses and the other mean for the three other fates (as drawn in
    :mod:`infantall.cohort.outcomes`); ``share_rearranged`` per group mixes the KMT2A shift.
    """
    scale = math.sqrt(sd**2 + 0.3**2)

    def above(mean: float) -> float:
        z = (mean - drop - math.log10(threshold)) / scale
        return 0.5 * math.erfc(-z / math.sqrt(2.0))

    share = np.asarray(share_rearranged, dtype=float)
    out = np.empty((share.size, 4))
    for k, mean in enumerate((log10_mean[0], log10_mean[1], log10_mean[1], log10_mean[1])):
        out[:, k] = share * above(mean + kmt2a_shift) + (1.0 - share) * above(mean)
    return out


def stratum_hazards(model: CalibratedModel, mrd: MRDClass | None) -> np.ndarray:
    """Per group, MRD status (0 not positive, 1 positive), type and day after CR: the hazard
    of an event-free untransplanted patient, shape (groups, 2, 3, HORIZON_DAYS + 1).

    ``hazard[g, p, k, d]`` = P(first event of type k on day d | group g, MRD status p on day d,
    no event before d). Without an MRD class both statuses have the group's hazard.
    """
    days = np.arange(HORIZON_DAYS + 1)
    cdf = cr_event_cdfs(model, days)
    probs = np.asarray(
        [
            [model.relapse[g], model.rates[g].death_in_cr, model.rates[g].second_malignancy]
            for g in model.groups
        ]
    )
    alive = np.concatenate(
        [probs[:, :, None] - cdf, np.broadcast_to((1.0 - probs.sum(axis=1))[:, None, None],
                                                    (probs.shape[0], 1, days.size))],
        axis=1,
    )  # fmt: skip
    pmf = np.zeros_like(cdf)
    pmf[:, :, 1:] = np.diff(cdf, axis=2)
    n_groups = probs.shape[0]
    weights = np.ones((n_groups, 2, 4, days.size))
    if mrd is not None:
        lo, hi = mrd.days
        # P(the result is recorded before day d): measured on a day <= d - 1.
        by_day = np.clip((days - lo) / (hi - lo + 1), 0.0, 1.0)
        q = mrd.p_positive[:, :, None]
        weights[:, 0] = 1.0 - mrd.measured * by_day[None, None, :] * q
        weights[:, 1] = np.broadcast_to(q, (n_groups, 4, days.size))
    before = np.concatenate([alive[:, :, :1], alive[:, :, :-1]], axis=2)
    at_risk = (weights * before[:, None]).sum(axis=2)
    hazard = weights[:, :, :3] * pmf[:, None] / np.maximum(at_risk, 1e-300)[:, :, None, :]
    out: np.ndarray = np.minimum(hazard, 1.0)
    return out


def post_hsct_events(
    rng: np.random.Generator,
    hazard: np.ndarray,
    groups: np.ndarray,
    hsct: np.ndarray,
    positive_after: np.ndarray,
    hr: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Day after CR and type (0 relapse, 1 death in CR, 2 second malignancy, −1 none within
    the horizon) of the first event after the transplant day ``hsct`` (days after CR).

    ``positive_after`` is the day after CR of a positive MRD result (``inf`` if none): the
    MRD-positive hazard applies from the next day. Each day's cumulative hazard
    −log(1 − hazard) of the stratum is multiplied by ``hr`` (grouped proportional hazards).
    """
    total = np.minimum(hazard.sum(axis=2), 1.0 - 1e-15)
    cum = np.concatenate(
        [np.zeros((*total.shape[:2], 1)), np.cumsum(-np.log1p(-total[:, :, 1:]), axis=2)], axis=2
    )
    h = np.asarray(hsct, dtype=np.int64)
    switch = np.where(np.isfinite(positive_after), positive_after, HORIZON_DAYS)
    sw = np.clip(np.maximum(switch, h), 0, HORIZON_DAYS).astype(np.int64)
    need = rng.exponential(1.0, h.size) / hr
    before = cum[groups, 0, sw] - cum[groups, 0, h]
    day = np.empty(h.size, dtype=np.int64)
    for code in np.unique(groups):
        m = groups == code
        first = need[m] <= before[m]
        d0 = np.searchsorted(cum[code, 0], cum[code, 0, h[m]] + need[m], side="left")
        d1 = np.searchsorted(cum[code, 1], cum[code, 1, sw[m]] + need[m] - before[m], side="left")
        day[m] = np.where(first, d0, d1)
    day = np.maximum(day, h + 1)
    happens = day <= HORIZON_DAYS
    day = np.minimum(day, HORIZON_DAYS)
    status = (day > sw).astype(np.int64)
    share = hazard[groups, status, :, day]
    cum_share = np.cumsum(share, axis=1) / np.maximum(share.sum(axis=1, keepdims=True), 1e-300)
    kind = np.minimum((rng.random(h.size)[:, None] > cum_share).sum(axis=1), 2)
    return day, np.where(happens, kind, -1)
