"""Time-to-event MAP prior (issue 17 item 4): data rules, quadrature, Gamma mixtures, ESS.

Reference for the MAP prior itself: a brute-force MCMC of the same hierarchical model written
in this file (Gibbs for ``mu``, Metropolis for each study's log-hazard and for ``log tau``,
thousands of independent chains), which shares no code with the quadrature.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from infantall.design.borrowing._quad import log_marginal_likelihood_poisson
from infantall.design.borrowing.gamma_mixture import (
    GammaMixture,
    fit_gamma_mixture,
    gamma_ess_elir,
    gamma_ess_moment,
    robustify_gamma,
)
from infantall.design.borrowing.tte import TteStudies, interval_data, tte_map_prior
from infantall.design.borrowing.tte_questions import (
    parse_intervals,
    tte_borrowing_prior,
    tte_studies_from_evidence,
)
from infantall.errors import InvalidInputError
from infantall.evidence import load_evidence

# four studies, one EFS each: one interval [0, inf) sees every study up to its horizon
ONE = TteStudies.of(["A", "B", "C", "D"], [2, 3, 2, 4], [0.55, 0.40, 0.70, 0.45], [60, 90, 40, 120])


def test_interval_data_reproduces_each_study_hazard_and_counts() -> None:
    s = TteStudies.of(["A", "A", "B"], [1, 3, 2], [0.6, 0.42, 0.5], [80, 80, 50])
    d, e = interval_data(s, [0, 0.5, 1, 2])
    lam1, lam2 = -math.log(0.6), -math.log(0.42 / 0.6) / 2  # rule 1: constant between horizons
    assert d[0] / e[0] == pytest.approx([lam1, lam1, lam2, lam2])
    # events up to 3 years: n (1 - S(3)); exposure: n * integral of S over [0, 3]
    assert d[0].sum() == pytest.approx(80 * (1 - 0.42))
    area = 0.4 / lam1 + 0.6 * (1 - 0.42 / 0.6) / lam2
    assert e[0].sum() == pytest.approx(80 * area)
    # study B stops at 2 years: nothing in [2, inf)
    assert (d[1, 3], e[1, 3]) == (0.0, 0.0)
    assert d[1].sum() == pytest.approx(25.0)


def test_effective_n_from_se() -> None:
    s = TteStudies.of(["A", "B"], [2, 2], [0.5, 0.4], [None, 50], [0.05, None])
    assert s.n_effective == (pytest.approx(0.25 / 0.0025), 50.0)


def test_poisson_marginal_likelihood_against_dense_simpson() -> None:
    """Adaptive Gauss-Hermite (20 nodes) vs Simpson's rule on 400,001 points over mu +- 40 tau."""
    d = np.array([12.0, 3.0, 40.0])
    e = np.array([30.0, 25.0, 100.0])
    mu = np.array([-1.0, 0.5, -2.0])
    tau = np.array([0.3, 1.5, 0.05])
    got = log_marginal_likelihood_poisson(d, e, mu, tau)
    for g in range(mu.size):
        x = np.linspace(mu[g] - 40 * tau[g], mu[g] + 40 * tau[g], 400_001)
        for i in range(d.size):
            y = stats.poisson.logpmf(d[i], e[i] * np.exp(x)) + stats.norm.logpdf(x, mu[g], tau[g])
            top = y.max()
            want = top + math.log(integrate.simpson(np.exp(y - top), x=x))
            assert got[g, i] == pytest.approx(want, abs=1e-7)


def _mcmc_predictive(
    d: np.ndarray, e: np.ndarray, chains: int, steps: int, rng: np.random.Generator
) -> np.ndarray:
    """Draws of a new study's log hazard; prior mu ~ N(0, 2^2), tau ~ HalfNormal(1)."""
    k = d.size
    theta = np.log((d + 0.5) / e) + rng.normal(0, 0.1, (chains, k))
    log_tau = np.full(chains, math.log(0.3))
    mu = theta.mean(axis=1)
    step_theta = 1.0 / np.sqrt(d + 1.0)
    draws = []

    def lp_theta(t: np.ndarray, m: np.ndarray, tau: np.ndarray) -> np.ndarray:
        return d * t - e * np.exp(t) - 0.5 * ((t - m[:, None]) / tau[:, None]) ** 2

    def lp_tau(lt: np.ndarray, t: np.ndarray, m: np.ndarray) -> np.ndarray:
        tau = np.exp(lt)
        resid = ((t - m[:, None]) ** 2).sum(axis=1)
        return -k * lt - 0.5 * resid / tau**2 - 0.5 * tau**2 + lt  # + lt: Jacobian of log

    for it in range(steps):
        tau = np.exp(log_tau)
        # mu | theta, tau: conjugate normal
        prec = k / tau**2 + 1 / 4.0
        mean = (theta.sum(axis=1) / tau**2) / prec
        mu = mean + rng.standard_normal(chains) / np.sqrt(prec)
        prop = theta + rng.standard_normal((chains, k)) * step_theta
        acc = np.log(rng.random((chains, k))) < lp_theta(prop, mu, tau) - lp_theta(theta, mu, tau)
        theta = np.where(acc, prop, theta)
        lt_new = log_tau + rng.normal(0, 0.6, chains)
        acc_t = np.log(rng.random(chains)) < lp_tau(lt_new, theta, mu) - lp_tau(log_tau, theta, mu)
        log_tau = np.where(acc_t, lt_new, log_tau)
        if it >= steps // 2 and it % 5 == 0:
            draws.append(mu + np.exp(log_tau) * rng.standard_normal(chains))
    return np.asarray(draws)  # (kept, chains)


def test_map_prior_against_brute_force_mcmc() -> None:
    """Predictive log-hazard quantiles: quadrature vs MCMC within 4 Monte-Carlo SEs (+0.002)."""
    mp = tte_map_prior(ONE, [0.0])
    iv = mp.intervals[0]
    draws = _mcmc_predictive(
        mp.events[:, 0], mp.exposure[:, 0], 2000, 2000, np.random.default_rng(7)
    )
    groups = np.array_split(draws, 20, axis=1)  # 20 batches of independent chains
    for q in (0.025, 0.5, 0.975):
        per_group = np.array([np.quantile(g, q) for g in groups])
        se = per_group.std(ddof=1) / math.sqrt(len(groups))
        assert iv.log_quantile(q) == pytest.approx(np.quantile(draws, q), abs=4 * se + 0.002)


@pytest.fixture(scope="module")
def two_interval() -> object:
    s = TteStudies.of(
        ["A", "A", "B", "C", "C", "D"],
        [1, 3, 4, 1.5, 4, 5],
        [0.6, 0.42, 0.43, 0.545, 0.432, 0.34],
        [80, 80, 62, 63, 62, 146],
    )
    return tte_borrowing_prior(s, [0, 1], robust_weight=0.8)


def test_gamma_mixtures_approximate_the_map_density(two_interval: object) -> None:
    res = two_interval
    for iv, fit in zip(res.map.intervals, res.fits, strict=True):  # type: ignore[attr-defined]
        lo, hi = iv.log_range()
        t = np.linspace(lo, hi, 4001)
        dt = t[1] - t[0]
        tv = 0.5 * np.sum(np.abs(iv.pdf_log_hazard(t) - fit.mixture.pdf_log_hazard(t))) * dt
        assert tv == pytest.approx(fit.total_variation, abs=2e-3)  # the reported distance
        assert tv < 0.02
        med = fit.mixture.quantile(0.5)
        assert med == pytest.approx(iv.quantile(0.5), rel=0.02)


def test_robust_prior_and_totals(two_interval: object) -> None:
    res = two_interval
    d = res.to_dict()  # type: ignore[attr-defined]
    assert d["endpoint_type"] == "tte" and d["cuts"] == [0.0, 1.0]
    for item in d["intervals"]:
        assert item["robust"][-1]["weight"] == pytest.approx(0.2)
        assert item["robust"][-1]["shape"] == 1.0
        assert item["robust_ess"]["elir"] < item["ess"]["elir"]
    assert d["ess"]["elir"] == pytest.approx(sum(i["ess"]["elir"] for i in d["intervals"]))


def test_ess_of_one_gamma_is_its_shape() -> None:
    """Predictive consistency (Neuenschwander et al. 2020): ESS of Gamma(a, b) = a events."""
    g = GammaMixture((1.0,), (12.5,), (40.0,))
    assert gamma_ess_moment(g) == pytest.approx(12.5)
    assert gamma_ess_elir(g) == pytest.approx(12.5, rel=1e-4)


def test_gamma_mixture_posterior_against_numerical_integration() -> None:
    mix = GammaMixture((0.7, 0.3), (8.0, 1.0), (30.0, 2.0))
    post = mix.posterior(5.0, 20.0)
    like = lambda x: x**5 * np.exp(-20 * x)  # noqa: E731
    z = integrate.quad(lambda x: mix.pdf(x) * like(x), 0, np.inf)[0]
    for x in (0.1, 0.25, 0.6):
        assert float(post.pdf(x)) == pytest.approx(float(mix.pdf(x)) * like(x) / z, rel=1e-8)
    assert post.laplace(1.5) == pytest.approx(
        integrate.quad(lambda x: post.pdf(x) * np.exp(-1.5 * x), 0, np.inf)[0], rel=1e-8
    )


def test_fit_recovers_a_gamma_mixture() -> None:
    true = GammaMixture((0.6, 0.4), (20.0, 3.0), (80.0, 6.0))
    fit = fit_gamma_mixture(true.pdf_log_hazard, -6.0, 2.0, max_components=3)
    assert fit.total_variation < 0.01
    assert fit.mixture.mean() == pytest.approx(true.mean(), rel=0.01)


def test_robustify_gamma_component() -> None:
    g = GammaMixture((1.0,), (10.0,), (40.0,))
    r = robustify_gamma(g, 0.75)
    assert r.components()[-1] == {"weight": 0.25, "shape": 1.0, "rate": pytest.approx(4.0)}
    with pytest.raises(InvalidInputError):
        robustify_gamma(g, 1.0)


@pytest.mark.parametrize(
    ("build", "field", "code"),
    [
        (lambda: TteStudies.of(["A", "B"], [2, 2], [36, 0.4], [50, 50]), "data[A].efs", "bad_efs"),
        (
            lambda: TteStudies.of(["A", "A", "B"], [1, 2, 2], [0.4, 0.5, 0.4], [50, 50, 50]),
            "data[A].efs",
            "efs_increasing",
        ),
        (lambda: TteStudies.of(["A"], [2], [0.5], [50]), "data", "too_few_studies"),
        (
            lambda: TteStudies.of(["A", "B"], [2, 2], [0.5, 0.4], [None, 50]),
            "data[A].n",
            "missing_n",
        ),
        (lambda: tte_map_prior(ONE, [0, 3.5]), "intervals", "too_few_studies"),
        (lambda: parse_intervals("0.5,1"), "--intervals", "invalid_cuts"),
    ],
)
def test_bad_input_names_field(build: object, field: str, code: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        build()  # type: ignore[operator]
    assert (err.value.field, err.value.code) == (field, code)


def test_studies_from_evidence_use_every_horizon_with_sources() -> None:
    studies, sources = tte_studies_from_evidence(load_evidence().frame, "kmt2a-r", "efs")
    h, s, n = studies.curve("jplsg-mll03")
    assert n.tolist() == [63.0, 62.0]
    # seed 004 text 54.5 % at 1.5 years (n 63), seed 000 Table 1 43.2 % at 4 years (n 62)
    assert h.tolist() == [1.5, 4.0] and s.tolist() == pytest.approx([0.545, 0.432])
    used = [x for x in sources if x["used"]]
    assert all(x["source"] for x in used) and len(used) == len(studies.study)


def test_elir_of_a_mixture_against_finite_differences() -> None:
    """ELIR = E[-(log g)''] on the log-hazard scale, with g'' by central differences."""
    mix = GammaMixture((0.7, 0.3), (15.0, 2.0), (60.0, 4.0))
    t = np.linspace(-9.0, 3.0, 240_001)
    h = t[1] - t[0]
    log_g = np.log(mix.pdf_log_hazard(t))
    second = (log_g[2:] - 2 * log_g[1:-1] + log_g[:-2]) / h**2
    g = np.exp(log_g[1:-1])
    want = float(np.sum(-second * g) / np.sum(g))
    assert gamma_ess_elir(mix) == pytest.approx(want, rel=1e-4)
    # the vague component lowers it, as robustification should
    assert gamma_ess_elir(robustify_gamma(mix, 0.5)) < gamma_ess_elir(mix)
