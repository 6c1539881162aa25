"""Simulated patients of a block of time-to-event trials (see :mod:`.engine`): entry times,
event times and MRD status under every arm, strata and the uniforms that allocate arms."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.tte.spec import arm_hazards

__all__ = ["generate"]

FloatArray = NDArray[np.float64]


def _inverse_hazard(cuts: FloatArray, hazards: FloatArray, unit: FloatArray) -> FloatArray:
    cum = np.concatenate([[0.0], np.cumsum(hazards[:-1] * np.diff(cuts))])
    piece = np.searchsorted(cum, unit, side="right") - 1
    return np.asarray(cuts[piece] + (unit - cum[piece]) / hazards[piece], dtype=float)


def generate(
    spec: TrialSpec, cuts: FloatArray, size: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_], NDArray[np.int64], FloatArray]:
    """Entry times, event times and MRD negativity under every arm, strata, arm uniforms."""
    tte = spec.tte
    if tte is None:  # pragma: no cover - dispatch guarantees it
        raise ValueError("tte: missing")
    k_n = spec.n_arms
    n = int(spec.max_patients or 0)
    entry = np.cumsum(rng.exponential(1.0 / float(spec.accrual_per_year or 1.0), (size, n)), 1)
    unit = rng.standard_exponential((size, n))
    u_mrd, u_cure, u_str, u_arm = (rng.random((size, n)) for _ in range(4))
    stratum = np.zeros((size, n), dtype=np.int64)
    mult = np.ones((size, n))
    if tte.strata is not None:
        edges = np.cumsum(tte.strata.proportions)[:-1]
        stratum = (u_str[..., None] >= edges).sum(axis=2).astype(np.int64)
        mult = np.asarray(tte.strata.hazard_multipliers)[stratum]
    times = np.empty((size, n, k_n))
    neg = np.empty((size, n, k_n), dtype=bool)
    scaled = unit / mult
    seen: dict[tuple[float, ...], FloatArray] = {}  # arms often share hazards: invert once

    def inverse(hazards: Sequence[float]) -> FloatArray:
        key = tuple(float(h) for h in hazards)
        if key not in seen:
            seen[key] = _inverse_hazard(cuts, np.asarray(key), scaled)
        return seen[key]

    for k, arm in enumerate(spec.arms):
        h_neg, h_pos, p_neg = arm_hazards(tte, arm)
        t_neg, t_pos = inverse(h_neg), inverse(h_pos)
        neg[..., k] = u_mrd < p_neg
        cure = 0.0 if arm.tte is None else arm.tte.cure_fraction
        times[..., k] = np.where(u_cure < cure, np.inf, np.where(neg[..., k], t_neg, t_pos))
    return entry, times, neg, stratum, u_arm
