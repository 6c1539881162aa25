"""Operating characteristics of simulated trials.

Follows adaptr's ``check_performance`` / ``calibrate_trial`` (Granholm et al. 2022): the
probability of each decision, of selecting each arm, expected sample size and duration, and
the bias of the final estimates, each with its Monte-Carlo standard error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.engine import DECISIONS, TrialOutcomes

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OperatingCharacteristics", "SimulationResult"]


def _true_values(spec: TrialSpec) -> np.ndarray[Any, np.dtype[np.float64]]:
    """True parameter per arm: the proportion (binary) or the hazard (constant hazards only)."""
    out = []
    for arm in spec.arms:
        if spec.outcome == "binary":
            out.append(float(arm.p if arm.p is not None else np.nan))
        else:
            _starts, hazards = arm.hazards()
            out.append(hazards[0] if len(hazards) == 1 else np.nan)
    return np.asarray(out, dtype=float)


def _better_than_control(spec: TrialSpec) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Arms truly better than control (piecewise hazards compared by cumulative hazard at 5y)."""
    vals = []
    for arm in spec.arms:
        if spec.outcome == "binary":
            vals.append(float(arm.p or 0.0))
        else:
            starts, hazards = arm.hazards()
            ends = [*starts[1:], np.inf]
            cum = sum(
                h * max(0.0, min(5.0, e) - s) for s, e, h in zip(starts, ends, hazards, strict=True)
            )
            vals.append(-cum)
    v = np.asarray(vals)
    return np.asarray(v > v[spec.control_index] + 1e-12)


@dataclass(frozen=True, slots=True)
class OperatingCharacteristics:
    """What a design does over many simulated trials.

    ``prob_superiority`` is the type-I error when no arm beats control (the null scenario),
    and the power otherwise; ``prob_select_better`` counts only selections of an arm that is
    truly better than control. ``mcse_*`` are Monte-Carlo standard errors.
    """

    n_trials: int
    superiority_threshold: float
    prob_superiority: float
    mcse_superiority: float
    prob_select_better: float
    prob_futility: float
    prob_equivalence: float
    prob_max_sample_size: float
    expected_n: float
    sd_n: float
    expected_duration: float
    arms: tuple[str, ...]
    prob_select: tuple[float, ...]
    prob_dropped: tuple[float, ...]
    mean_n_arm: tuple[float, ...]
    true_value: tuple[float, ...]
    mean_estimate: tuple[float, ...]
    bias: tuple[float, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per arm."""
        import pandas as pd

        return pd.DataFrame(self.arm_records())

    def arm_records(self) -> list[dict[str, Any]]:
        """One mapping per arm (the CLI's records)."""
        return [
            {
                "arm": name,
                "true_value": self.true_value[i],
                "prob_select": self.prob_select[i],
                "prob_dropped": self.prob_dropped[i],
                "mean_n": self.mean_n_arm[i],
                "mean_estimate": self.mean_estimate[i],
                "bias": self.bias[i],
            }
            for i, name in enumerate(self.arms)
        ]

    def overall(self) -> dict[str, float | int]:
        """The trial-level figures (the CLI's meta)."""
        return {
            "n_trials": self.n_trials,
            "superiority_threshold": self.superiority_threshold,
            "prob_superiority": self.prob_superiority,
            "mcse_superiority": self.mcse_superiority,
            "prob_select_better": self.prob_select_better,
            "prob_futility": self.prob_futility,
            "prob_equivalence": self.prob_equivalence,
            "prob_max_sample_size": self.prob_max_sample_size,
            "expected_n": self.expected_n,
            "sd_n": self.sd_n,
            "expected_duration_years": self.expected_duration,
        }


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Per-trial outcomes of a run, with the specification and seed that produced them."""

    spec: TrialSpec
    n_trials: int
    seed: int
    block_size: int
    outcomes: TrialOutcomes

    def operating_characteristics(self) -> OperatingCharacteristics:
        """Summarise the run (see :class:`OperatingCharacteristics`)."""
        o = self.outcomes
        n = self.n_trials
        dec = np.bincount(o.decision, minlength=len(DECISIONS)) / n
        sel = np.bincount(o.selected + 1, minlength=self.spec.n_arms + 1)[1:] / n
        truth = _true_values(self.spec)
        better = _better_than_control(self.spec)
        picked = o.selected >= 0
        good = np.zeros(n, dtype=bool)
        good[picked] = better[o.selected[picked]]
        mean_est = o.estimate.mean(axis=0)
        p_sup = float(dec[0])
        return OperatingCharacteristics(
            n_trials=n,
            superiority_threshold=self.spec.decisions.superiority,
            prob_superiority=p_sup,
            mcse_superiority=float(np.sqrt(p_sup * (1 - p_sup) / n)),
            prob_select_better=float(good.mean()) if better.any() else float("nan"),
            prob_futility=float(dec[1]),
            prob_equivalence=float(dec[2]),
            prob_max_sample_size=float(dec[3]),
            expected_n=float(o.n_total.mean()),
            sd_n=float(o.n_total.std(ddof=1)) if n > 1 else 0.0,
            expected_duration=float(o.duration.mean()),
            arms=tuple(a.name for a in self.spec.arms),
            prob_select=tuple(float(v) for v in sel),
            prob_dropped=tuple(float(v) for v in o.dropped.mean(axis=0)),
            mean_n_arm=tuple(float(v) for v in o.n_arm.mean(axis=0)),
            true_value=tuple(float(v) for v in truth),
            mean_estimate=tuple(float(v) for v in mean_est),
            bias=tuple(float(v) for v in mean_est - truth),
        )
