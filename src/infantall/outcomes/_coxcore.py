"""Vectorised Cox partial likelihood (Efron or Breslow ties, strata, (start, stop] data, weights).

Hand-written because statsmodels ``PHReg`` (correct, but minutes on a million rows and
counting ``start <= t`` as at risk, where R needs ``start < t``) and lifelines (Efron only, a
loose default tolerance) do not meet the accuracy and speed asked of this package. Every
sum over a risk set is a reverse cumulative sum over sorted times, so one Newton step costs
O(n p^2). The formulas follow Therneau & Grambsch (2000), *Modeling Survival Data*, §3.3
(Efron's approximation with case weights as in R ``coxph``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from infantall.errors import InvalidInputError
from infantall.outcomes._tabulate import time_ids

__all__ = ["CoxData", "EventSums", "efron_sums", "fit_newton", "prepare"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class StratumData:
    """Rows of one stratum with the time indices every risk-set sum needs (no sorting).

    A row is at risk at the k-th event time when ``lo_idx <= k < hi_idx``; sums over risk
    sets are reverse cumulative sums of ``bincount`` tables over these indices.
    """

    rows: IntArray  # original row numbers
    x: FloatArray
    weight: FloatArray
    times: FloatArray  # distinct event times (K,)
    hi_idx: IntArray  # per row: number of event times <= stop
    lo_idx: IntArray | None  # per row: number of event times <= start
    death_rows: IntArray
    death_tidx: IntArray
    x_dead: FloatArray  # x of the death rows
    xw_dead: FloatArray  # sum over deaths of w x (constant in beta)
    n_dead: FloatArray  # (K,)
    wbar: FloatArray  # mean case weight of the deaths at each time
    v_tidx: IntArray  # Efron's virtual rows (one per death, grouped by time)
    v_rank: FloatArray
    v_first: IntArray


def _stratum(
    rows: IntArray,
    stop: FloatArray,
    start: FloatArray | None,
    event: FloatArray,
    weight: FloatArray,
    x: FloatArray,
) -> StratumData:
    dead = np.flatnonzero(event > 0)
    if dead.size:
        times, tidx = time_ids(stop[dead])
    else:
        times, tidx = np.zeros(0), np.zeros(0, dtype=np.int64)
    k = times.shape[0]
    n_dead = np.bincount(tidx, minlength=k).astype(np.float64)
    wsum = np.bincount(tidx, weights=weight[dead], minlength=k)
    counts = n_dead.astype(np.int64)
    v_first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if k else counts
    v_tidx = np.repeat(np.arange(k), counts)
    x_dead = x[dead]
    return StratumData(
        rows=rows,
        x=x,
        weight=weight,
        times=times,
        hi_idx=np.searchsorted(times, stop, side="right"),
        lo_idx=None if start is None else np.searchsorted(times, start, side="right"),
        death_rows=dead,
        death_tidx=tidx,
        x_dead=x_dead,
        xw_dead=weight[dead] @ x_dead,
        n_dead=n_dead,
        wbar=wsum / np.maximum(n_dead, 1.0),
        v_tidx=v_tidx,
        v_rank=(np.arange(v_tidx.shape[0]) - np.repeat(v_first, counts)).astype(np.float64),
        v_first=v_first,
    )


@dataclass(frozen=True, slots=True)
class CoxData:
    """Prepared (validated, centred) data for repeated likelihood evaluations."""

    x: FloatArray
    strata: tuple[StratumData, ...]
    efron: bool
    means: FloatArray


def prepare(
    x: FloatArray,
    stop: FloatArray,
    event: FloatArray,
    *,
    start: FloatArray | None = None,
    strata: IntArray | None = None,
    weight: FloatArray | None = None,
    ties: str = "efron",
) -> CoxData:
    """Centre the covariates and index the strata."""
    means = x.mean(axis=0) if x.shape[0] else np.zeros(x.shape[1])
    # column-major: the per-covariate bincounts read contiguous columns
    xc = np.asfortranarray(x - means)
    w = np.ones(stop.shape[0]) if weight is None else weight
    if strata is None:
        part = _stratum(np.arange(stop.shape[0]), stop, start, event, w, xc)
        return CoxData(xc, (part,), ties == "efron", means)
    else:
        order = np.argsort(strata, kind="stable")
        cuts = np.flatnonzero(np.diff(strata[order])) + 1
        groups = np.split(order, cuts)
    parts = []
    for rows in groups:
        parts.append(
            _stratum(
                rows,
                stop[rows],
                None if start is None else start[rows],
                event[rows],
                w[rows],
                xc[rows],
            )
        )
    return CoxData(xc, tuple(parts), ties == "efron", means)


@dataclass(frozen=True, slots=True)
class EventSums:
    """Per-event-time sums of one stratum at a given beta."""

    s0: FloatArray  # (K,)
    s1: FloatArray  # (K, p)
    a0: FloatArray  # sum_l wbar / den_l
    a1: FloatArray  # sum_l wbar f_l / den_l
    b0: FloatArray  # sum_l wbar / den_l^2
    b1: FloatArray
    b2: FloatArray
    d1: FloatArray  # (K, p) sum over deaths of w r x
    logden: FloatArray  # sum_l wbar log den_l
    r: FloatArray  # exp(eta) of the stratum rows


def _bins(idx: IntArray, v: FloatArray, k: int) -> FloatArray:
    """Column-wise sums of ``v`` by ``idx`` into k + 1 bins."""
    if v.ndim == 1:
        return np.bincount(idx, weights=v, minlength=k + 1).astype(np.float64)
    out = np.empty((k + 1, v.shape[1]))
    for j in range(v.shape[1]):
        out[:, j] = np.bincount(idx, weights=v[:, j], minlength=k + 1)
    return out


def _risk_sums(st: StratumData, v: FloatArray) -> FloatArray:
    """Sum of rows of ``v`` over the risk set {start < t <= stop} at each event time."""
    k = st.times.shape[0]
    hi = np.cumsum(_bins(st.hi_idx, v, k)[::-1], axis=0)[::-1]
    out: FloatArray = hi[1:]
    if st.lo_idx is not None:
        lo = np.cumsum(_bins(st.lo_idx, v, k)[::-1], axis=0)[::-1]
        out = out - lo[1:]
    return out


def efron_sums(st: StratumData, beta: FloatArray, efron: bool) -> EventSums:
    """Risk-set and tie sums needed for the log-likelihood, score and information."""
    eta = st.x @ beta
    r = np.exp(eta)
    r *= st.weight
    k = st.times.shape[0]
    p = st.x.shape[1]
    s0 = _risk_sums(st, r)
    s1 = np.empty((k, p))
    buf = np.empty_like(r)
    for j in range(p):
        np.multiply(r, st.x[:, j], out=buf)
        s1[:, j] = _risk_sums(st, buf)
    dr = st.death_rows
    rx = r[dr, None] * st.x_dead
    if dr.size == 0:
        z = np.zeros(0)
        return EventSums(s0, s1, z, z, z, z, z, np.zeros((0, st.x.shape[1])), z, r)
    d0 = np.bincount(st.death_tidx, weights=r[dr], minlength=k)
    d1 = _bins(st.death_tidx, rx, k)[:k]
    idx = st.v_tidx
    frac = st.v_rank / st.n_dead[idx] if efron else np.zeros(idx.shape[0])
    den = s0[idx] - frac * d0[idx]
    wb = st.wbar[idx]
    inv = wb / den
    inv2 = inv / den
    first = st.v_first
    a0 = np.add.reduceat(inv, first)
    b0 = np.add.reduceat(inv2, first)
    logden = np.add.reduceat(wb * np.log(den), first)
    if efron:
        a1 = np.add.reduceat(inv * frac, first)
        inv2 *= frac
        b1 = np.add.reduceat(inv2, first)
        inv2 *= frac
        b2 = np.add.reduceat(inv2, first)
    else:
        a1 = b1 = b2 = np.zeros(k)
    return EventSums(s0, s1, a0, a1, b0, b1, b2, d1, logden, r)


def cumulative_at_risk(st: StratumData, per_time: FloatArray) -> FloatArray:
    """For each row, the sum of ``per_time`` over event times at which the row is at risk."""
    c = np.concatenate([[0.0], np.cumsum(per_time)])
    hi: FloatArray = c[st.hi_idx]
    if st.lo_idx is None:
        return hi
    lo: FloatArray = c[st.lo_idx]
    return hi - lo


def loglik_score_info(data: CoxData, beta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """Log partial likelihood, score vector and information matrix at ``beta``."""
    p = beta.shape[0]
    ll = 0.0
    u = np.zeros(p)
    info = np.zeros((p, p))
    for st in data.strata:
        if st.times.size == 0:
            continue
        es = efron_sums(st, beta, data.efron)
        dr = st.death_rows
        ll += float(st.xw_dead @ beta - es.logden.sum())
        u += st.xw_dead - (es.s1 * es.a0[:, None]).sum(axis=0) + (es.d1 * es.a1[:, None]).sum(0)
        # sum_k a0_k S2_k = sum_i r_i x_i x_i' A_i, A_i = sum of a0 over times i is at risk
        big_a = cumulative_at_risk(st, es.a0)
        xr = st.x * (es.r * big_a)[:, None]
        info += st.x.T @ xr
        if data.efron:
            rd = es.r[dr] * es.a1[st.death_tidx]
            info -= st.x_dead.T @ (st.x_dead * rd[:, None])
        info -= (es.s1 * es.b0[:, None]).T @ es.s1
        if data.efron:
            m = (es.s1 * es.b1[:, None]).T @ es.d1
            info += m + m.T
            info -= (es.d1 * es.b2[:, None]).T @ es.d1
    return ll, u, info


def fit_newton(
    data: CoxData,
    beta0: FloatArray,
    *,
    max_iter: int = 50,
    tol: float = 1e-12,
    start: tuple[float, FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, float, FloatArray, FloatArray, int, bool]:
    """Newton–Raphson with step halving, as R ``coxph`` does, to a tight tolerance.

    Returns beta, log-likelihood, score, information, iterations and convergence. A singular
    information on the way (a coefficient running to infinity) stops the iterations with
    convergence False.
    """
    beta = beta0.copy()
    ll, u, info = loglik_score_info(data, beta) if start is None else start
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, u)
        except np.linalg.LinAlgError:
            return beta, ll, u, info, it - 1, False
        new = beta + step
        ll_new, u_new, info_new = loglik_score_info(data, new)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12 * abs(ll)) and halvings < 30:
            step = step / 2.0
            new = beta + step
            ll_new, u_new, info_new = loglik_score_info(data, new)
            halvings += 1
        beta, ll, u, info = new, ll_new, u_new, info_new
        if np.max(np.abs(step)) < tol * max(1.0, float(np.max(np.abs(beta)))) or (
            abs(ll_new - ll) == 0.0 and np.max(np.abs(step)) < 1e-9
        ):
            return beta, ll, u, info, it, True
    return beta, ll, u, info, max_iter, False


def wald_table(
    names: tuple[str, ...] | list[str],
    coef: np.ndarray,
    se: np.ndarray,
    conf_level: float,
    ratio: str = "hr",
) -> pd.DataFrame:
    """coef, the ratio exp(coef), SE, Wald z and p, and the ratio's CI: one row per covariate
    (the coefficient table of R ``summary(coxph)`` / ``summary(crr)``); ``ratio`` names the
    ratio's columns (``hr`` for Cox, ``shr`` for Fine–Gray)."""
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    zval = coef / se
    return pd.DataFrame(
        {
            "covariate": list(names),
            "coef": coef,
            ratio: np.exp(coef),
            "se": se,
            "z": zval,
            "p": 2 * stats.norm.sf(np.abs(zval)),
            f"{ratio}_lower": np.exp(coef - z * se),
            f"{ratio}_upper": np.exp(coef + z * se),
        }
    )


def score_statistic(u: np.ndarray, info: np.ndarray) -> float:
    """The score test statistic u' I^-1 u at the null (R ``coxph``'s "Score (logrank) test").

    Raises
    ------
    InvalidInputError
        ``collinear_covariates`` when the information matrix is singular.
    """
    try:
        return float(u @ np.linalg.solve(info, u))
    except np.linalg.LinAlgError as exc:
        raise InvalidInputError(
            "covariates",
            "the information matrix is singular (collinear covariates?)",
            "collinear_covariates",
        ) from exc
