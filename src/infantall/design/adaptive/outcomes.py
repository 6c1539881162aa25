"""What every simulation engine of the adaptive designs shares: the outcomes of a block of
trials, the decision codes, and the allocation rule for the next patients.

The binary and one-rate time-to-event engine (:mod:`.engine`) and the piecewise-exponential
engine (:mod:`.tte.engine`) both build on it; it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["DECISIONS", "TrialOutcomes", "allocation_probabilities"]

#: Decision codes of a simulated trial.
DECISIONS = ("superiority", "futility", "equivalence", "max-sample-size")


@dataclass(frozen=True, slots=True)
class TrialOutcomes:
    """Per simulated trial (rows) results of one block or of a whole run.

    ``decision`` indexes :data:`DECISIONS`; ``selected`` is the arm declared superior
    (-1 when none); ``max_better`` is the largest posterior probability that an active
    experimental arm beats control over the analyses the trial reached (what calibration of
    the superiority threshold needs).
    """

    decision: NDArray[np.int8]
    selected: NDArray[np.int16]
    stop_look: NDArray[np.int16]
    n_total: NDArray[np.int32]
    n_arm: NDArray[np.int32]
    duration: NDArray[np.float64]
    estimate: NDArray[np.float64]
    dropped: NDArray[np.bool_]
    max_better: NDArray[np.float64]

    @staticmethod
    def concatenate(parts: list[TrialOutcomes]) -> TrialOutcomes:
        """Stack blocks in order."""
        return TrialOutcomes(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in TrialOutcomes.__slots__)
        )


def allocation_probabilities(
    best: NDArray[np.float64],
    active: NDArray[np.bool_],
    control: int,
    *,
    adaptive: bool,
    softening: float,
    floor: float,
    cap: float,
) -> NDArray[np.float64]:
    """Allocation probabilities for the next patients (rows: trials; columns: arms).

    Weights ``P(best)^softening`` among active arms (equal weights when not adaptive), then
    the control share raised to ``floor`` and each experimental share lowered to ``cap``,
    the surplus going to the uncapped experimental arms in proportion, to control last.
    """
    w = np.where(active, best**softening if adaptive else 1.0, 0.0)
    total = w.sum(axis=1, keepdims=True)
    x = np.where(
        total > 0, w / np.where(total > 0, total, 1.0), active / active.sum(1, keepdims=True)
    )
    exp = active.copy()
    exp[:, control] = False
    xc = np.maximum(x[:, control], floor)
    rest = x * exp
    rest_sum = rest.sum(axis=1)
    n_exp = exp.sum(axis=1)
    equal = exp / np.maximum(n_exp, 1)[:, None]
    rest = np.where(
        (rest_sum > 0)[:, None], rest / np.where(rest_sum > 0, rest_sum, 1)[:, None], equal
    )
    x = rest * (1.0 - xc)[:, None]
    x[:, control] = np.where(n_exp > 0, xc, 1.0)
    for _ in range(x.shape[1]):
        over = exp & (x > cap + 1e-15)
        if not over.any():
            break
        excess = np.where(over, x - cap, 0.0).sum(axis=1)
        x = np.where(over, cap, x)
        free = exp & (x < cap - 1e-15)
        free_sum = np.where(free, x, 0.0).sum(axis=1)
        n_free = free.sum(axis=1)
        share = np.where(
            (free_sum > 0)[:, None],
            np.where(free, x, 0.0) / np.where(free_sum > 0, free_sum, 1.0)[:, None],
            free / np.maximum(n_free, 1)[:, None],
        )
        x = x + share * excess[:, None]
        x[:, control] += np.where(n_free == 0, excess, 0.0)
    return np.asarray(x / x.sum(axis=1, keepdims=True))
