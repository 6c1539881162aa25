"""The Aalen–Johansen estimator and its infinitesimal-jackknife influence (NumPy core).

At each distinct transition time u the hazard matrix ``A(u)`` has ``A[j, k] = d_jk / n_j``
(transitions j -> k over the number at risk in j, tied transitions simultaneous) and
``A[j, j] = -sum_k A[j, k]``; occupation ``p(u) = p(u-) (I + A(u))`` — R
``survival::survfit`` for multi-state data (survfitaj.c).

The influence of patient i on ``p(t)`` is
``U_i(t) = sum_{u <= t} p(u-) dB_i(u) Pi(u, t)``, ``dB_i(u)[j] = (dN_ij.(u) - Y_ij(u) A(u)[j]) /
n_j(u)``, with ``Pi(u, t)`` the product of ``I + A`` over (u, t]. Instead of R's forward
recursion over all patients at every time (O(n T)), the products are accumulated backwards
from each target (``Q``); the at-risk term is then a cumulative sum read at each row's
``tstart`` and ``tstop`` (O(rows + T) per target). The same sum with
``W(u) = integral_u^tau Pi(u, t) dt`` gives the influence on the restricted mean time in state.
The standard error is ``sqrt(sum_i U_i^2)`` with rows summed within id (R's ``id``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from infantall.outcomes.multistate.data import MultiStateData

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class AJFit:
    """Transition times, hazards and occupation of one Aalen–Johansen fit."""

    data: MultiStateData
    start: float
    p0: FloatArray
    time: FloatArray  # distinct transition times > start
    n_risk: FloatArray  # (T, S)
    n_event: FloatArray  # (T, S, S)
    hazard: FloatArray  # (T, S, S): I + A(u) - I
    pstate: FloatArray  # (T, S): p(u) just after u
    row_tstart: FloatArray  # effective tstart = max(tstart, start)
    id_code: IntArray
    n_id: int


def fit(data: MultiStateData, start: float, p0: FloatArray) -> AJFit:
    """Aalen–Johansen from ``start`` with initial occupation ``p0``, on rows ending after it."""
    keep = data.tstop > start
    d = data.subset(keep) if not keep.all() else data
    s = len(data.states)
    t0 = np.maximum(d.tstart, start)
    ev = d.to_state >= 0
    time = np.unique(d.tstop[ev])
    nt = time.shape[0]
    n_risk = np.zeros((nt, s))
    for j in range(s):
        m = d.from_state == j
        if m.any():
            a = np.sort(t0[m])
            b = np.sort(d.tstop[m])
            n_risk[:, j] = np.searchsorted(a, time, "left") - np.searchsorted(b, time, "left")
    tid = np.searchsorted(time, d.tstop[ev])
    n_event = np.zeros((nt, s, s))
    np.add.at(n_event, (tid, d.from_state[ev], d.to_state[ev]), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n_risk[:, :, None] > 0, n_event / n_risk[:, :, None], 0.0)
    idx = np.arange(s)
    hazard[:, idx, idx] = -hazard.sum(axis=2)
    pstate = np.empty((nt, s))
    p = p0.astype(np.float64).copy()
    for m in range(nt):
        p = p + p @ hazard[m]
        pstate[m] = p
    codes, uniq = pd.factorize(d.id)
    return AJFit(
        d,
        start,
        p0,
        time,
        n_risk,
        n_event,
        hazard,
        pstate,
        t0,
        codes.astype(np.int64),
        int(uniq.shape[0]),
    )


def p_before(f: AJFit) -> FloatArray:
    """Occupation just before each transition time (T, S)."""
    return np.vstack([f.p0[None, :], f.pstate[:-1]]) if f.time.size else f.pstate


def _influence(f: AJFit, mats: FloatArray, m_end: int) -> FloatArray:
    """Influence (n_id, S) of ``sum_{m < m_end} p(u_m-) dB_i(u_m) M_m``; ``mats`` (m_end, S, S)."""
    s = f.pstate.shape[1]
    d = f.data
    if m_end == 0:
        return np.zeros((f.n_id, s))
    pb = p_before(f)[:m_end]
    nr = f.n_risk[:m_end]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(nr > 0, pb / nr, 0.0)  # (m, S): p_j(u-) / n_j(u)
    # at-risk term: c_j(u_m) = scale_j * A(u_m)[j, :] @ M_m ; cumulative over m
    c = scale[:, :, None] * np.einsum("mjk,mkl->mjl", f.hazard[:m_end], mats)
    cum = np.concatenate([np.zeros((1, s, s)), np.cumsum(c, axis=0)])  # (m_end + 1, S, S)
    t_end = f.time[m_end - 1]
    lo = np.searchsorted(f.time[:m_end], f.row_tstart, "right")
    hi = np.searchsorted(f.time[:m_end], np.minimum(d.tstop, t_end), "right")
    hi = np.maximum(hi, lo)
    j = d.from_state
    row = -(cum[hi, j] - cum[lo, j])  # (rows, S)
    ev = np.flatnonzero((d.to_state >= 0) & (d.tstop <= t_end))
    if ev.size:
        m = np.searchsorted(f.time, d.tstop[ev])
        jj, kk = d.from_state[ev], d.to_state[ev]
        row[ev] += scale[m, jj][:, None] * (mats[m, kk] - mats[m, jj])
    out = np.zeros((f.n_id, s))
    for col in range(s):
        out[:, col] = np.bincount(f.id_code, weights=row[:, col], minlength=f.n_id)
    return out


def products_to(f: AJFit, m_end: int) -> FloatArray:
    """``Pi(u_m, u_{m_end - 1}]`` for m < m_end (backwards products of I + A)."""
    s = f.pstate.shape[1]
    mats = np.empty((m_end, s, s))
    q = np.eye(s)
    for m in range(m_end - 1, -1, -1):
        mats[m] = q
        q = q + f.hazard[m] @ q
    return mats


def integrals_to(f: AJFit, tau: float, m_end: int) -> FloatArray:
    """``W(u_m) = integral_{u_m}^{tau} Pi(u_m, t) dt`` for m < m_end."""
    s = f.pstate.shape[1]
    mats = np.empty((m_end, s, s))
    eye = np.eye(s)
    w = np.zeros((s, s))
    nxt = tau
    for m in range(m_end - 1, -1, -1):
        w = (nxt - f.time[m]) * eye + (w if m == m_end - 1 else w + f.hazard[m + 1] @ w)
        mats[m] = w
        nxt = f.time[m]
    return mats


def std_err_at(f: AJFit, t: float, combine: FloatArray | None = None) -> FloatArray:
    """IJ standard errors of p(t) (S,), or of ``p(t) @ combine`` (sums of states)."""
    m_end = int(np.searchsorted(f.time, t, "right"))
    u = _influence(f, products_to(f, m_end), m_end)
    if combine is not None:
        u = u @ combine
    return np.asarray(np.sqrt((u**2).sum(axis=0)), dtype=np.float64)


def occupation_at(f: AJFit, t: float) -> FloatArray:
    """p(t) (right-continuous); p0 before the first transition."""
    m = int(np.searchsorted(f.time, t, "right"))
    return f.p0.astype(np.float64) if m == 0 else f.pstate[m - 1]


def rmts(f: AJFit, tau: float) -> tuple[FloatArray, FloatArray]:
    """Restricted mean time in each state over (start, tau] and its IJ standard error."""
    m_end = int(np.searchsorted(f.time, tau, "right"))
    grid = np.r_[f.start, f.time[:m_end], tau]
    occ = np.vstack([f.p0[None, :], f.pstate[:m_end]])
    est = (np.diff(grid)[:, None] * occ).sum(axis=0)
    u = _influence(f, integrals_to(f, tau, m_end), m_end)
    return est, np.sqrt((u**2).sum(axis=0))
