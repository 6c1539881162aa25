"""Cox proportional hazards: Efron/Breslow ties, strata, (start, stop] data, PH test.

``cox_ph`` reproduces R ``survival::coxph`` (coefficients, SEs, log-likelihoods, score,
Wald and likelihood-ratio tests, concordance) and ``CoxResult.ph_test`` reproduces
``cox.zph`` (score test of beta(t) = beta + gamma g(t), per covariate and GLOBAL, with the
``km`` or ``identity`` transform; Grambsch & Therneau 1994, Biometrika 81:515). Values
checked against R in ``tests/outcomes/reference``.

The likelihood is evaluated by :mod:`infantall.outcomes._coxcore` (why: see there);
lifelines' PH test is an approximation with no global test, so the R score test is
written here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from infantall.errors import InvalidInputError
from infantall.outcomes import _coxcore
from infantall.outcomes._concordance import concordance_index
from infantall.outcomes._coxrobust import baseline_cumhaz, robust_variance
from infantall.outcomes._validate import (
    OutcomesWarning,
    as_entry,
    as_event,
    as_groups,
    as_time,
    as_weights,
)
from infantall.outcomes.km import kaplan_meier

__all__ = ["CoxResult", "PHTestResult", "concordance_index", "cox_ph", "design_matrix"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
Ties = Literal["efron", "breslow"]


@dataclass(frozen=True, slots=True)
class PHTestResult:
    """Test of proportional hazards on scaled Schoenfeld residuals (R ``cox.zph``)."""

    names: tuple[str, ...]
    chisq: FloatArray
    df: tuple[int, ...]
    p_value: FloatArray
    transform: str

    @property
    def summary(self) -> pd.DataFrame:
        """Rows per covariate and GLOBAL: chisq, df, p."""
        return pd.DataFrame(
            {"term": list(self.names), "chisq": self.chisq, "df": list(self.df), "p": self.p_value}
        )

    def print_summary(self) -> None:
        """Print the table."""
        print(f"Proportional-hazards test (transform={self.transform})")
        print(self.summary.to_string(index=False))


@dataclass(frozen=True, slots=True)
class CoxResult:
    """A fitted Cox model (R ``coxph``).

    ``loglik`` is (null, fitted); tests are on ``len(coef)`` df. With ``robust=True`` or a
    ``cluster``, ``variance`` is the robust sandwich variance (R ``fit$var``), the model-based
    one is ``naive_variance`` (R ``fit$naive.var``) and ``robust_score_test`` is R's
    ``fit$rscore``; otherwise those two are None.
    """

    names: tuple[str, ...]
    coef: FloatArray
    variance: FloatArray
    loglik: tuple[float, float]
    score_test: float
    wald_test: float
    lr_test: float
    concordance: float
    n: int
    n_events: int
    ties: str
    strata: str | None
    conf_level: float
    iterations: int
    converged: bool
    _data: _coxcore.CoxData = field(repr=False)
    _stop: FloatArray = field(repr=False)
    _event: FloatArray = field(repr=False)
    _start: FloatArray | None = field(default=None, repr=False)
    naive_variance: FloatArray | None = None
    robust_score_test: float | None = None

    @property
    def se(self) -> FloatArray:
        """Standard errors of the coefficients."""
        return np.sqrt(np.diag(self.variance))

    @property
    def hazard_ratio(self) -> FloatArray:
        """exp(coef)."""
        return np.exp(self.coef)

    @property
    def summary(self) -> pd.DataFrame:
        """coef, HR, SE, z, p and the CI of the HR, one row per covariate."""
        return _coxcore.wald_table(self.names, self.coef, self.se, self.conf_level, "hr")

    def print_summary(self) -> None:
        """Print the coefficient table and the global tests, as R ``summary.coxph``."""
        df = len(self.coef)
        print(
            f"Cox model ({self.ties} ties{', strata ' + self.strata if self.strata else ''}): "
            f"n={self.n}, events={self.n_events}"
        )
        print(self.summary.to_string(index=False))
        print(f"Concordance = {self.concordance:.4f}")
        for name, val in (
            ("Likelihood ratio", self.lr_test),
            ("Wald", self.wald_test),
            ("Score (log-rank)", self.score_test),
        ):
            print(f"{name} test = {val:.3f} on {df} df, p={stats.chi2.sf(val, df):.4g}")

    def baseline_hazard(self) -> pd.DataFrame:
        """Cumulative baseline hazard at the event times, covariates at their means (R
        ``basehaz(fit, centered=TRUE)`` / ``survfit(fit)$cumhaz``; Efron-adjusted with Efron
        ties); one block per stratum (``stratum`` 0, 1, ... in the order of the codes)."""
        frames = [
            pd.DataFrame({"stratum": k, "time": t, "cumhaz": h})
            for k, (t, h) in enumerate(baseline_cumhaz(self._data, self.coef))
        ]
        return pd.concat(frames, ignore_index=True)

    def predict_survival(self, newdata: pd.DataFrame, times: Any) -> pd.DataFrame:
        """S(t | x) = exp(-H0(t) exp((x - means) b)) for each row of ``newdata`` (rows) at
        ``times`` (columns), as R ``summary(survfit(fit, newdata=), times=)``."""
        if self.strata is not None:
            raise InvalidInputError(
                "strata", "predicted survival is given for unstratified models", "bad_option"
            )
        x, _ = design_matrix(newdata, self.names)
        h = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if np.isnan(h).any() or (h < 0).any():
            raise InvalidInputError("times", "times must be numbers >= 0", "bad_horizon")
        t, cum = baseline_cumhaz(self._data, self.coef)[0]
        idx = np.searchsorted(t, h, side="right") - 1
        h0 = np.where(idx >= 0, cum[np.maximum(idx, 0)], 0.0)
        risk = np.exp((x - self._data.means) @ self.coef)
        surv = np.exp(-np.outer(risk, h0))
        return pd.DataFrame(surv, columns=[float(v) for v in h], index=newdata.index)

    def ph_test(self, transform: Literal["km", "identity", "rank"] = "km") -> PHTestResult:
        """Score test for time-varying coefficients, per covariate and GLOBAL (``cox.zph``).

        With ``transform="km"`` g(t) = 1 - S(t-) from the Kaplan–Meier of all the data, as
        R's default; ``"rank"``: the rank of t among all (stop) times, ties averaged, as R's
        ``rank(times)``; ``"identity"``: t.
        """
        g_all = _zph_transform(self._stop, self._event, self._start, transform)
        p = self.coef.shape[0]
        u = np.zeros(2 * p)
        imat = np.zeros((2 * p, 2 * p))
        pos = 0
        for st in self._data.strata:
            if st.times.size == 0:
                continue
            g = g_all(st.times)
            ub, ug, i_bb, i_bg, i_gg = _zph_blocks(st, self.coef, g, self._data.efron)
            u[:p] += ub
            u[p:] += ug
            imat[:p, :p] += i_bb
            imat[:p, p:] += i_bg
            imat[p:, :p] += i_bg.T
            imat[p:, p:] += i_gg
            pos += 1
        chis = []
        for j in range(p):
            jj = [*range(p), p + j]
            sub = imat[np.ix_(jj, jj)]
            chis.append(float(u[jj] @ np.linalg.solve(sub, u[jj])))
        chis.append(float(u @ np.linalg.solve(imat, u)))
        dfs = (*([1] * p), p)
        chisq = np.asarray(chis)
        return PHTestResult(
            (*self.names, "GLOBAL"),
            chisq,
            dfs,
            stats.chi2.sf(chisq, np.asarray(dfs)),
            transform,
        )


def _zph_transform(
    stop: FloatArray, event: FloatArray, start: FloatArray | None, transform: str
) -> Any:
    if transform == "identity":
        return lambda t: t
    if transform == "rank":
        srt = np.sort(stop)

        def ranks(t: FloatArray) -> FloatArray:
            # average 1-based rank of the block of times equal to t
            lo = np.searchsorted(srt, t, side="left")
            hi = np.searchsorted(srt, t, side="right")
            return np.asarray((lo + hi + 1) / 2.0, dtype=np.float64)

        return ranks
    if transform != "km":
        raise InvalidInputError("transform", "use 'km', 'rank' or 'identity'", "bad_option")

    km = kaplan_meier(stop, event.astype(np.int64), entry=start)

    def g(t: FloatArray) -> FloatArray:
        idx = np.searchsorted(km.time, t, side="left") - 1  # last time strictly before t
        s_left = np.where(idx >= 0, km.survival[np.maximum(idx, 0)], 1.0)
        return 1.0 - s_left

    return g


def _zph_blocks(
    st: _coxcore.StratumData, beta: FloatArray, g: FloatArray, efron: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Score and information blocks of the model with beta + gamma g(t) at gamma = 0."""
    es = _coxcore.efron_sums(st, beta, efron)
    dr = st.death_rows
    k = st.times.shape[0]
    p = beta.shape[0]
    xd_w = st.x[dr] * st.weight[dr][:, None]
    obs = np.zeros((k, p))
    for j in range(p):
        obs[:, j] = np.bincount(st.death_tidx, weights=xd_w[:, j], minlength=k)
    u_t = obs - es.s1 * es.a0[:, None] + es.d1 * es.a1[:, None]
    ub = u_t.sum(axis=0)
    ug = (u_t * g[:, None]).sum(axis=0)

    def info(weight_t: FloatArray) -> FloatArray:
        big_a = _coxcore.cumulative_at_risk(st, es.a0 * weight_t)
        out = st.x.T @ (st.x * (es.r * big_a)[:, None])
        if efron:
            rd = es.r[dr] * (es.a1 * weight_t)[st.death_tidx]
            out -= st.x[dr].T @ (st.x[dr] * rd[:, None])
        out -= (es.s1 * (es.b0 * weight_t)[:, None]).T @ es.s1
        if efron:
            m = (es.s1 * (es.b1 * weight_t)[:, None]).T @ es.d1
            out += m + m.T
            out -= (es.d1 * (es.b2 * weight_t)[:, None]).T @ es.d1
        return out

    return ub, ug, info(np.ones(k)), info(g), info(g * g)


def design_matrix(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[FloatArray, list[str]]:
    """Numeric design matrix from named columns; bool columns become 0/1.

    Raises
    ------
    InvalidInputError
        ``unknown_column``, ``non_numeric_covariate`` (encode categories as 0/1 columns
        first), ``missing_covariate``.
    """
    cols = []
    for c in covariates:
        if c not in data.columns:
            raise InvalidInputError(c, "is not a column of the data", "unknown_column")
        s = data[c]
        if s.dtype == bool:
            s = s.astype(np.float64)
        if not pd.api.types.is_numeric_dtype(s):
            raise InvalidInputError(
                c,
                "is not numeric; encode categories as 0/1 indicator columns",
                "non_numeric_covariate",
            )
        if s.isna().any():
            raise InvalidInputError(
                c, f"has {int(s.isna().sum())} missing value(s)", "missing_covariate"
            )
        cols.append(s.to_numpy(dtype=np.float64))
    if not cols:
        raise InvalidInputError("covariates", "name at least one covariate", "bad_option")
    return np.column_stack(cols), list(covariates)


def cox_ph(
    data: pd.DataFrame,
    time: str,
    event: str,
    covariates: Sequence[str],
    *,
    entry: str | None = None,
    strata: str | None = None,
    weights: str | None = None,
    ties: Ties = "efron",
    conf_level: float = 0.95,
    concordance: bool = True,
    robust: bool = False,
    cluster: str | None = None,
) -> CoxResult:
    """Fit a Cox model (R ``coxph(Surv([entry,] time, event) ~ covariates + strata(s))``).

    Parameters
    ----------
    data
        One row per subject, or per (entry, time] interval for time-varying covariates
        (counting-process layout; a row is at risk at t when entry < t <= time).
    ties
        ``"efron"`` (R's default) or ``"breslow"``.
    robust, cluster
        Robust (sandwich) variance from the score residuals, summed within ``cluster`` when
        given (R ``coxph(..., robust=TRUE)`` / ``cluster=``); adds the robust score test.
    concordance
        Harrell's C as R reports it (ties in the predictor count 1/2; pairs tied in time
        with both events are not comparable); not computed for counting-process data.

    Raises
    ------
    InvalidInputError
        For bad times/events, non-numeric or missing covariates, collinear covariates
        (``collinear_covariates``) and data without events (``no_events``).
    """
    if ties not in ("efron", "breslow"):
        raise InvalidInputError("ties", f"{ties!r}; use 'efron' or 'breslow'", "bad_option")
    for col in (time, event, entry, strata, weights, cluster):
        if col is not None and col not in data.columns:
            raise InvalidInputError(col, "is not a column of the data", "unknown_column")
    stop = as_time(data[time].to_numpy(), time)
    ev = as_event(data[event].to_numpy(), stop.shape[0], field=event).astype(np.float64)
    start = None if entry is None else as_entry(data[entry].to_numpy(), stop, entry)
    x, names = design_matrix(data, covariates)
    if ev.sum() == 0:
        raise InvalidInputError(
            event, "there are no events; the model is not estimable", "no_events"
        )
    s_codes = None if strata is None else as_groups(data[strata], stop.shape[0], strata)[1]
    w = None if weights is None else as_weights(data[weights].to_numpy(), stop.shape[0], weights)
    prep = _coxcore.prepare(x, stop, ev, start=start, strata=s_codes, weight=w, ties=ties)
    if _rank(prep.x) < x.shape[1]:
        raise InvalidInputError(
            "covariates",
            f"{', '.join(names)} are collinear (or one is constant); drop one",
            "collinear_covariates",
        )
    p = x.shape[1]
    beta0 = np.zeros(p)
    ll0, u0, info0 = _coxcore.loglik_score_info(prep, beta0)
    score = _coxcore.score_statistic(u0, info0)
    beta, ll, info, var, iters, conv = _fit(prep, beta0, (ll0, u0, info0), names)
    naive, rscore = None, None
    if robust or cluster is not None:
        naive = var
        var, rscore = _robust(data, cluster, prep, beta, naive, w)
    wald = _wald(beta, var) if naive is not None else float(beta @ info @ beta)
    conc = float("nan")
    if concordance and start is None:
        lp = x @ beta
        conc = concordance_index(stop, ev, lp, strata=s_codes, weights=w)
    return CoxResult(
        names=tuple(names),
        coef=beta,
        variance=var,
        loglik=(ll0, ll),
        score_test=score,
        wald_test=wald,
        lr_test=2.0 * (ll - ll0),
        concordance=conc,
        n=int(stop.shape[0]),
        n_events=int(ev.sum()),
        ties=ties,
        strata=strata,
        conf_level=conf_level,
        iterations=iters,
        converged=conv,
        _data=prep,
        _stop=stop,
        _event=ev,
        _start=start,
        naive_variance=naive,
        robust_score_test=rscore,
    )


_VAR_BLOWUP = 1e10


def _robust(
    data: pd.DataFrame,
    cluster: str | None,
    prep: _coxcore.CoxData,
    beta: FloatArray,
    naive: FloatArray,
    w: FloatArray | None,
) -> tuple[FloatArray, float]:
    n = prep.x.shape[0]
    codes = np.arange(n) if cluster is None else as_groups(data[cluster], n, cluster)[1]
    return robust_variance(prep, beta, naive, np.ones(n) if w is None else w, codes)


def _wald(beta: FloatArray, var: FloatArray) -> float:
    """beta' V^-1 beta with the robust V (R ``coxph.wtest``); NaN when V is not finite."""
    if not np.isfinite(var).all():
        return float("nan")
    return float(beta @ np.linalg.solve(var, beta))


def _fit(
    prep: _coxcore.CoxData,
    beta0: FloatArray,
    start: tuple[float, FloatArray, FloatArray],
    names: Sequence[str],
) -> tuple[FloatArray, float, FloatArray, FloatArray, int, bool]:
    """Newton–Raphson, then R ``coxph.fit``'s check for coefficients that diverge.

    The information is full rank at beta = 0 (checked before), so a singular information
    during or after the iterations means a coefficient runs to +-infinity (monotone
    likelihood, e.g. a covariate level without events); so does a variance 1e10 times its
    value at beta = 0 (the information of that coefficient vanished). As R, which warns
    "Loglik converged before variable ...; coefficient may be infinite", the fit is returned with
    ``converged=False``, an :class:`OutcomesWarning` coded ``monotone_likelihood``, and no
    standard error (NaN) for the diverging coefficients.
    """
    p = beta0.shape[0]
    beta, ll, u, info, iters, conv = _coxcore.fit_newton(prep, beta0, start=start)
    infinite = np.zeros(p, dtype=bool)
    try:
        var = np.asarray(np.linalg.inv(info), dtype=np.float64)
        # R coxph.fit: |u' V| > eps and > sqrt(eps) |beta|, eps = 1e-9
        infs = np.abs(u @ var)
        infinite = (infs > 1e-9) & (infs > np.sqrt(1e-9) * np.abs(beta))
    except np.linalg.LinAlgError:
        var, infinite = _inverse_of_the_rest(info, np.diag(start[2]))
    diag = np.diag(var)
    # or the variance exploded: SE more than 1e5 times its value at beta = 0
    infinite |= ~np.isfinite(diag) | (diag <= 0) | (diag * np.diag(start[2]) > _VAR_BLOWUP)
    if infinite.any():
        var[infinite, :] = np.nan
        var[:, infinite] = np.nan
        which = ", ".join(n for n, f in zip(names, infinite, strict=True) if f)
        warnings.warn(
            OutcomesWarning(
                f"Cox fit: the likelihood is monotone in {which} (no events in a level?); "
                "the coefficient diverges to +-infinity and the fit did not converge",
                "monotone_likelihood",
            ),
            stacklevel=3,
        )
        conv = False
    return beta, ll, info, var, iters, conv


def _inverse_of_the_rest(info: FloatArray, info0: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Variance and diverging mask when the information is exactly singular at the end.

    A coefficient running to +-infinity takes its information to 0 (exp underflows: the
    matrix is singular in floating point, not only near it). Those coefficients (diagonal
    below 1e-10 of its value at beta = 0) get no variance; the others get the inverse of
    their own block, which is what the full inverse's block tends to as the information of
    the diverging ones vanishes (their cross terms vanish with it).
    """
    p = info.shape[0]
    keep = np.diag(info) > 1e-10 * info0
    var = np.full((p, p), np.nan)
    if keep.any():
        try:
            var[np.ix_(keep, keep)] = np.linalg.inv(info[np.ix_(keep, keep)])
        except np.linalg.LinAlgError:
            keep[:] = False
    return var, ~keep


def _rank(xc: FloatArray) -> int:
    """Numerical rank of centred covariates, from their (small) cross-product matrix."""
    gram = xc.T @ xc
    scale = np.sqrt(np.maximum(np.diag(gram), 1e-300))
    eig = np.linalg.eigvalsh(gram / np.outer(scale, scale))
    return int((eig > 1e-10 * max(1.0, float(eig.max()))).sum())
