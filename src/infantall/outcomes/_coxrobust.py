"""Score residuals of a Cox fit and the robust (sandwich, optionally clustered) variance.

Reproduces R ``residuals(coxph, type="score")`` (Efron or Breslow ties, strata, (start, stop]
data), ``coxph(..., cluster=, robust=TRUE)$var`` = V (sum over clusters of the weighted score
residuals, outer product) V and the robust score test ``$rscore`` (the same at beta = 0).
Vectorised over event times: at Efron's d tied deaths the virtual risk sets
den_l = S0 - (l/d) D0, l = 0..d-1, each carry a hazard increment wbar/den_l and a mean
(S1 - (l/d) D1)/den_l; a death takes part in virtual set l with weight 1 - l/d.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from infantall.outcomes._coxcore import CoxData, StratumData, cumulative_at_risk, efron_sums

__all__ = ["baseline_cumhaz", "robust_variance", "score_residuals"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _stratum_residuals(st: StratumData, beta: FloatArray, efron: bool) -> FloatArray:
    es = efron_sums(st, beta, efron)
    n, p = st.x.shape
    out = np.zeros((n, p))
    if st.death_rows.size == 0:
        return out
    k = st.times.shape[0]
    dr, dt = st.death_rows, st.death_tidx
    d0 = np.bincount(dt, weights=es.r[dr], minlength=k)
    idx = st.v_tidx
    frac = st.v_rank / st.n_dead[idx] if efron else np.zeros(idx.shape[0])
    den = es.s0[idx] - frac * d0[idx]
    h = st.wbar[idx] / den
    mean = (es.s1[idx] - frac[:, None] * es.d1[idx]) / den[:, None]
    first = st.v_first
    h0 = np.add.reduceat(h, first)
    h1 = np.add.reduceat(h[:, None] * mean, first, axis=0)
    g0 = np.add.reduceat((1.0 - frac) * h, first)
    g1 = np.add.reduceat(((1.0 - frac) * h)[:, None] * mean, first, axis=0)
    mbar = np.add.reduceat(mean, first, axis=0) / st.n_dead[:, None]
    r0 = es.r / st.weight  # exp(eta) without the case weight
    c0 = cumulative_at_risk(st, h0)
    for j in range(p):
        out[:, j] = -r0 * (st.x[:, j] * c0 - cumulative_at_risk(st, h1[:, j]))
    # at its own death time a death is in virtual set l with weight 1 - l/d only
    xd = st.x_dead
    out[dr] += r0[dr, None] * (xd * (h0 - g0)[dt, None] - (h1 - g1)[dt])
    out[dr] += xd - mbar[dt]
    return out


def score_residuals(data: CoxData, beta: FloatArray) -> FloatArray:
    """Score residuals (n, p) in the original row order (R ``type="score"``, unweighted)."""
    n, p = data.x.shape
    out = np.zeros((n, p))
    for st in data.strata:
        out[st.rows] = _stratum_residuals(st, beta, data.efron)
    return out


def _collapsed(
    data: CoxData, beta: FloatArray, weight: FloatArray, cluster: IntArray | None
) -> FloatArray:
    res = score_residuals(data, beta) * weight[:, None]
    if cluster is None:
        return res
    k = int(cluster.max()) + 1
    return np.column_stack(
        [np.bincount(cluster, weights=res[:, j], minlength=k) for j in range(res.shape[1])]
    )


def robust_variance(
    data: CoxData,
    beta: FloatArray,
    var: FloatArray,
    weight: FloatArray,
    cluster: IntArray | None,
) -> tuple[FloatArray, float]:
    """Sandwich variance V B V (B from weighted, cluster-summed score residuals) and the
    robust score test at beta = 0, as R ``coxph(robust=TRUE)``."""
    dfb = _collapsed(data, beta, weight, cluster) @ var
    rvar = np.asarray(dfb.T @ dfb, dtype=np.float64)
    s0 = _collapsed(data, np.zeros_like(beta), weight, cluster)
    u = s0.sum(axis=0)
    sol, *_ = np.linalg.lstsq(s0.T @ s0, u, rcond=None)
    return rvar, float(u @ sol)


def baseline_cumhaz(data: CoxData, beta: FloatArray) -> list[tuple[FloatArray, FloatArray]]:
    """Per stratum: event times and the cumulative baseline hazard at the covariate means
    (R ``survfit(coxph)``/``basehaz(centered=TRUE)``; Efron ties: sum over l of wbar/den_l)."""
    out = []
    for st in data.strata:
        if st.death_rows.size == 0:
            out.append((np.zeros(0), np.zeros(0)))
            continue
        es = efron_sums(st, beta, data.efron)
        out.append((st.times, np.cumsum(es.a0)))
    return out
