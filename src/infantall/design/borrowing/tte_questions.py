""" "What time-to-event prior does the history give?" (:func:`tte_borrowing_prior`).

Builds the piecewise log-hazard MAP prior (:mod:`.tte`), approximates each interval's
predictive hazard by a Gamma mixture (:mod:`.gamma_mixture`; conjugate with the
piecewise-exponential posterior of :mod:`infantall.design.tte_posterior`), states the ESS in
events by moments and by ELIR, and robustifies each interval when asked. Studies come from a
``study,horizon,efs,n`` (or ``se``) table, or from the evidence base: every reported horizon
of the endpoint for the population, with provenance; ``n_rule="n"`` ignores reported SEs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import interpolate

from infantall.design.borrowing.gamma_mixture import (
    GammaMixture,
    GammaMixtureFit,
    fit_gamma_mixture,
    gamma_ess_elir,
    gamma_ess_moment,
    robustify_gamma,
)
from infantall.design.borrowing.prior import NormalPrior, TauPrior, parse_mu_prior, parse_tau_prior
from infantall.design.borrowing.questions import norm_selector, read_data_csv, tau_text
from infantall.design.borrowing.tte import IntervalMap, TteMapPrior, TteStudies, tte_map_prior
from infantall.errors import InvalidInputError

__all__ = [
    "TteBorrowingPrior",
    "parse_intervals",
    "tte_borrowing_prior",
    "tte_borrowing_prior_from_options",
    "tte_studies_from_evidence",
]

FloatArray = NDArray[np.float64]
_PDF_NODES = 500


def parse_intervals(text: str, field: str = "--intervals") -> list[float]:
    """``"0,0.5,1,2"`` -> interval starts (the last interval is open)."""
    try:
        cuts = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidInputError(field, f"{text!r} is not like 0,0.5,1,2", "invalid_cuts") from None
    if not cuts or cuts[0] != 0 or any(b <= a for a, b in itertools.pairwise(cuts)):
        raise InvalidInputError(
            field, "interval starts must begin at 0 and increase, e.g. 0,0.5,1,2", "invalid_cuts"
        )
    return cuts


def tte_studies_from_evidence(
    frame: pd.DataFrame,
    population: str,
    endpoint: str,
    *,
    trials: Sequence[str] | None = None,
    n_rule: str = "se",
) -> tuple[TteStudies, list[dict[str, Any]]]:
    """Every reported horizon of ``endpoint`` for ``population``, per trial, with sources.

    A row needs a horizon, an estimate and an N (or an SE with ``n_rule="se"``); a trial with
    no usable row is listed with ``used: false`` (an error when the trial was named).
    """
    if n_rule not in ("se", "n"):
        raise InvalidInputError("n_rule", "must be 'se' or 'n'", "unknown_rule")
    need = {"trial_id", "population", "endpoint", "horizon_years", "estimate_pct", "n"}
    if need - set(frame.columns):
        raise InvalidInputError("evidence", f"missing columns {sorted(need)}", "missing_columns")
    rows = frame[
        (frame["population"].astype(str).map(norm_selector) == norm_selector(population))
        & (frame["endpoint"].astype(str).map(norm_selector) == norm_selector(endpoint))
    ]
    wanted = sorted(set(rows["trial_id"].astype(str))) if trials is None else list(trials)
    if not wanted:
        raise InvalidInputError(
            "population",
            f"no trial reports {endpoint!r} for {population!r} in the evidence base",
            "unknown_population",
        )
    cols: dict[str, list[Any]] = {k: [] for k in ("study", "h", "s", "n", "se", "src")}
    sources: list[dict[str, Any]] = []
    for trial in wanted:
        used = _trial_rows(rows, trial, n_rule)
        if used.empty:
            if trials is not None:
                raise InvalidInputError(
                    "trial",
                    f"{trial} reports no {endpoint!r} for {population!r} at a horizon with N",
                    "unknown_trial",
                )
            sources.append({"trial": trial, "used": False, "reason": "no horizon with N or SE"})
            continue
        for _, r in used.iterrows():
            src = f"{r.get('source_seed', '')} {r.get('source_location', '')}".strip()
            se = _float(r.get("se_pct")) if n_rule == "se" else None
            cols["study"].append(trial)
            cols["h"].append(float(r["horizon_years"]))
            cols["s"].append(float(r["estimate_pct"]) / 100)
            cols["n"].append(_float(r["n"]))
            cols["se"].append(None if se is None else se / 100)
            cols["src"].append(src)
            sources.append(
                {
                    "trial": trial,
                    "used": True,
                    "horizon_years": float(r["horizon_years"]),
                    "reported_pct": float(r["estimate_pct"]),
                    "n": _float(r["n"]),
                    "se_pct": se,
                    "source": src,
                    "quote": str(r.get("quote", "")),
                }
            )
    studies = TteStudies.of(cols["study"], cols["h"], cols["s"], cols["n"], cols["se"], cols["src"])
    return studies, sources


def _float(value: Any) -> float | None:
    return None if value is None or bool(pd.isna(value)) else float(value)


def _trial_rows(rows: pd.DataFrame, trial: str, n_rule: str) -> pd.DataFrame:
    mine = rows[rows["trial_id"].astype(str).map(norm_selector) == norm_selector(trial)]
    h = pd.to_numeric(mine["horizon_years"], errors="coerce")
    s = pd.to_numeric(mine["estimate_pct"], errors="coerce")
    n = pd.to_numeric(mine["n"], errors="coerce").astype(float)
    se = (
        pd.to_numeric(mine["se_pct"], errors="coerce").astype(float)
        if n_rule == "se" and "se_pct" in mine.columns
        else pd.Series(np.nan, index=mine.index)
    )
    ok = h.notna() & (h > 0) & s.notna() & (s > 0) & (n.notna() | se.notna())
    # one row per horizon: the first reported (the evidence base may repeat a number)
    return mine[ok].assign(_h=h[ok]).drop_duplicates("_h").sort_values("_h")


@dataclass(frozen=True, slots=True)
class TteBorrowingPrior:
    """Per interval: the MAP prior, its Gamma mixture, ESS in events, and the robust prior."""

    map: TteMapPrior
    fits: tuple[GammaMixtureFit, ...]
    ess: tuple[dict[str, float], ...]
    robust: tuple[GammaMixture, ...] | None
    robust_weight: float | None
    robust_ess: tuple[dict[str, float], ...] | None
    sources: tuple[dict[str, Any], ...] | None

    @property
    def prior(self) -> tuple[GammaMixture, ...]:
        """One Gamma mixture per interval (the robust ones when built): the control prior of
        :func:`infantall.design.tte_posterior.piecewise_mixture_posterior`."""
        return self.robust if self.robust is not None else tuple(f.mixture for f in self.fits)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per interval: MAP median and 95 % interval of the hazard, ESS."""
        rows = []
        for j, iv in enumerate(self.map.intervals):
            d = iv.to_dict()
            row: dict[str, Any] = {"start": d["start"], "end": d["end"]}
            row.update({f"hazard_q{k}": v for k, v in d["quantiles"].items()})
            row.update({f"ess_{k}": v for k, v in self.ess[j].items()})
            if self.robust_ess is not None:
                row.update({f"robust_ess_{k}": v for k, v in self.robust_ess[j].items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON (``endpoint_type: "tte"``); ``ess`` totals events over intervals."""
        by_interval = []
        for j, iv in enumerate(self.map.intervals):
            item: dict[str, Any] = {
                "map": iv.to_dict(),
                "mixture": self.fits[j].mixture.components(),
                "mixture_total_variation": self.fits[j].total_variation,
                "ess": dict(self.ess[j]),
                "studies": [
                    {"study": s, "events": float(self.map.events[i, j]), "exposure": e}
                    for i, (s, e) in enumerate(
                        zip(self.map.data.names(), self.map.exposure[:, j].tolist(), strict=True)
                    )
                    if e > 0
                ],
            }
            if self.robust is not None and self.robust_ess is not None:
                item["robust"] = self.robust[j].components()
                item["robust_ess"] = dict(self.robust_ess[j])
            by_interval.append(item)
        out: dict[str, Any] = {
            "endpoint_type": "tte",
            "cuts": list(self.map.cuts),
            "intervals": by_interval,
            "ess": {k: float(sum(e[k] for e in self.ess)) for k in ("moment", "elir")},
            "model": {
                "mu_prior": f"normal:{self.map.mu_prior.mean:g}:{self.map.mu_prior.sd:g}",
                "tau_prior": tau_text(self.map.tau_prior),
                "hazard_between_horizons": "constant (no extrapolation past a study's last)",
                "n_effective": "S(1-S)/se^2 where an SE is given, else n",
            },
        }
        if self.robust is not None and self.robust_ess is not None:
            out["robust_weight"] = self.robust_weight
            out["robust_ess"] = {
                k: float(sum(e[k] for e in self.robust_ess)) for k in ("moment", "elir")
            }
        if self.sources is not None:
            out["sources"] = [dict(s) for s in self.sources]
        return out


def _smooth_pdf(iv: IntervalMap) -> tuple[Any, float, float]:
    """The interval's log-hazard density on its range, by a cubic spline of the log density
    through ``_PDF_NODES`` exact values (the exact density costs one pass over the grid)."""
    lo, hi = iv.log_range()
    nodes = np.linspace(lo, hi, _PDF_NODES)
    spline = interpolate.CubicSpline(nodes, np.log(np.maximum(iv.pdf_log_hazard(nodes), 1e-300)))

    def pdf(t: FloatArray) -> FloatArray:
        return np.asarray(np.exp(spline(t)), dtype=float)

    return pdf, lo, hi


def _gamma_ess(mix: GammaMixture) -> dict[str, float]:
    return {"moment": gamma_ess_moment(mix), "elir": gamma_ess_elir(mix)}


def tte_borrowing_prior(
    data: TteStudies,
    cuts: Sequence[float],
    *,
    mu_prior: NormalPrior | None = None,
    tau_prior: TauPrior | None = None,
    robust_weight: float | None = None,
    robust_events: float = 1.0,
    max_components: int = 6,
    sources: Sequence[dict[str, Any]] | None = None,
) -> TteBorrowingPrior:
    """MAP prior of piecewise hazards, Gamma mixtures, ESS in events, robust prior.

    ``robust_weight`` is the weight ``w`` of the informative part; each interval's vague
    component ``Gamma(robust_events, robust_events / MAP mean)`` gets ``1 - w``.
    """
    mp = tte_map_prior(data, cuts, mu_prior, tau_prior)
    fits = []
    for iv in mp.intervals:
        pdf, lo, hi = _smooth_pdf(iv)
        fits.append(fit_gamma_mixture(pdf, lo, hi, max_components=max_components))
    robust = None
    if robust_weight is not None:
        robust = tuple(
            robustify_gamma(f.mixture, robust_weight, events=robust_events) for f in fits
        )
    return TteBorrowingPrior(
        mp,
        tuple(fits),
        tuple(_gamma_ess(f.mixture) for f in fits),
        robust,
        robust_weight,
        None if robust is None else tuple(_gamma_ess(r) for r in robust),
        None if sources is None else tuple(sources),
    )


def tte_borrowing_prior_from_options(
    *,
    data: Path | None,
    intervals: str,
    trials: Sequence[str] | None,
    population: str,
    endpoint: str,
    n_rule: str = "se",
    mu_prior: str = "normal:0:2",
    tau_prior: str = "halfnormal:1",
    robust_weight: float | None = None,
    evidence: pd.DataFrame | None = None,
) -> TteBorrowingPrior:
    """:func:`tte_borrowing_prior` from the CLI's text options."""
    mu, tau = parse_mu_prior(mu_prior), parse_tau_prior(tau_prior)
    cuts = parse_intervals(intervals)
    if data is not None:
        if trials:
            raise InvalidInputError("--data", "give --data or --trial, not both", "conflict")
        frame = read_data_csv(data)
        return tte_borrowing_prior(
            TteStudies.from_frame(frame),
            cuts,
            mu_prior=mu,
            tau_prior=tau,
            robust_weight=robust_weight,
        )
    if evidence is None:
        raise InvalidInputError("--data", "give --data FILE.csv or evidence records", "missing")
    studies, sources = tte_studies_from_evidence(
        evidence, population, endpoint, trials=list(trials) if trials else None, n_rule=n_rule
    )
    return tte_borrowing_prior(
        studies, cuts, mu_prior=mu, tau_prior=tau, robust_weight=robust_weight, sources=sources
    )
