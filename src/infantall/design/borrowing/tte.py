"""Time-to-event MAP prior: piecewise-constant log-hazards borrowed from historical EFS.

**Data.** Each historical study reports event-free survival ``S(h)`` at one or more horizons
``h`` with its number of patients ``n`` or the standard error ``se`` of ``S(h)``. Two stated
rules turn that into piecewise-exponential data (events ``d`` and exposure ``E`` in each user
interval ``[c_j, c_{j+1})``, the last one open):

1. *Hazard between reported horizons*: constant between consecutive horizons of a study
   (``S(0) = 1``), ``lambda_m = -log(S_m / S_{m-1}) / (h_m - h_{m-1})``, the only assumption
   that turns landmarks into hazards; nothing is extrapolated past a study's last horizon
   (intervals beyond it get no data from that study).
2. *Effective cohort*: on the segment ending at ``h_m`` the study counts as ``n_m`` patients
   followed without censoring, ``n_m = S_m (1 - S_m) / se_m^2`` when an SE is given (the
   binomial cohort of the same precision, as in the binary MAP prior) else ``n``. Then a
   piece ``[u, v)`` of the segment holds ``n_m (S(u) - S(v))`` events over exposure
   ``n_m int_u^v S``, so that ``d / E`` is the study's hazard exactly.

**Model** (the Poisson form of the piecewise-exponential likelihood; e.g. RBesT ``gMAP`` with
``family = poisson`` and log-exposure offset), for each interval ``j`` separately::

    d_ij ~ Poisson(E_ij exp(theta_ij)),  theta_ij ~ Normal(mu_j, tau_j^2),
    mu_j ~ Normal(m0, s0^2),             tau_j ~ HalfNormal | HalfCauchy | HalfT

Intervals are independent a priori (one ``(mu_j, tau_j)`` each), so the MAP prior is a product
over intervals, which is what the conjugate per-interval Gamma update of
:mod:`infantall.design.tte_posterior` needs. Each ``(mu_j, tau_j)`` posterior is computed by
the same deterministic quadrature as the binary prior (:func:`.prior.posterior_grid`, adaptive
Gauss-Hermite for the Poisson-lognormal study likelihoods); the predictive log-hazard is a
normal mixture, approximated by a Gamma mixture for the hazard (:mod:`.gamma_mixture`), with
ESS in events (moment, ELIR) and a robust version.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, special

from infantall.design.borrowing._quad import log_marginal_likelihood_poisson
from infantall.design.borrowing.prior import NormalPrior, TauPrior, posterior_grid
from infantall.errors import InvalidInputError

__all__ = ["IntervalMap", "TteMapPrior", "TteStudies", "tte_map_prior"]

FloatArray = NDArray[np.float64]
_PROBS = (0.025, 0.5, 0.975)


@dataclass(frozen=True, slots=True)
class TteStudies:
    """Historical EFS at horizons: one row per (study, horizon), validated by :meth:`of`."""

    study: tuple[str, ...]
    horizon: tuple[float, ...]
    efs: tuple[float, ...]
    n_effective: tuple[float, ...]
    sources: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls,
        study: Sequence[str],
        horizon: Sequence[float],
        efs: Sequence[float],
        n: Sequence[float | None],
        se: Sequence[float | None] | None = None,
        sources: Sequence[str] | None = None,
    ) -> TteStudies:
        """Validated rows; ``n_effective`` from ``se`` where given, else ``n`` (module rule 2)."""
        names = [str(s) for s in study]
        se_list = list(se) if se is not None else [None] * len(names)
        if not len(names) == len(horizon) == len(efs) == len(n) == len(se_list):
            raise InvalidInputError("data", "columns differ in length", "bad_shape")
        n_eff = [
            _effective_n(nm, float(h), float(s), ni, si)
            for nm, h, s, ni, si in zip(names, horizon, efs, n, se_list, strict=True)
        ]
        out = cls(
            tuple(names),
            tuple(float(h) for h in horizon),
            tuple(float(s) for s in efs),
            tuple(n_eff),
            None if sources is None else tuple(sources),
        )
        out._check_curves()
        return out

    def _check_curves(self) -> None:
        names = self.names()
        if len(names) < 2:
            raise InvalidInputError(
                "data",
                "a MAP prior needs at least 2 historical studies (between-trial heterogeneity "
                "cannot be learnt from one)",
                "too_few_studies",
            )
        for name in names:
            h, s, _ = self.curve(name)
            if np.any(np.diff(h) == 0):
                raise InvalidInputError(
                    f"data[{name}].horizon", "a horizon is given twice", "duplicate_horizon"
                )
            if np.any(np.diff(s) > 0):
                raise InvalidInputError(
                    f"data[{name}].efs", "EFS must not rise with the horizon", "efs_increasing"
                )

    def names(self) -> list[str]:
        return list(dict.fromkeys(self.study))

    def curve(self, name: str) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Horizons (sorted), EFS and effective n of one study."""
        idx = [i for i, s in enumerate(self.study) if s == name]
        h = np.asarray([self.horizon[i] for i in idx])
        order = np.argsort(h)
        s = np.asarray([self.efs[i] for i in idx])[order]
        n = np.asarray([self.n_effective[i] for i in idx])[order]
        return h[order], s, n

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> TteStudies:
        """From a table ``study,horizon,efs`` with ``n`` and/or ``se`` (a ``--data`` CSV)."""
        missing = {"study", "horizon", "efs"} - set(frame.columns)
        if missing or not ({"n", "se"} & set(frame.columns)):
            raise InvalidInputError(
                "data",
                f"need columns study,horizon,efs and n or se; missing {sorted(missing) or 'n/se'}",
                "missing_columns",
            )
        cols: dict[str, list[float | None]] = {}
        for col in ("horizon", "efs", "n", "se"):
            if col not in frame.columns:
                cols[col] = [None] * len(frame)
                continue
            vals = pd.to_numeric(frame[col], errors="coerce")
            bad = frame.loc[vals.isna() & frame[col].notna(), "study"].astype(str).tolist()
            if bad or (col in ("horizon", "efs") and vals.isna().any()):
                who = bad[0] if bad else str(frame.loc[vals.isna(), "study"].iloc[0])
                raise InvalidInputError(
                    f"data[{who}].{col}", "is missing or not a number", "not_a_number"
                )
            cols[col] = [None if pd.isna(v) else float(v) for v in vals]
        return cls.of(
            frame["study"].astype(str).tolist(),
            [float(v) for v in cols["horizon"] if v is not None],
            [float(v) for v in cols["efs"] if v is not None],
            cols["n"],
            cols["se"],
        )


def _effective_n(name: str, h: float, s: float, n: float | None, se: float | None) -> float:
    field = f"data[{name}]"
    if not (math.isfinite(h) and h > 0):
        raise InvalidInputError(f"{field}.horizon", "must be a positive time", "out_of_range")
    if not (math.isfinite(s) and 0 < s <= 1):
        raise InvalidInputError(
            f"{field}.efs", f"{s:g} is not a proportion in (0, 1] (write 0.36, not 36)", "bad_efs"
        )
    if se is not None and math.isfinite(se):
        if se <= 0:
            raise InvalidInputError(f"{field}.se", "must be > 0", "out_of_range")
        if s < 1:
            return s * (1 - s) / se**2
    if n is None or not math.isfinite(n):
        raise InvalidInputError(f"{field}.n", "needs n or an se", "missing_n")
    if n <= 0:
        raise InvalidInputError(f"{field}.n", "must be > 0", "out_of_range")
    return float(n)


def _check_intervals(cuts: Sequence[float]) -> FloatArray:
    c = np.asarray(cuts, dtype=float)
    if c.ndim != 1 or c.size < 1 or c[0] != 0.0:
        raise InvalidInputError("intervals", "must start at 0 (interval starts)", "invalid_cuts")
    if not np.all(np.isfinite(c)) or np.any(np.diff(c) <= 0):
        raise InvalidInputError("intervals", "must be strictly increasing", "invalid_cuts")
    return c


def interval_data(studies: TteStudies, cuts: Sequence[float]) -> tuple[FloatArray, FloatArray]:
    """Events ``d`` and exposure ``E``, shape ``(studies, intervals)`` (module rules 1-2)."""
    c = _check_intervals(cuts)
    ends = np.append(c[1:], np.inf)
    names = studies.names()
    d = np.zeros((len(names), c.size))
    e = np.zeros((len(names), c.size))
    for i, name in enumerate(names):
        h, s, n = studies.curve(name)
        starts = np.concatenate([[0.0], h[:-1]])
        s0 = np.concatenate([[1.0], s[:-1]])
        lam = -np.log(s / s0) / (h - starts)
        for m in range(h.size):
            lo = np.maximum(c, starts[m])
            hi = np.minimum(ends, h[m])
            on = hi > lo
            s_lo = s0[m] * np.exp(-lam[m] * (lo - starts[m]))
            s_hi = s0[m] * np.exp(-lam[m] * (hi - starts[m]))
            d[i] += np.where(on, n[m] * (s_lo - s_hi), 0.0)
            expo = (s_lo - s_hi) / lam[m] if lam[m] > 0 else s_lo * (hi - lo)
            e[i] += np.where(on, n[m] * expo, 0.0)
    return d, e


@dataclass(frozen=True, slots=True)
class IntervalMap:
    """Predictive log-hazard of one interval: ``sum_g weight_g Normal(mu_g, spread_g^2)``."""

    start: float
    end: float | None
    mu: FloatArray
    spread: FloatArray
    weight: FloatArray
    tau: FloatArray

    def pdf_log_hazard(self, t: FloatArray) -> FloatArray:
        out = np.empty(t.size)
        step = max(1, 4_000_000 // self.weight.size)
        for i in range(0, t.size, step):
            z = (t[i : i + step, None] - self.mu) / self.spread
            out[i : i + step] = np.exp(-0.5 * z * z) @ (self.weight / self.spread)
        return out / math.sqrt(2 * math.pi)

    def cdf_log_hazard(self, t: float) -> float:
        return float(special.ndtr((t - self.mu) / self.spread) @ self.weight)

    def log_quantile(self, q: float, xtol: float = 1e-12) -> float:
        """The ``q`` quantile of the log hazard (exact mixture CDF)."""
        lo, hi = float(self.mu.min() - 60), float(self.mu.max() + 60)
        return float(optimize.brentq(lambda x: self.cdf_log_hazard(x) - q, lo, hi, xtol=xtol))

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the hazard."""
        return math.exp(self.log_quantile(q))

    def log_range(self, tail: float = 1e-6) -> tuple[float, float]:
        """Log-hazard quantiles ``tail`` and ``1 - tail``: the range a Gamma mixture is fitted on
        (the lognormal components with large ``tau`` have tails no Gamma follows, and their
        far tail would dominate the Gamma's moment equations)."""
        return self.log_quantile(tail, 1e-4), self.log_quantile(1 - tail, 1e-4)

    def to_dict(self) -> dict[str, Any]:
        order = np.argsort(self.tau)
        tau_med = float(np.interp(0.5, np.cumsum(self.weight[order]), self.tau[order]))
        lm = float(self.weight @ self.mu)
        lsd = math.sqrt(float(self.weight @ (self.spread**2 + (self.mu - lm) ** 2)))
        return {
            "start": self.start,
            "end": self.end,
            "mean_hazard": float(self.weight @ np.exp(self.mu + self.spread**2 / 2)),
            "quantiles": {f"{q:g}": self.quantile(q) for q in _PROBS},
            "log_hazard_mean": lm,
            "log_hazard_sd": lsd,
            "tau_median": tau_med,
        }


@dataclass(frozen=True, slots=True)
class TteMapPrior:
    """The MAP prior of a new trial's piecewise-constant hazards (one entry per interval)."""

    cuts: tuple[float, ...]
    data: TteStudies
    events: FloatArray
    exposure: FloatArray
    intervals: tuple[IntervalMap, ...]
    mu_prior: NormalPrior
    tau_prior: TauPrior


def tte_map_prior(
    data: TteStudies,
    cuts: Sequence[float],
    mu_prior: NormalPrior | None = None,
    tau_prior: TauPrior | None = None,
) -> TteMapPrior:
    """MAP prior of the log-hazard in each interval (model in the module docstring).

    Defaults: ``mu_j ~ Normal(0, 2^2)`` (hazards per unit of time between about 0.02 and 50),
    ``tau_j ~ HalfNormal(1)``. Every interval needs exposure from at least 2 studies.
    """
    mu_prior = mu_prior or NormalPrior(0.0, 2.0)
    tau_prior = tau_prior or TauPrior("halfnormal", 1.0)
    c = _check_intervals(cuts)
    d, e = interval_data(data, c.tolist())
    out = []
    for j in range(c.size):
        end = None if j == c.size - 1 else float(c[j + 1])
        seen = e[:, j] > 0
        if seen.sum() < 2:
            raise InvalidInputError(
                "intervals",
                f"the interval from {c[j]:g} has data from {int(seen.sum())} study(ies); a MAP "
                "prior needs 2 (shorten the intervals to the studies' horizons)",
                "too_few_studies",
            )
        dj, ej = d[seen, j], e[seen, j]

        def loglik(
            mu: FloatArray, tau: FloatArray, dj: FloatArray = dj, ej: FloatArray = ej
        ) -> FloatArray:
            return np.asarray(log_marginal_likelihood_poisson(dj, ej, mu, tau).sum(axis=1))

        mu, spread, w, tau = posterior_grid(loglik, mu_prior, tau_prior)
        out.append(IntervalMap(float(c[j]), end, mu, spread, w, tau))
    return TteMapPrior(tuple(float(v) for v in c), data, d, e, tuple(out), mu_prior, tau_prior)
