"""Bayesian random-effects pooling (binomial-normal model, quadrature) for few studies.

Independent checks: the predictive distribution equals the MAP prior computed by
``infantall.design.borrowing`` (a separate implementation with another grid), and the pooled
proportion's quantiles agree with a brute-force uniform grid over (mu, tau, theta_i).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from infantall.design.borrowing import HistoricalStudies, NormalPrior, TauPrior, map_prior
from infantall.errors import InvalidInputError
from infantall.synthesis.bayes import bayes_pool_proportions

X = np.array([31.0, 174.0, 50.0])
N = np.array([80.0, 476.0, 146.0])
#: the issue's bound for quantiles against an independent computation (proportion scale)
QUANTILE_TOL = 0.002


@pytest.fixture(scope="module")
def pooled() -> dict[str, dict[str, float]]:
    res = bayes_pool_proportions(X, N, tau_scale=0.5)
    return {"pooled": res.pooled_pct, "pred": res.predictive_pct, "tau": res.tau}


def test_predictive_equals_map_prior(pooled: dict[str, dict[str, float]]) -> None:
    mp = map_prior(
        HistoricalStudies.of(["a", "b", "c"], X, N), NormalPrior(0, 2), TauPrior("halfnormal", 0.5)
    )
    for q in (0.025, 0.5, 0.975):
        assert pooled["pred"][f"{q:g}"] / 100 == pytest.approx(mp.quantile(q), abs=QUANTILE_TOL)


def test_pooled_quantiles_match_brute_force_grid(pooled: dict[str, dict[str, float]]) -> None:
    theta = np.linspace(-2.5, 1.0, 7001)
    step = theta[1] - theta[0]
    lik = np.exp(
        X[:, None] * np.log(special.expit(theta)) + (N - X)[:, None] * np.log(special.expit(-theta))
    )
    mu = np.linspace(-1.4, 0.3, 171)
    tau = (np.arange(120) + 0.5) * (2.5 / 120)
    lp = np.empty((mu.size, tau.size))
    for j, t in enumerate(tau):
        kernel = stats.norm.pdf((theta[None, :] - mu[:, None]) / t) / t * step
        lp[:, j] = np.log(kernel @ lik.T).sum(axis=1)
    lp += stats.norm.logpdf(mu, 0, 2)[:, None] + stats.halfnorm.logpdf(tau, scale=0.5)[None, :]
    w = np.exp(lp - lp.max())
    marg = w.sum(axis=1) / w.sum()
    cdf = np.cumsum(marg) - marg / 2
    for q in (0.025, 0.5, 0.975):
        brute = float(special.expit(np.interp(q, cdf, mu)))
        assert pooled["pooled"][f"{q:g}"] / 100 == pytest.approx(brute, abs=QUANTILE_TOL)


def test_tau_quantiles_ordered(pooled: dict[str, dict[str, float]]) -> None:
    t = pooled["tau"]
    assert 0 <= t["0.025"] < t["0.5"] < t["0.975"]


@pytest.mark.parametrize(
    ("events", "n", "kwargs", "code"),
    [
        ([1.0], [10.0], {}, "too_few_studies"),
        ([12.0, 1.0], [10.0, 10.0], {}, "out_of_range"),
        ([2.0, 1.0], [10.0, 10.0], {"tau_scale": 0.0}, "bad_prior_scale"),
    ],
)
def test_bad_input(
    events: list[float], n: list[float], kwargs: dict[str, float], code: str
) -> None:
    with pytest.raises(InvalidInputError) as err:
        bayes_pool_proportions(events, n, **kwargs)  # type: ignore[arg-type]
    assert err.value.code == code
