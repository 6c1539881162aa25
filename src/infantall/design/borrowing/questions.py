"""One function per question: "what prior does the history give?" (:func:`borrowing_prior`).

It builds the MAP prior (:mod:`.prior`), its Beta-mixture approximation (:mod:`.mixture`),
the ESS by two methods (:mod:`.ess`) and, when asked, the robust prior; the historical
studies come from a ``study,events,n`` table or from the evidence base with provenance
(:func:`studies_from_evidence`). The CLI (``infantall design prior``) and the report's
"Borrowing from history" section format the one result.

Evidence rule (documented, overridable): a trial reported as a Kaplan-Meier percentage ``S``
with standard error ``se`` contributes ``n_eff = S (1 - S) / se^2`` patients (the binomial
sample size with the same precision), else its number of patients ``N`` (``n_rule="n"``
forces N always); its events are ``S * n_eff``. A horizon not reported is converted only by
the named ``conversion`` of :func:`~infantall.design.accrual.historical_rate` ("bound": the
later value, a lower bound; "constant-hazard"), and each source says which was used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from infantall.design.accrual import Conversion, historical_rate
from infantall.design.borrowing.ess import ess_elir, ess_moment
from infantall.design.borrowing.mixture import BetaMixture, MixtureFit, fit_beta_mixture, robustify
from infantall.design.borrowing.prior import (
    HistoricalStudies,
    MapPrior,
    NormalPrior,
    TauPrior,
    map_prior,
    parse_mu_prior,
    parse_tau_prior,
)
from infantall.errors import InvalidInputError

__all__ = [
    "BorrowingPrior",
    "borrowing_prior",
    "borrowing_prior_from_options",
    "norm_selector",
    "read_data_csv",
    "studies_from_evidence",
    "tau_text",
]

NRule = Literal["se", "n"]


def norm_selector(text: str) -> str:
    """An evidence selector (trial, population, endpoint) in its canonical spelling."""
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def studies_from_evidence(
    frame: pd.DataFrame,
    population: str,
    endpoint: str,
    horizon_years: float,
    *,
    trials: Sequence[str] | None = None,
    conversion: Conversion = "bound",
    n_rule: NRule = "se",
) -> tuple[HistoricalStudies, list[dict[str, Any]]]:
    """Historical studies and their sources from the evidence base.

    ``trials=None`` takes every trial reporting ``endpoint`` for ``population`` at or after
    the horizon; trials that cannot contribute (no N, only earlier horizons) are listed in
    the sources with ``used: false`` and the reason. A named trial that cannot contribute is
    an error.
    """
    if n_rule not in ("se", "n"):
        raise InvalidInputError("n_rule", "must be 'se' or 'n'", "unknown_rule")
    # historical_rate's accrual helper cannot take pandas' NA: give it float NaN instead
    frame = frame.assign(
        **{
            c: pd.to_numeric(frame[c], errors="coerce").astype(float)
            for c in ("accrual_start", "accrual_end", "n")
            if c in frame.columns
        }
    )
    rows = frame[
        (frame["population"].astype(str).map(norm_selector) == norm_selector(population))
        & (frame["endpoint"].astype(str).map(norm_selector) == norm_selector(endpoint))
    ]
    if trials is None:
        if rows.empty:
            raise InvalidInputError(
                "population",
                f"no trial reports {endpoint!r} for {population!r} in the evidence base",
                "unknown_population",
            )
        wanted = sorted(set(rows["trial_id"].astype(str)))
    else:
        wanted = list(trials)
    names: list[str] = []
    events: list[float] = []
    ns: list[float] = []
    sources: list[dict[str, Any]] = []
    for trial in wanted:
        try:
            hist = historical_rate(
                frame, trial, population, endpoint, horizon_years, conversion=conversion
            )
            if hist.n is None:
                raise InvalidInputError("trial", f"{trial} reports no N", "missing_n")
        except InvalidInputError as exc:
            if trials is not None:
                raise
            sources.append({"trial": trial, "used": False, "reason": exc.reason})
            continue
        se = _reported_se(rows, hist.trial_id, hist.reported_horizon_years, hist.reported_pct)
        p = hist.rate
        if n_rule == "se" and se is not None and se > 0:
            n_eff, how = p * (1 - p) / (se / 100) ** 2, "from the reported SE"
        else:
            n_eff, how = float(hist.n), "the trial's N"
        names.append(hist.trial_id)
        events.append(p * n_eff)
        ns.append(n_eff)
        sources.append(
            {
                "trial": hist.trial_id,
                "used": True,
                "study": hist.study,
                "rate": p,
                "reported_pct": hist.reported_pct,
                "reported_horizon_years": hist.reported_horizon_years,
                "conversion": hist.conversion,
                "n": hist.n,
                "n_effective": n_eff,
                "n_effective_rule": how,
                "events_effective": p * n_eff,
                "source": hist.source,
                "quote": hist.quote,
            }
        )
    return HistoricalStudies.of(
        names, events, ns, [s["source"] for s in sources if s["used"]]
    ), sources


def _reported_se(rows: pd.DataFrame, trial: str, horizon: float, pct: float) -> float | None:
    if "se_pct" not in rows.columns:
        return None
    hit = rows[
        (rows["trial_id"].astype(str) == trial)
        & np.isclose(rows["horizon_years"].astype(float), horizon)
        & np.isclose(rows["estimate_pct"].astype(float), pct)
    ]
    vals = pd.to_numeric(hit["se_pct"], errors="coerce").dropna()
    return None if vals.empty else float(vals.iloc[0])


@dataclass(frozen=True, slots=True)
class BorrowingPrior:
    """A MAP prior, its Beta-mixture approximation, its ESS and (optionally) its robust form."""

    map: MapPrior
    fit: MixtureFit
    ess: dict[str, float | None]
    robust: BetaMixture | None
    robust_weight: float | None
    robust_ess: dict[str, float | None] | None
    sources: tuple[dict[str, Any], ...] | None

    @property
    def prior(self) -> BetaMixture:
        """The prior a design or an analysis should use: the robust one when built."""
        return self.robust if self.robust is not None else self.fit.mixture

    @property
    def summary(self) -> pd.DataFrame:
        """One row per prior (MAP, mixture, robust): mean, sd and ESS."""
        rows: list[dict[str, Any]] = [{"prior": "MAP (exact)", **self.map.summary.iloc[0]}]
        mix = self.fit.mixture
        rows.append({"prior": "mixture", "mean": mix.mean(), "sd": mix.sd(), **self.ess})
        if self.robust is not None and self.robust_ess is not None:
            rows.append(
                {
                    "prior": "robust",
                    "mean": self.robust.mean(),
                    "sd": self.robust.sd(),
                    **self.robust_ess,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON: ``map``, ``mixture``, ``ess``, and ``robust``/``sources`` if any."""
        out: dict[str, Any] = {
            "map": self.map.to_dict(),
            "mixture": self.fit.mixture.components(),
            "mixture_total_variation": self.fit.total_variation,
            "ess": dict(self.ess),
            "studies": [
                {"study": s, "events": e, "n": n}
                for s, e, n in zip(
                    self.map.data.study, self.map.data.events, self.map.data.n, strict=True
                )
            ],
            "model": {
                "mu_prior": f"normal:{self.map.mu_prior.mean:g}:{self.map.mu_prior.sd:g}",
                "tau_prior": tau_text(self.map.tau_prior),
            },
        }
        if self.robust is not None:
            out["robust"] = self.robust.components()
            out["robust_weight"] = self.robust_weight
            out["robust_ess"] = dict(self.robust_ess or {})
        if self.sources is not None:
            out["sources"] = [dict(s) for s in self.sources]
        return out


def read_data_csv(data: Path) -> pd.DataFrame:
    """The ``--data`` CSV of historical studies, or a coded error naming ``--data``."""
    if not data.is_file():
        raise InvalidInputError("--data", f"{data}: no such file", "file_not_found")
    try:
        return pd.read_csv(data)
    except (ValueError, OSError) as exc:
        raise InvalidInputError("--data", f"{data}: not a CSV ({exc})", "bad_csv") from None


def tau_text(t: TauPrior) -> str:
    """A tau prior as the CLI writes it (``halfnormal:S``, ``halft:DF:S``, ...)."""
    return f"halft:{t.df:g}:{t.scale:g}" if t.kind == "halft" else f"{t.kind}:{t.scale:g}"


def _ess(mix: BetaMixture) -> dict[str, float | None]:
    elir = ess_elir(mix)
    return {"moment": ess_moment(mix), "elir": elir if math.isfinite(elir) else None}


def borrowing_prior(
    data: HistoricalStudies,
    *,
    mu_prior: NormalPrior | None = None,
    tau_prior: TauPrior | None = None,
    robust_weight: float | None = None,
    robust_mean: float = 0.5,
    max_components: int = 4,
    sources: Sequence[dict[str, Any]] | None = None,
) -> BorrowingPrior:
    """MAP prior, mixture approximation, ESS and robust prior of historical studies.

    ``robust_weight`` is the weight ``w`` of the informative part; the vague Beta(1, 1)-type
    component (mean ``robust_mean``, worth 2 observations) gets ``1 - w``.
    """
    mp = map_prior(data, mu_prior, tau_prior)
    fit = fit_beta_mixture(mp.pdf, max_components=max_components)
    robust = (
        None if robust_weight is None else robustify(fit.mixture, robust_weight, mean=robust_mean)
    )
    return BorrowingPrior(
        mp,
        fit,
        _ess(fit.mixture),
        robust,
        robust_weight,
        None if robust is None else _ess(robust),
        None if sources is None else tuple(sources),
    )


def borrowing_prior_from_options(
    *,
    data: Path | None,
    trials: Sequence[str] | None,
    population: str,
    endpoint: str,
    horizon_years: float,
    conversion: str = "bound",
    n_rule: str = "se",
    mu_prior: str = "normal:0:2",
    tau_prior: str = "halfnormal:1",
    robust_weight: float | None = None,
    evidence: pd.DataFrame | None = None,
) -> BorrowingPrior:
    """:func:`borrowing_prior` from the CLI's text options (a ``study,events,n`` CSV or the
    evidence base ``evidence`` with ``trials`` (all when empty), population, endpoint, horizon).
    """
    mu, tau = parse_mu_prior(mu_prior), parse_tau_prior(tau_prior)
    if conversion not in ("bound", "constant-hazard"):
        raise InvalidInputError(
            "--conversion", "must be 'bound' or 'constant-hazard'", "unknown_conversion"
        )
    if data is not None:
        if trials:
            raise InvalidInputError("--data", "give --data or --trial, not both", "conflict")
        frame = read_data_csv(data)
        return borrowing_prior(
            HistoricalStudies.from_frame(frame),
            mu_prior=mu,
            tau_prior=tau,
            robust_weight=robust_weight,
        )
    if evidence is None:
        raise InvalidInputError("--data", "give --data FILE.csv or evidence records", "missing")
    studies, sources = studies_from_evidence(
        evidence,
        population,
        endpoint,
        horizon_years,
        trials=list(trials) if trials else None,
        conversion=conversion,  # type: ignore[arg-type]
        n_rule=n_rule,  # type: ignore[arg-type]
    )
    return borrowing_prior(
        studies, mu_prior=mu, tau_prior=tau, robust_weight=robust_weight, sources=sources
    )
