"""The adaptive simulator with a Beta-mixture (MAP) prior on the control arm (issue 17).

References: the single-Beta path (a one-component mixture must give identical bits) and
numerical integration with scipy ``quad`` of the mixture posterior, built independently from
prior x likelihood.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats

from infantall.design.adaptive import run_trials, simulate_block
from infantall.design.adaptive import spec_from_dict as _spec_from_dict
from infantall.design.adaptive.engine import _simulate_binary
from infantall.design.adaptive.mixture_prior import ControlMixture, control_mixture
from infantall.design.borrowing import BetaMixture, robustify
from infantall.errors import InvalidInputError


def _spec(prior: dict[str, Any], **changes: Any) -> Any:
    base: dict[str, Any] = {
        "outcome": "binary",
        "arms": [
            {"name": "control", "control": True, "p": 0.4},
            {"name": "A", "p": 0.45},
            {"name": "B", "p": 0.6},
        ],
        "analyses": {"patients": [60, 120, 180]},
        "accrual_per_year": 30,
        "randomisation": {"adaptive": True, "softening": 0.5, "control_floor": 0.3, "cap": 0.6},
        "decisions": {"superiority": 0.99, "futility": 0.05},
        "prior": prior,
    }
    base.update(changes)
    return _spec_from_dict(base)


@pytest.mark.parametrize("method", ["quadrature", "grid", "monte-carlo"])
def test_one_component_mixture_gives_the_beta_path_bit_for_bit(method: str) -> None:
    plain = _spec({"beta_a": 2.0, "beta_b": 3.0}, posterior={"method": method})
    mixed = _spec(
        {"beta_a": 2.0, "beta_b": 3.0, "control_mixture": [{"weight": 1.0, "a": 2.0, "b": 3.0}]},
        posterior={"method": method},
    )
    # the single-Beta path of the vectorised engine (a mixture never takes the compiled
    # kernel, whose agreement with this path is tested in test_adaptive_kernel.py)
    data_seed, mc_seed = np.random.SeedSequence(5).spawn(2)
    one = _simulate_binary(plain, 300, np.random.default_rng(data_seed),
                           np.random.default_rng(mc_seed), compiled=False)  # fmt: skip
    two = simulate_block(mixed, 300, np.random.SeedSequence(5))
    for field in one.__dataclass_fields__:
        assert np.array_equal(getattr(one, field), getattr(two, field), equal_nan=True), field


def _mixture_density(mix: ControlMixture, s: float, f: float) -> Any:
    """Posterior density of the control proportion: prior mixture x binomial, normalised."""

    def unnorm(x: Any) -> Any:
        prior = sum(
            w * stats.beta.pdf(x, a, b) for w, a, b in zip(mix.weight, mix.a, mix.b, strict=True)
        )
        return prior * x**s * (1 - x) ** f

    z = integrate.quad(unnorm, 0, 1, epsabs=0, epsrel=1e-12, limit=400)[0]
    return lambda x: unnorm(x) / z


def test_two_component_probabilities_against_numerical_integration() -> None:
    mix = ControlMixture(
        np.array([0.8, 0.2]), np.array([24.0, 1.0]), np.array([36.0, 1.0]), 1.0, 1.0
    )
    # three trials x three arms: Beta(1 + s, 1 + f) for A and B; control counts s_c, f_c
    counts = [
        ((12, 18), (15, 15), (20, 10)),
        ((30, 10), (18, 22), (25, 15)),
        ((5, 25), (9, 21), (7, 23)),
    ]
    a = np.array([[1.0 + s for s, _ in row] for row in counts])
    b = np.array([[1.0 + f for _, f in row] for row in counts])
    active = np.ones_like(a, dtype=bool)
    got = mix.probabilities("beta", a, b, active, 0, need_best=True)
    assert got.best is not None
    for t, row in enumerate(counts):
        f_c = _mixture_density(mix, *row[0])
        want_better, want_best = _by_quad(f_c, a[t], b[t])
        assert got.better[t, 1:] == pytest.approx(want_better, abs=1e-9)
        assert got.best[t] == pytest.approx(want_best, abs=1e-8)
        mean = integrate.quad(lambda x, f=f_c: x * f(x), 0, 1, epsabs=0, epsrel=1e-12)[0]
        got_mean = mix.mean(np.array([row[0][0]]), np.array([sum(row[0])]))[0]
        assert got_mean == pytest.approx(mean, abs=1e-10)


def _by_quad(f_c: Any, a: np.ndarray, b: np.ndarray) -> tuple[list[float], list[float]]:
    """P(arm > control) for arms 1, 2 and P(best) for arms 0, 1, 2 by scipy quad."""
    arm_a, arm_b = stats.beta(a[1], b[1]), stats.beta(a[2], b[2])

    def quad(fn: Any, upper: float = 1.0) -> float:
        return float(integrate.quad(fn, 0, upper, epsabs=1e-14, epsrel=1e-10, limit=200)[0])

    # the control CDF by cumulative Simpson on 200,001 points (error ~1e-12 after linear
    # interpolation), so that P(best) stays a single quad
    grid = np.linspace(0.0, 1.0, 200_001)
    cum = integrate.cumulative_simpson(f_c(grid), x=grid, initial=0.0)

    def cdf_c(x: float) -> float:
        return float(np.interp(x, grid, cum))

    better = [quad(lambda x: f_c(x) * arm_a.sf(x)), quad(lambda x: f_c(x) * arm_b.sf(x))]
    best = [
        quad(lambda x: f_c(x) * arm_a.cdf(x) * arm_b.cdf(x)),
        quad(lambda x: arm_a.pdf(x) * cdf_c(x) * arm_b.cdf(x)),
        quad(lambda x: arm_b.pdf(x) * cdf_c(x) * arm_a.cdf(x)),
    ]
    return better, best


def test_component_weights_are_the_conjugate_update() -> None:
    mix = ControlMixture(np.array([0.5, 0.5]), np.array([2.0, 8.0]), np.array([8.0, 2.0]), 1, 1)
    pi = mix.component_weights(np.array([8.0]), np.array([2.0]))[0]
    # marginal likelihoods B(a + s, b + f) / B(a, b) of the two components
    lik = [
        integrate.quad(lambda x, a=a, b=b: stats.beta.pdf(x, a, b) * x**8 * (1 - x) ** 2, 0, 1)[0]
        for a, b in ((2, 8), (8, 2))
    ]
    assert pi == pytest.approx(np.array(lik) / sum(lik), rel=1e-9)


def test_borrowing_prior_object_drives_a_simulation() -> None:
    """The robust MAP prior that ``design prior`` prints is accepted as the control prior."""
    robust = robustify(BetaMixture((0.7, 0.3), (30.0, 8.0), (45.0, 12.0)), 0.8)
    spec = _spec({"control_mixture": robust.components()})
    assert control_mixture(spec) is not None
    flat = _spec({})
    borrowed = run_trials(spec, 600, seed=2).outcomes.estimate[:, 0]
    alone = run_trials(flat, 600, seed=2).outcomes.estimate[:, 0]
    # the MAP prior (mean 0.4, worth ~60 patients) steadies the control estimate
    assert borrowed.std() < 0.8 * alone.std()
    assert borrowed.mean() == pytest.approx(0.4, abs=0.02)


@pytest.mark.parametrize(
    ("prior", "changes", "field"),
    [
        ({"control_mixture": [{"weight": 0.5, "a": 1, "b": 1}]}, {}, "prior"),
        ({"control_mixture": [{"weight": 1.0, "a": -1, "b": 1}]}, {}, "prior.control_mixture[0].a"),
        ({"control_mixture": []}, {}, "prior.control_mixture"),
    ],
)
def test_bad_mixture_names_the_field(
    prior: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as err:
        _spec(prior, **changes)
    assert err.value.field == field


def test_mixture_only_for_binary_outcome() -> None:
    with pytest.raises(InvalidInputError) as err:
        _spec_from_dict(
            {
                "outcome": "time-to-event",
                "arms": [
                    {"name": "control", "control": True, "hazard": 0.3},
                    {"name": "A", "hazard": 0.2},
                ],
                "analyses": {"patients": [100]},
                "accrual_per_year": 50,
                "prior": {"control_mixture": [{"weight": 1.0, "a": 2, "b": 3}]},
            }
        )
    assert err.value.field == "prior.control_mixture"
