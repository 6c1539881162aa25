"""The engine's compiled decision quantities against the numpy/scipy formulas they replace.

References: ``scipy.special.betainc`` (Boost) for ``P(L_k < L_c)``; the numpy moment matching
(:func:`model.matched_gamma`) and the mixture's posterior moments
(:meth:`ControlMixture.moments`, itself checked against numerical integration in
``test_tte_mixture_prior.py``) for the matched Gammas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from infantall.design.adaptive.tte import fused, model
from infantall.design.adaptive.tte.mixture import ControlMixture

CUTS = np.array([0.0, 0.25, 0.5, 1.0, 2.0])
COMPONENTS = [
    [(0.5, 40.0, 180.0), (0.3, 6.0, 25.0), (0.2, 1.0, 4.5)],
    [(0.6, 50.0, 230.0), (0.4, 1.0, 4.0)],
    [(0.25, 100.0, 500.0), (0.25, 8.0, 40.0), (0.3, 1.6, 4.0), (0.2, 1.0, 4.4)],
    [(1.0, 9.0, 37.0)],
    [(0.8, 22.0, 100.0), (0.2, 1.0, 5.0)],
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_prob_better_equals_scipy_betainc(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 20_000
    # shapes from 0.2 (a vague prior, no events) to 2,000, rates over four decades
    sh = np.exp(rng.uniform(math.log(0.2), math.log(2000.0), (n, 3)))
    rt = np.exp(rng.uniform(-4.0, 5.0, (n, 3)))
    got = fused.prob_better(sh, rt, 1)
    ref = special.betainc(sh, sh[:, 1:2], rt / (rt + rt[:, 1:2]))
    np.testing.assert_array_equal(got[:, 1], 0.5)
    np.testing.assert_allclose(got[:, [0, 2]], ref[:, [0, 2]], rtol=0, atol=1e-11)


def test_prob_better_keeps_leading_axes_and_edges() -> None:
    sh = np.array([[[3.0, 5.0], [2.0, 2.0]]])
    rt = np.array([[[1.0, 1.0], [4.0, 4.0]]])
    got = fused.prob_better(sh, rt, 0)
    assert got.shape == (1, 2, 2)
    assert got[0, 1, 1] == pytest.approx(0.5, abs=1e-14)  # identical Gammas
    assert got[0, 0, 1] == pytest.approx(float(special.betainc(5.0, 3.0, 0.5)), abs=1e-14)


def _reference(
    d: np.ndarray, e: np.ndarray, ps: np.ndarray, pr: np.ndarray, w: np.ndarray, mix_group: int
) -> tuple[np.ndarray, np.ndarray]:
    sh, rt = model.matched_gamma(ps + d, pr + e, w)
    if mix_group >= 0:
        mean, var = ControlMixture(COMPONENTS).moments(d[:, mix_group], e[:, mix_group])
        sh[:, mix_group], rt[:, mix_group] = model.matched_moments(mean, var, w)
    return sh, rt


@pytest.mark.parametrize("mix_group", [-1, 0, 2])
@pytest.mark.parametrize("whole_events", [True, False])
def test_matched_equals_numpy_moment_matching(mix_group: int, whole_events: bool) -> None:
    rng = np.random.default_rng(7)
    rows, groups, j = 500, 3, CUTS.size
    d = rng.poisson(4.0, (rows, groups, j)).astype(float)
    if not whole_events:  # not what the engine passes: the table is bypassed
        d += rng.uniform(0.0, 1.0, d.shape)
    e = rng.uniform(0.0, 30.0, (rows, groups, j))
    ps, pr = np.full((groups, j), 0.5), np.full((groups, j), 1.0)
    w = model.horizon_weights(CUTS, 2.0)
    mix = ControlMixture(COMPONENTS)
    args = (mix.const, mix.shape, mix.rate, fused.lgamma_table(mix.shape, 10))
    sh, rt = fused.matched(d, e, ps, pr, w, mix_group, args)
    ref_sh, ref_rt = _reference(d, e, ps, pr, w, mix_group)
    np.testing.assert_allclose(sh, ref_sh, rtol=1e-11)
    np.testing.assert_allclose(rt, ref_rt, rtol=1e-11)


def test_lgamma_table_is_lgamma() -> None:
    shape = np.array([[0.5, 7.25], [53.4, 1.0]])
    table = fused.lgamma_table(shape, 4)
    assert table.shape == (2, 2, 5)
    ref = special.gammaln(shape[..., None] + np.arange(5))
    np.testing.assert_allclose(table, ref, rtol=1e-14, atol=1e-15)
