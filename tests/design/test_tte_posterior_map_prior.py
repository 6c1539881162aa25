"""A time-to-event MAP prior (Gamma mixture per interval) as the control arm's prior.

References: the single-Gamma path of the same module (exact equality for one component) and
numerical integration (scipy ``quad``) of prior x likelihood for two components.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats

from infantall.design.borrowing.gamma_mixture import GammaMixture
from infantall.design.borrowing.tte import TteStudies
from infantall.design.borrowing.tte_questions import tte_borrowing_prior
from infantall.design.tte_posterior import (
    exposure_by_interval,
    piecewise_mixture_posterior,
    piecewise_posterior,
    prob_hazard_ratio_below,
    prob_hazard_ratio_below_mixture,
)
from infantall.errors import InvalidInputError

CUTS = [0.0, 1.0, 2.0]
RNG = np.random.default_rng(11)
TIMES = RNG.exponential(3.0, 60).round(3)
EVENTS = (RNG.random(60) < 0.8).astype(int).tolist()
ARM = piecewise_posterior(RNG.exponential(4.0, 50), [1] * 50, CUTS)


def test_one_component_mixture_equals_the_gamma_path() -> None:
    shapes, rates = (0.7, 1.3, 2.0), (3.0, 5.0, 9.0)
    prior = [GammaMixture((1.0,), (a,), (b,)) for a, b in zip(shapes, rates, strict=True)]
    mix = piecewise_mixture_posterior(TIMES, EVENTS, CUTS, prior)
    one = piecewise_posterior(TIMES, EVENTS, CUTS, prior_shape=shapes, prior_rate=rates)
    assert [m.shape[0] for m in mix.intervals] == list(one.shape)
    assert [m.rate[0] for m in mix.intervals] == list(one.rate)
    for h in (0.5, 1.5, 4.0):
        assert mix.mean_survival(h) == pytest.approx(one.mean_survival(h), rel=1e-14)
    assert np.array_equal(
        prob_hazard_ratio_below_mixture(ARM, mix, 0.7), prob_hazard_ratio_below(ARM, one, 0.7)
    )


def _two() -> list[GammaMixture]:
    return [
        GammaMixture((0.8, 0.2), (12.0, 1.0), (40.0, 3.0)),
        GammaMixture((0.6, 0.4), (20.0, 2.0), (90.0, 8.0)),
        GammaMixture((0.75, 0.25), (6.0, 1.0), (30.0, 5.0)),
    ]


def _quad(f: Any) -> float:
    """``int_0^inf f`` with relative accuracy (the mass lies well inside (0, 20))."""
    return float(integrate.quad(f, 0, 20, epsabs=0, epsrel=1e-11, limit=500)[0])


def test_two_components_against_numerical_integration() -> None:
    prior = _two()
    post = piecewise_mixture_posterior(TIMES, EVENTS, CUTS, prior)
    d, e = exposure_by_interval(TIMES, EVENTS, CUTS)
    dens = []
    for mix, dj, ej in zip(prior, d, e, strict=True):
        mode = dj / ej
        top = math.log(float(mix.pdf(mode))) + dj * math.log(mode) - ej * mode

        def unnorm(
            x: float, mix: GammaMixture = mix, dj: float = dj, ej: float = ej, top: float = top
        ) -> float:
            # prior x likelihood, scaled by its value at the likelihood's mode (quad's
            # absolute tolerance would swamp the raw ~1e-16 values)
            if x <= 0:
                return 0.0
            return math.exp(math.log(float(mix.pdf(x))) + dj * math.log(x) - ej * x - top)

        z = _quad(unnorm)
        dens.append(lambda x, u=unnorm, z=z: u(x) / z)
    # mean survival at 2.5 years: product over intervals of E[exp(-w_j lambda_j)]
    w = post.weights(2.5)
    want = math.prod(
        _quad(lambda x, f=f, wj=wj: f(x) * math.exp(-wj * x)) for f, wj in zip(dens, w, strict=True)
    )
    assert post.mean_survival(2.5) == pytest.approx(want, rel=1e-7)
    # P(lambda_arm < 0.8 lambda_control) per interval: integrate the arm's Gamma CDF
    got = prob_hazard_ratio_below_mixture(ARM, post, 0.8)
    for j, f in enumerate(dens):
        cdf = stats.gamma(ARM.shape[j], scale=1 / ARM.rate[j]).cdf
        want_j = _quad(lambda x, f=f, cdf=cdf: f(x) * cdf(0.8 * x))
        assert got[j] == pytest.approx(want_j, abs=1e-8)


def test_sampled_survival_matches_the_exact_mean() -> None:
    post = piecewise_mixture_posterior(TIMES, EVENTS, CUTS, _two())
    draws = post.sample_survival(2.5, 200_000, np.random.default_rng(3))
    se = draws.std() / math.sqrt(draws.size)
    assert draws.mean() == pytest.approx(post.mean_survival(2.5), abs=4 * se)


def test_the_map_prior_object_plugs_in() -> None:
    """``TteBorrowingPrior.prior`` (robust) is the control prior; much data overrules it."""
    hist = TteStudies.of(["A", "B", "C"], [3, 3, 3], [0.5, 0.45, 0.6], [80, 60, 100])
    prior = tte_borrowing_prior(hist, [0.0], robust_weight=0.8, max_components=3).prior
    assert len(prior) == 1 and prior[0].weight[-1] == pytest.approx(0.2)
    times = np.random.default_rng(5).exponential(1 / 0.9, 4000)
    post = piecewise_mixture_posterior(times, [1] * 4000, [0.0], prior)
    assert post.intervals[0].mean() == pytest.approx(4000 / times.sum(), rel=0.01)
    with pytest.raises(InvalidInputError) as err:
        piecewise_mixture_posterior(times, [1] * 4000, CUTS, prior)
    assert err.value.field == "prior"
