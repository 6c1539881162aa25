"""Fine–Gray proportional subdistribution hazards regression.

Reproduces R ``cmprsk::crr`` with one censoring group and no time-varying covariates:
coefficients (Breslow ties), the log pseudo-likelihood, and crr's sandwich variance that
includes the term for the estimated censoring distribution (Fine & Gray 1999, JASA
94:496-509, §3: Omega = sum (eta_i + psi_i)^2). Checked against crr in
``tests/outcomes/reference``.

Hand-written because neither lifelines nor statsmodels has Fine–Gray (lifelines PR #1689
is unmerged); a weighted Cox fit on expanded data would give the coefficients but not crr's
variance. Every risk-set sum is a cumulative sum over sorted times, so the fit is O(n p^2)
per Newton step instead of crr's O(n^2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from infantall.errors import InvalidInputError
from infantall.outcomes import _coxcore
from infantall.outcomes._validate import as_event, as_time
from infantall.outcomes.cox import design_matrix
from infantall.outcomes.km import kaplan_meier

__all__ = ["FineGrayResult", "fine_gray"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FineGrayResult:
    """A fitted Fine–Gray model for one cause."""

    names: tuple[str, ...]
    cause: int
    coef: FloatArray
    variance: FloatArray
    loglik: float
    n: int
    n_events: int
    conf_level: float
    converged: bool

    @property
    def se(self) -> FloatArray:
        """Standard errors (crr's sandwich variance)."""
        return np.sqrt(np.diag(self.variance))

    @property
    def summary(self) -> pd.DataFrame:
        """coef, subdistribution HR, SE, z, p and the CI of the sHR."""
        return _coxcore.wald_table(self.names, self.coef, self.se, self.conf_level, "shr")

    def print_summary(self) -> None:
        """Print the coefficient table."""
        print(f"Fine-Gray model, cause {self.cause}: n={self.n}, events={self.n_events}")
        print(self.summary.to_string(index=False))
        print(f"log pseudo-likelihood = {self.loglik:.4f}")


@dataclass(frozen=True, slots=True)
class _FGData:
    x: FloatArray  # sorted by time, centred
    time: FloatArray
    status: npt.NDArray[np.int64]
    g_left: FloatArray  # G(T_i-)
    ftimes: FloatArray  # distinct cause-1 times
    d: FloatArray  # failures at each
    g_f: FloatArray  # G(t-) at each failure time
    fidx: npt.NDArray[np.int64]  # for each failure row, its failure-time index
    frows: npt.NDArray[np.int64]
    ge_start: npt.NDArray[np.int64]  # first row with T >= t_m
    c2_count: npt.NDArray[np.int64]  # number of cause-2 rows with T < t_m (in c2 order)
    c2_rows: npt.NDArray[np.int64]


def _left_km_censoring(time: FloatArray, status: npt.NDArray[np.int64]) -> FloatArray:
    """G(t-) at every t in ``time``: Kaplan–Meier of the censoring distribution."""

    km = kaplan_meier(time, (status == 0).astype(np.int64))
    idx = np.searchsorted(km.time, time, side="left") - 1
    return np.where(idx >= 0, km.survival[np.maximum(idx, 0)], 1.0)


def _prepare(x: FloatArray, time: FloatArray, status: npt.NDArray[np.int64]) -> _FGData:
    order = np.argsort(time, kind="stable")
    x, time, status = x[order], time[order], status[order]
    x = x - x.mean(axis=0)
    g_left = _left_km_censoring(time, status)
    frows = np.flatnonzero(status == 1)
    ftimes, first, counts = np.unique(time[frows], return_index=True, return_counts=True)
    fidx = np.repeat(np.arange(ftimes.shape[0]), counts)
    c2_rows = np.flatnonzero(status == 2)
    return _FGData(
        x=x,
        time=time,
        status=status,
        g_left=g_left,
        ftimes=ftimes,
        d=counts.astype(np.float64),
        g_f=g_left[frows[first]],
        fidx=fidx,
        frows=frows,
        ge_start=np.searchsorted(time, ftimes, side="left"),
        c2_count=np.searchsorted(time[c2_rows], ftimes, side="left"),
        c2_rows=c2_rows,
    )


def _risk_sums(fd: _FGData, v: FloatArray) -> FloatArray:
    """Weighted risk-set sums of rows of ``v`` (already times r) at each failure time."""
    rev = np.vstack([np.cumsum(v[::-1], axis=0)[::-1], np.zeros((1, *v.shape[1:]))])
    part_a = rev[fd.ge_start]
    vc = v[fd.c2_rows] / fd.g_left[fd.c2_rows].reshape((-1,) + (1,) * (v.ndim - 1))
    fwd = np.vstack([np.zeros((1, *v.shape[1:])), np.cumsum(vc, axis=0)])
    part_b = fwd[fd.c2_count] * fd.g_f.reshape((-1,) + (1,) * (v.ndim - 1))
    return part_a + part_b


def _per_row_sum(fd: _FGData, per_time: FloatArray) -> FloatArray:
    """For each row i: sum over failure times t of w_i(t) * per_time[t] / (r-free)."""
    # part A: t <= T_i
    c = np.concatenate([np.zeros((1, *per_time.shape[1:])), np.cumsum(per_time, axis=0)])
    upto = c[np.searchsorted(fd.ftimes, fd.time, side="right")]
    # part B (cause 2 only): t > T_i, weight G(t-)/G(T_i-)
    gp = per_time * fd.g_f.reshape((-1,) + (1,) * (per_time.ndim - 1))
    cg = np.concatenate([np.zeros((1, *per_time.shape[1:])), np.cumsum(gp, axis=0)])
    after = cg[-1] - cg[np.searchsorted(fd.ftimes, fd.time, side="right")]
    is2 = (fd.status == 2).reshape((-1,) + (1,) * (per_time.ndim - 1))
    g = fd.g_left.reshape((-1,) + (1,) * (per_time.ndim - 1))
    return upto + np.where(is2, after / g, 0.0)


def _lik(
    fd: _FGData, beta: FloatArray
) -> tuple[float, FloatArray, FloatArray, dict[str, FloatArray]]:
    eta = fd.x @ beta
    r = np.exp(eta)
    rx = r[:, None] * fd.x
    sums = _risk_sums(fd, np.column_stack([r, rx]))
    s0, s1 = sums[:, 0], sums[:, 1:]
    ll = float(eta[fd.frows].sum() - fd.d @ np.log(s0))
    xbar = s1 / s0[:, None]
    u = fd.x[fd.frows].sum(axis=0) - fd.d @ xbar
    # information: sum_t d_t (S2/S0 - xbar xbar')
    wrow = _per_row_sum(fd, fd.d / s0)
    info = fd.x.T @ (fd.x * (r * wrow)[:, None]) - (xbar * fd.d[:, None]).T @ xbar
    return ll, u, info, {"r": r, "s0": s0, "xbar": xbar}


def _crr_variance(
    fd: _FGData, beta: FloatArray, info: FloatArray, aux: dict[str, FloatArray]
) -> FloatArray:
    r, s0, xbar = aux["r"], aux["s0"], aux["xbar"]
    n = fd.time.shape[0]
    # eta_i: dN part minus d-Lambda part
    per = np.column_stack([fd.d / s0, (fd.d / s0)[:, None] * xbar])
    acc = _per_row_sum(fd, per)
    eta_i = -r[:, None] * (fd.x * acc[:, :1] - acc[:, 1:])
    eta_i[fd.frows] += fd.x[fd.frows] - xbar[fd.fidx]
    # psi_i: term for the estimated censoring distribution
    change = np.ones(n, dtype=bool)
    change[1:] = fd.time[1:] != fd.time[:-1]
    starts = np.flatnonzero(change)
    ut = fd.time[starts]
    nc = np.add.reduceat((fd.status == 0).astype(np.float64), starts)
    pi = (n - starts).astype(np.float64)
    cens = nc > 0
    # A(u), B(u): sums over cause-2 rows with T < u of r Z / G(T-) and r / G(T-)
    c2 = fd.c2_rows
    k2 = np.searchsorted(fd.time[c2], ut, side="left")
    wa = r[c2] / fd.g_left[c2]
    cum_b = np.concatenate([[0.0], np.cumsum(wa)])[k2]
    cum_a = np.vstack([np.zeros((1, fd.x.shape[1])), np.cumsum(fd.x[c2] * wa[:, None], axis=0)])[k2]
    # tail sums over failure times t >= u of d G(t-)/S0 and of d G(t-) xbar / S0
    h = fd.d * fd.g_f / s0
    tail0 = np.concatenate([np.cumsum(h[::-1])[::-1], [0.0]])
    tail1 = np.vstack(
        [np.cumsum((h[:, None] * xbar)[::-1], axis=0)[::-1], np.zeros((1, xbar.shape[1]))]
    )
    m = np.searchsorted(fd.ftimes, ut, side="left")
    q = cum_a * tail0[m][:, None] - cum_b[:, None] * tail1[m]
    q = np.where(cens[:, None], q, 0.0)
    step = -(nc / pi**2)[:, None] * q
    ss2 = np.cumsum(step, axis=0)
    grp = np.cumsum(change) - 1
    psi = ss2[grp]
    is_c = fd.status == 0
    psi[is_c] += q[grp[is_c]] / pi[grp[is_c]][:, None]
    tot = eta_i + psi
    v2 = tot.T @ tot
    inv = np.linalg.inv(info)
    return np.asarray(inv @ v2 @ inv, dtype=np.float64)


def _newton(fd: _FGData, p: int, max_iter: int) -> tuple[FloatArray, float, FloatArray, bool]:
    """Newton–Raphson with step halving as ``crr``; returns beta, loglik, variance, converged."""
    beta = np.zeros(p)
    ll, u, info, aux = _lik(fd, beta)
    converged = False
    for _ in range(max_iter):
        step = np.linalg.solve(info, u)
        new = beta + step
        ll_new, u_new, info_new, aux_new = _lik(fd, new)
        halv = 0
        while ll_new < ll - 1e-12 * abs(ll) and halv < 30:
            step /= 2.0
            new = beta + step
            ll_new, u_new, info_new, aux_new = _lik(fd, new)
            halv += 1
        beta, ll, u, info, aux = new, ll_new, u_new, info_new, aux_new
        if np.max(np.abs(step)) < 1e-12 * max(1.0, float(np.max(np.abs(beta)))):
            converged = True
            break
    info0 = np.diag(_lik(fd, np.zeros(p))[2])
    if (np.diag(info) <= 1e-10 * info0).any():
        # the information of a coefficient vanished: it runs off (exp underflow may leave
        # a finite sandwich variance, so this is checked on the information itself)
        raise np.linalg.LinAlgError("information of a coefficient vanished")
    var = _crr_variance(fd, beta, info, aux)
    diag = np.diag(var)
    if not (np.isfinite(diag).all() and (diag > 0).all() and (diag * info0 < 1e10).all()):
        # a vanished information: the same situation as a singular matrix
        raise np.linalg.LinAlgError("information of a coefficient vanished")
    return beta, ll, var, converged


def fine_gray(
    data: pd.DataFrame,
    time: str,
    status: str,
    covariates: Sequence[str],
    *,
    cause: int = 1,
    conf_level: float = 0.95,
    max_iter: int = 50,
) -> FineGrayResult:
    """Fit a Fine–Gray model for ``cause`` (status 0 censored, other codes competing).

    Matches ``cmprsk::crr(ftime, fstatus, cov1, failcode=cause, cencode=0)``.
    """
    for col in (time, status):
        if col not in data.columns:
            raise InvalidInputError(col, "is not a column of the data", "unknown_column")
    t = as_time(data[time].to_numpy(), time)
    s = as_event(data[status].to_numpy(), t.shape[0], allowed=tuple(range(10)), field=status)
    if not (s == cause).any():
        raise InvalidInputError(status, f"no events of cause {cause}", "no_events")
    x, names = design_matrix(data, covariates)
    if np.linalg.matrix_rank(x - x.mean(axis=0)) < x.shape[1]:
        raise InvalidInputError(
            "covariates",
            f"{', '.join(names)} are collinear (or one is constant)",
            "collinear_covariates",
        )
    s3 = np.where(s == cause, 1, np.where(s > 0, 2, 0)).astype(np.int64)
    fd = _prepare(x, t, s3)
    try:
        beta, ll, var, converged = _newton(fd, x.shape[1], max_iter)
    except np.linalg.LinAlgError as exc:
        raise InvalidInputError(
            "covariates",
            f"the information matrix became singular while fitting cause {cause}: a "
            "coefficient diverges (monotone likelihood, e.g. a covariate level without "
            "events of the cause); drop or merge that level",
            "not_estimable",
        ) from exc
    return FineGrayResult(
        names=tuple(names),
        cause=cause,
        coef=beta,
        variance=var,
        loglik=ll,
        n=int(t.shape[0]),
        n_events=int((s == cause).sum()),
        conf_level=conf_level,
        converged=converged,
    )
