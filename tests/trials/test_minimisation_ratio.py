"""Minimisation with unequal target ratios (Pocock-Simon on counts divided by the ratio).

Balance is judged against the target: within every factor level, the count of each arm
should stay close to (level total) x ratio_k / sum(ratio). Bounds stated below were measured
with this script's own simulation (seeds 1, 2, 3 and 2026) and are checked over 10,000
simulated enrolments; the same simulation with simple randomisation in the target ratio, or
with unweighted minimisation, breaks them (so the test can fail).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from infantall.design.allocation import draw_arm, enrolment_generator, minimisation_arm
from infantall.errors import InvalidInputError

SIZES = (2, 3, 8)  # age < 6 months, WBC class, site


def _simulate(
    ratio: Sequence[int], seed: int, *, mode: str = "weighted", n: int = 10_000
) -> tuple[float, np.ndarray]:
    """Largest |count - level total x target share| over the run and levels; final totals."""
    rng = np.random.default_rng(seed)
    share = np.asarray(ratio, dtype=float) / sum(ratio)
    counts = np.zeros((len(SIZES), max(SIZES), len(ratio)), dtype=np.int64)
    worst = 0.0
    for i in range(n):
        levels = [int(rng.integers(s)) for s in SIZES]
        gen = enrolment_generator(seed, i)
        if mode == "simple":
            arm = draw_arm(share, float(gen.random()))
        else:
            arm = minimisation_arm(
                counts, levels, gen, p_best=0.8, ratio=ratio if mode == "weighted" else None
            )
        counts[np.arange(len(SIZES)), levels, arm] += 1
        total = counts.sum(axis=2, keepdims=True)
        worst = max(worst, float(np.abs(counts - total * share).max()))
    return worst, counts[0].sum(axis=0)


# Measured (largest deviation within a level over the whole run): 2:1:1 at 5.5-7.0 for
# seeds 1, 2, 3, 2026; 3:2 at 9.8 (seed 2026). Simple randomisation in 2:1:1 reached 45.75,
# unweighted minimisation 835 (it balances 1:1:1, not the target).
BOUNDS = {(2, 1, 1): 10.0, (3, 2): 14.0}


@pytest.mark.parametrize("ratio", sorted(BOUNDS))
def test_balance_against_target_ratio_over_10000_enrolments(ratio: tuple[int, ...]) -> None:
    worst, totals = _simulate(ratio, seed=2026)
    assert worst <= BOUNDS[ratio]
    target = 10_000 * np.asarray(ratio) / sum(ratio)
    assert np.abs(totals - target).max() <= 3


def test_the_bound_fails_without_minimisation_or_without_the_ratio() -> None:
    simple, _ = _simulate((2, 1, 1), seed=2026, mode="simple")
    assert simple > BOUNDS[(2, 1, 1)]
    unweighted, totals = _simulate((2, 1, 1), seed=2026, mode="unweighted", n=3000)
    assert unweighted > BOUNDS[(2, 1, 1)]
    assert abs(totals[0] - 1000) <= 5  # 1:1:1, not the 2:1:1 target


def test_random_element_follows_the_ratio_among_the_other_arms() -> None:
    """Arm 0 minimises; with 1 - p_best = 0.2 the others (ratio 3:1) get 0.15 and 0.05."""
    counts = np.zeros((1, 1, 3), dtype=np.int64)
    counts[0, 0] = [0, 30, 10]
    picks = np.array(
        [
            minimisation_arm(counts, [0], enrolment_generator(5, i), ratio=(1, 3, 1))
            for i in range(4000)
        ]
    )
    share = np.bincount(picks, minlength=3) / picks.size
    # binomial sd at 4000 draws: <= 0.0064
    assert abs(share[0] - 0.80) < 0.025
    assert abs(share[1] - 0.15) < 0.02
    assert abs(share[2] - 0.05) < 0.015


def test_equal_ratio_gives_the_unweighted_arms() -> None:
    """Stored trials with ratio 1:1 replay bit for bit: same arm with or without the ratio."""
    rng = np.random.default_rng(9)
    counts = rng.integers(0, 20, size=(3, 8, 3)).astype(np.int64)
    for i in range(300):
        levels = [int(rng.integers(s)) for s in SIZES]
        a = minimisation_arm(counts, levels, enrolment_generator(4, i))
        b = minimisation_arm(counts, levels, enrolment_generator(4, i), ratio=(1, 1, 1))
        assert a == b


def test_bad_ratio_names_the_field() -> None:
    counts = np.zeros((1, 2, 2), dtype=np.int64)
    for ratio in ((1,), (0, 1), (1.5, 1)):
        with pytest.raises(InvalidInputError, match="ratio"):
            minimisation_arm(counts, [0], np.random.default_rng(0), ratio=ratio)  # type: ignore[arg-type]
