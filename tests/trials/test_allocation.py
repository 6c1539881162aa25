"""Pure allocation algorithms: permuted blocks, minimisation, RAR equal to the simulator's."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from infantall.design.adaptive import allocation_probabilities, load_spec
from infantall.design.adaptive.engine import _State
from infantall.design.adaptive.posterior import posterior_probabilities
from infantall.design.allocation import (
    adaptive_arm,
    enrolment_generator,
    interim_update,
    minimisation_arm,
    permuted_block_arm,
    permuted_block_sequence,
    stratum_generator,
)
from infantall.errors import InvalidInputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "design"


def test_blocks_are_balanced_at_every_block_end() -> None:
    rng = np.random.default_rng(7)
    ratio, mult = (1, 2, 1), (1, 2, 3)
    seq = permuted_block_sequence(ratio, mult, 4000, rng)
    # replay the block boundaries: a block end is where counts are proportional to the ratio
    counts = np.zeros(3, dtype=int)
    ends = 0
    sizes = set()
    last = 0
    for i, arm in enumerate(seq):
        counts[arm] += 1
        c = counts // np.array(ratio)
        if (counts % np.array(ratio) == 0).all() and len(set(c)) == 1:
            ends += 1
            sizes.add(i + 1 - last)
            last = i + 1
    # within any prefix, the imbalance never exceeds the largest block (3 x 4 = 12 patients)
    running = np.zeros(3, dtype=int)
    for arm in seq:
        running[arm] += 1
        expected = running.sum() * np.array(ratio) / 4
        assert np.abs(running - expected).max() <= 12
    assert ends >= 4000 // 12
    assert sizes >= {4, 8, 12}  # random block sizes: all three multipliers were used


def test_block_sequence_is_a_function_of_seed_and_stratum() -> None:
    a = [permuted_block_arm(11, "age<6m=yes", i, (1, 1), (2, 3)) for i in range(30)]
    b = list(permuted_block_sequence((1, 1), (2, 3), 30, stratum_generator(11, "age<6m=yes")))
    c = list(permuted_block_sequence((1, 1), (2, 3), 30, stratum_generator(11, "age<6m=no")))
    assert a == b
    assert a != c


def test_block_input_errors_name_the_field() -> None:
    with pytest.raises(InvalidInputError, match="ratio"):
        permuted_block_sequence((1,), (1,), 3, np.random.default_rng(0))
    with pytest.raises(InvalidInputError, match="block_multipliers"):
        permuted_block_sequence((1, 1), (), 3, np.random.default_rng(0))


def _simulate_minimisation(n: int, p_best: float, seed: int) -> tuple[int, int]:
    """Enrol n patients with 3 factors (age<6m: 2 levels, WBC class: 3, site: 8) into 2 arms.

    Returns the largest absolute arm difference, over the whole run, within any factor level,
    and the final overall difference.
    """
    rng = np.random.default_rng(seed)
    sizes = (2, 3, 8)
    counts = np.zeros((3, 8, 2), dtype=np.int64)
    worst = 0
    for i in range(n):
        levels = [int(rng.integers(s)) for s in sizes]
        arm = minimisation_arm(counts, levels, enrolment_generator(seed, i), p_best=p_best)
        counts[np.arange(3), levels, arm] += 1
        worst = max(worst, int(np.abs(counts[..., 0] - counts[..., 1]).max()))
    total = counts[0].sum(axis=0)
    return worst, int(abs(total[0] - total[1]))


# Stated bounds for 10,000 enrolments, 2 arms, p_best = 0.8: measured over seeds 1-5 and
# 2026 at 9-11 within a level and 0-4 overall (largest over the whole run, not just at the
# end). Simple randomisation (p_best = 1/2) reached 104 within a level with seed 2026.
LEVEL_BOUND = 15
TOTAL_BOUND = 8


def test_minimisation_balance_over_10000_enrolments() -> None:
    worst, total = _simulate_minimisation(10_000, 0.8, seed=2026)
    assert worst <= LEVEL_BOUND
    assert total <= TOTAL_BOUND


def test_minimisation_random_element_can_fail_the_bound_when_off() -> None:
    """p_best = 1/2 is simple randomisation: it must break the bound (the test can fail)."""
    worst, _ = _simulate_minimisation(10_000, 0.5, seed=2026)
    assert worst > LEVEL_BOUND


def test_minimisation_random_element_is_used() -> None:
    counts = np.zeros((1, 2, 2), dtype=np.int64)
    counts[0, 0] = [5, 0]  # arm 1 minimises imbalance
    picks = [minimisation_arm(counts, [0], enrolment_generator(3, i)) for i in range(2000)]
    share = np.mean(picks)
    assert 0.76 < share < 0.84  # p_best = 0.8, binomial sd ~ 0.009


def test_minimisation_levels_error() -> None:
    with pytest.raises(InvalidInputError, match="levels"):
        minimisation_arm(np.zeros((2, 2, 2), dtype=np.int64), [0], np.random.default_rng(0))


@pytest.mark.parametrize("example", ["pick-a-winner-binary.yaml", "time-to-event.yaml"])
def test_rar_equals_the_simulator_engine_exactly(example: str) -> None:
    """The engine's batch analysis of 200 trials' data equals interim_update, trial by trial."""
    spec = load_spec(EXAMPLES / example)
    rng = np.random.default_rng(5)
    k = spec.n_arms
    size = 200
    fam: Literal["beta", "gamma"]
    if spec.outcome == "binary":
        n = rng.integers(10, 60, size=(size, k)).astype(float)
        y = np.floor(n * rng.uniform(0.2, 0.8, size=(size, k)))
        a, b, fam = spec.prior.beta_a + y, spec.prior.beta_b + n - y, "beta"
    else:
        y = rng.integers(0, 25, size=(size, k)).astype(float)
        n = rng.uniform(5.0, 60.0, size=(size, k))
        a, b, fam = spec.prior.gamma_shape + y, spec.prior.gamma_rate + n, "gamma"
    state = _State(spec, size)
    active = np.ones((size, k), dtype=bool)
    active[::7, (spec.control_index + 1) % k] = False  # some trials had dropped an arm
    state.active[:] = active
    state.analyse(0, a, b, fam, np.random.default_rng(0))
    for i in range(size):
        upd = interim_update(spec, 0, n[i], y[i], active[i])
        assert upd.allocation == tuple(state.alloc[i])  # exact equality
        assert upd.active == tuple(state.active[i])
    # and the engine's allocation function on the engine's posterior, computed independently
    probs = posterior_probabilities(fam, a[:1], b[:1], active[:1], spec.control_index)
    assert probs.best is not None
    r = spec.randomisation
    expect = allocation_probabilities(
        probs.best,
        state.active[:1],
        spec.control_index,
        adaptive=r.adaptive,
        softening=r.softening,
        floor=r.control_floor,
        cap=r.cap,
    )
    assert interim_update(spec, 0, n[0], y[0], active[0]).allocation == tuple(expect[0])


def test_rar_decides_superiority_with_the_design_threshold() -> None:
    spec = load_spec(EXAMPLES / "pick-a-winner-binary.yaml")
    upd = interim_update(spec, 0, [25, 25, 25, 25], [8, 9, 10, 22], [True] * 4)
    assert upd.decision == "superiority"
    assert upd.selected == 3
    cont = interim_update(spec, 0, [25, 25, 25, 25], [10, 10, 11, 12], [True] * 4)
    assert cont.decision == "continue"
    assert abs(sum(cont.allocation) - 1.0) < 1e-12
    assert cont.allocation[0] >= spec.randomisation.control_floor - 1e-12
    assert max(cont.allocation[1:]) <= spec.randomisation.cap + 1e-12


def test_adaptive_arm_follows_probabilities() -> None:
    arms = [adaptive_arm((0.25, 0.5, 0.25), enrolment_generator(9, i)) for i in range(4000)]
    share = np.bincount(arms, minlength=3) / 4000
    assert np.allclose(share, (0.25, 0.5, 0.25), atol=0.03)
