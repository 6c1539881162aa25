"""Allocation algorithms of a running trial, as pure functions of explicit random streams.

Three methods, each a function of the trial's secret seed and of what has been enrolled so far,
so that a trial's allocations can be replayed bit for bit:

- :func:`permuted_block_arm`: stratified permuted blocks with random block sizes (each
  stratum has its own stream; a block is the allocation ratio times a multiplier drawn from
  ``multipliers``, shuffled);
- :func:`minimisation_arm`: Pocock and Simon's (1975) minimisation with the range of counts
  (divided by the target ratio when it is unequal) as the imbalance measure and a random
  element (the arm minimising imbalance with probability ``p_best``, another arm otherwise);
- :func:`adaptive_arm` with :func:`interim_update`: response-adaptive randomisation whose
  probabilities are those of the simulator. :func:`interim_update` runs the adaptive engine's
  own analysis step (``engine._State.analyse``: posterior probabilities, arm dropping,
  stopping rules, then ``allocation_probabilities``) on one trial's registry data, so the
  executed rule is the simulated rule. For a time-to-event design,
  :func:`tte_interim_update` takes per-patient follow-up times and events, computes each
  arm's hazard posterior with :mod:`infantall.design.tte_posterior`, and runs the same step.

Every draw comes from :func:`enrolment_generator` or :func:`stratum_generator`: a
``numpy.random.SeedSequence`` keyed by the seed and the enrolment number (or stratum), never
global state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.engine import DECISIONS, _State
from infantall.design.adaptive.posterior import posterior_probabilities
from infantall.design.tte_posterior import exposure_by_interval, piecewise_posterior
from infantall.errors import InvalidInputError

__all__ = [
    "InterimUpdate",
    "TteInterim",
    "adaptive_arm",
    "draw_arm",
    "enrolment_generator",
    "interim_update",
    "minimisation_arm",
    "permuted_block_arm",
    "permuted_block_sequence",
    "stratum_generator",
    "stratum_key",
    "tte_interim_update",
]


def _key_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def enrolment_generator(seed: int, number: int) -> np.random.Generator:
    """The generator of the ``number``-th enrolment (0-based) of a trial with ``seed``."""
    if number < 0:
        raise InvalidInputError("number", "an enrolment number is >= 0", "negative_enrolment")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, number)))


def stratum_key(levels: Mapping[str, str]) -> str:
    """Canonical text of a stratum (factor=level pairs sorted by factor)."""
    return "|".join(f"{k}={levels[k]}" for k in sorted(levels))


def stratum_generator(seed: int, stratum: str) -> np.random.Generator:
    """The generator of one stratum's block sequence."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, _key_int(stratum))))


def _check_ratio(ratio: Sequence[int], multipliers: Sequence[int]) -> None:
    if len(ratio) < 2 or any(int(r) < 1 for r in ratio):
        raise InvalidInputError("ratio", "at least two arms, each a whole number >= 1", "bad_ratio")
    if not multipliers or any(int(m) < 1 for m in multipliers):
        raise InvalidInputError(
            "block_multipliers", "one or more whole numbers >= 1", "bad_block_multipliers"
        )


def permuted_block_sequence(
    ratio: Sequence[int],
    multipliers: Sequence[int],
    length: int,
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """The first ``length`` arms of a permuted-block list with random block sizes.

    Each block holds ``ratio[k] * m`` patients of arm ``k``, ``m`` drawn uniformly from
    ``multipliers``, in a random order. Every complete block has exactly the ratio.
    """
    _check_ratio(ratio, multipliers)
    base = np.repeat(np.arange(len(ratio)), np.asarray(ratio, dtype=np.int64))
    blocks: list[NDArray[np.int64]] = []
    total = 0
    while total < length:
        m = int(multipliers[int(rng.integers(len(multipliers)))])
        block = rng.permutation(np.tile(base, m))
        blocks.append(block)
        total += block.size
    if not blocks:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(blocks)[:length].astype(np.int64)


def permuted_block_arm(
    seed: int, stratum: str, position: int, ratio: Sequence[int], multipliers: Sequence[int]
) -> int:
    """Arm of the ``position``-th patient (0-based) of ``stratum``."""
    seq = permuted_block_sequence(
        ratio, multipliers, position + 1, stratum_generator(seed, stratum)
    )
    return int(seq[position])


def draw_arm(probabilities: Sequence[float] | NDArray[np.float64], u: float) -> int:
    """Arm for a uniform ``u`` and allocation probabilities, as the simulator draws it.

    The engine picks ``(u >= cumsum(p)[:-1]).sum()`` (binary outcome).
    """
    p = np.asarray(probabilities, dtype=float)
    return int((u >= np.cumsum(p)[:-1]).sum())


def _pick(candidates: NDArray[np.int64], r: NDArray[np.float64], u: float) -> int:
    """One of ``candidates`` for a uniform ``u``: uniformly under equal ratios (as always),
    else with probability proportional to each candidate's target ratio."""
    share = r[candidates]
    if np.all(share == share[0]):
        return int(candidates[int(u * candidates.size)])
    return int(candidates[draw_arm(share / share.sum(), u)])


def minimisation_arm(
    counts: NDArray[np.int64],
    levels: Sequence[int],
    rng: np.random.Generator,
    *,
    p_best: float = 0.8,
    weights: Sequence[float] | None = None,
    ratio: Sequence[int] | None = None,
) -> int:
    """Pocock–Simon minimisation with a random element, for equal or unequal target ratios.

    Parameters
    ----------
    counts
        ``counts[f, level, arm]``: patients already allocated to each arm, per factor ``f`` and
        level (levels padded to the largest factor).
    levels
        The new patient's level of each factor.
    p_best
        Probability of the arm with the least total imbalance (ties broken at random); with
        ``1 - p_best`` another arm. ``p_best = 1`` is deterministic minimisation (except
        ties), ``1/n_arms`` simple randomisation under equal ratios.
    weights
        Factor weights (all 1 by default).
    ratio
        Target allocation ratio (all 1 by default), e.g. ``(2, 1, 1)``.

    The imbalance of assigning arm ``a`` is ``sum_f w_f * range_k((counts[f, level_f, k] +
    [k == a]) / ratio_k)`` (Pocock and Simon 1975, range measure, on counts divided by the
    target ratio as in Han, Enas and McEntegart 2009, so that balance means counts in the
    target proportions). Ties, and the other arms of the random element, are chosen with
    probability proportional to the target ratio (uniformly under equal ratios). Two
    uniforms are drawn per call.
    """
    n_factors, _, n_arms = counts.shape
    if len(levels) != n_factors:
        raise InvalidInputError("levels", f"one level per factor ({n_factors})", "bad_levels")
    if not 0.0 <= p_best <= 1.0:
        raise InvalidInputError("p_best", "a probability in [0, 1]", "bad_p_best")
    r = np.ones(n_arms) if ratio is None else np.asarray(ratio, dtype=float)
    if r.shape != (n_arms,) or (r < 1).any() or (r != np.floor(r)).any():
        raise InvalidInputError("ratio", f"one whole number >= 1 per arm ({n_arms})", "bad_ratio")
    w = np.ones(n_factors) if weights is None else np.asarray(weights, dtype=float)
    rows = counts[np.arange(n_factors), np.asarray(levels, dtype=np.int64)]  # (factors, arms)
    trial = rows[:, None, :] + np.eye(n_arms, dtype=np.int64)[None, :, :]  # (f, a, k)
    scaled = trial / r[None, None, :]
    score = (w[:, None] * (scaled.max(axis=2) - scaled.min(axis=2))).sum(axis=0)
    best = np.flatnonzero(np.isclose(score, score.min(), rtol=0.0, atol=1e-9))
    u_pick, u_tie = rng.random(2)
    if u_pick < p_best or best.size == n_arms:
        return _pick(best, r, float(u_tie))
    return _pick(np.setdiff1d(np.arange(n_arms), best), r, float(u_tie))


@dataclass(frozen=True, slots=True)
class InterimUpdate:
    """What the design's own rules decide at one interim from one trial's data.

    ``allocation`` is the probability of each arm for the next patients (zero for dropped
    arms); ``decision`` is ``"continue"`` or one of the engine's :data:`DECISIONS`;
    ``p_better`` and ``p_best`` are the posterior probabilities versus control and of being
    the best arm (``None`` for control in ``p_better``).
    """

    look: int
    allocation: tuple[float, ...]
    active: tuple[bool, ...]
    decision: str
    selected: int | None
    p_better: tuple[float | None, ...]
    p_best: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dictionary."""
        return {
            "look": self.look,
            "allocation": list(self.allocation),
            "active": list(self.active),
            "decision": self.decision,
            "selected": self.selected,
            "p_better": list(self.p_better),
            "p_best": list(self.p_best),
        }


def _posterior_parameters(
    spec: TrialSpec, n: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    prior = spec.prior
    if spec.outcome == "binary":
        return prior.beta_a + y, prior.beta_b + (n - y), "beta"
    return prior.gamma_shape + y, prior.gamma_rate + n, "gamma"


def _analysis(
    spec: TrialSpec,
    look: int,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    family: str,
    active: Sequence[bool],
    rng: np.random.Generator | None,
) -> InterimUpdate:
    """The engine's analysis step on one trial's posterior parameters ``a``, ``b`` (1 x arms)."""
    k = spec.n_arms
    gen = rng if rng is not None else np.random.default_rng(0)
    state = _State(spec, 1)
    state.active[0] = np.asarray(active, dtype=bool)
    stopped = state.analyse(look, a, b, family, gen)
    eq = spec.decisions.equivalence
    probs = posterior_probabilities(
        "beta" if family == "beta" else "gamma",
        a,
        b,
        np.asarray(active, dtype=bool)[None, :],
        spec.control_index,
        method="quadrature",
        grid=spec.posterior.grid,
        margin=None if eq is None else eq.margin,
    )
    best = probs.best if probs.best is not None else np.full((1, k), np.nan)
    sel = int(state.selected[0])
    return InterimUpdate(
        look=look,
        allocation=tuple(float(v) for v in state.alloc[0]),
        active=tuple(bool(v) for v in state.active[0]),
        decision=DECISIONS[int(state.decision[0])] if bool(stopped[0]) else "continue",
        selected=sel if sel >= 0 else None,
        p_better=tuple(
            None if i == spec.control_index else float(probs.better[0, i]) for i in range(k)
        ),
        p_best=tuple(float(v) for v in best[0]),
    )


def _check_look(spec: TrialSpec, look: int, *columns: Sequence[object]) -> None:
    n_looks = len(spec.analyses.patients or spec.analyses.years or [])
    if not 0 <= look < n_looks:
        raise InvalidInputError("look", f"an analysis index in 0..{n_looks - 1}", "bad_look")
    if any(len(c) != spec.n_arms for c in columns):
        raise InvalidInputError("arms", f"one value per arm ({spec.n_arms})", "bad_arm_count")


def interim_update(
    spec: TrialSpec,
    look: int,
    exposure: Sequence[float],
    events: Sequence[float],
    active: Sequence[bool],
    rng: np.random.Generator | None = None,
) -> InterimUpdate:
    """Run the simulator's analysis step at ``look`` on one trial's accumulated data.

    Binary outcome: ``exposure`` are patients with outcome data per arm, ``events`` their
    successes. Time to event: ``exposure`` is person-years per arm, ``events`` the events.
    ``active`` are the arms still in the trial before this look. ``rng`` feeds Monte-Carlo
    posteriors only (quadrature, the default, draws nothing).
    """
    _check_look(spec, look, exposure, events, active)
    n = np.asarray(exposure, dtype=float)[None, :]
    y = np.asarray(events, dtype=float)[None, :]
    if (y < 0).any() or (n < 0).any() or (spec.outcome == "binary" and (y > n).any()):
        raise InvalidInputError("events", "non-negative, successes <= patients", "bad_counts")
    a, b, family = _posterior_parameters(spec, n, y)
    return _analysis(spec, look, a, b, family, active, rng)


@dataclass(frozen=True, slots=True)
class TteInterim:
    """A time-to-event interim: the update and the per-arm events and person-years it used."""

    update: InterimUpdate
    events: tuple[float, ...]
    exposure: tuple[float, ...]


def tte_interim_update(
    spec: TrialSpec,
    look: int,
    times: Sequence[float],
    events: Sequence[int],
    arms: Sequence[int],
    active: Sequence[bool],
    rng: np.random.Generator | None = None,
) -> TteInterim:
    """Response-adaptive update of a time-to-event design from per-patient data.

    ``times`` are follow-up times (years from the time origin to the event or censoring),
    ``events`` 1 for an event and 0 for censoring, ``arms`` each patient's arm. Each arm's
    hazard posterior is :func:`infantall.design.tte_posterior.piecewise_posterior` with one
    interval and the design's Gamma(``gamma_shape``, ``gamma_rate``) prior (the engine's
    exponential model); its shape and rate go to the engine's own analysis step, so the
    allocation probabilities are those the simulator computes for the same events and
    person-years.
    """
    if spec.outcome != "time-to-event":
        raise InvalidInputError("spec.outcome", "a time-to-event design", "not_tte")
    arm = np.asarray(arms, dtype=np.int64)
    if len(times) != arm.size or len(events) != arm.size:
        raise InvalidInputError("arms", "one arm per patient time and event", "inconsistent")
    if arm.size and (arm.min() < 0 or arm.max() >= spec.n_arms):
        raise InvalidInputError("arms", f"arm indices in 0..{spec.n_arms - 1}", "bad_arm")
    _check_look(spec, look, active)
    t = np.asarray(times, dtype=float)
    e = np.asarray(events, dtype=np.int64)
    d, expo = [], []
    for k in range(spec.n_arms):
        dk, ek = exposure_by_interval(t[arm == k].tolist(), e[arm == k].tolist(), (0.0,))
        d.append(float(dk[0]))
        expo.append(float(ek[0]))
    post = [
        piecewise_posterior(
            t[arm == k].tolist(),
            e[arm == k].tolist(),
            (0.0,),
            prior_shape=spec.prior.gamma_shape,
            prior_rate=spec.prior.gamma_rate,
        )
        for k in range(spec.n_arms)
    ]
    a = np.array([[p.shape[0] for p in post]])
    b = np.array([[p.rate[0] for p in post]])
    return TteInterim(_analysis(spec, look, a, b, "gamma", active, rng), tuple(d), tuple(expo))


def adaptive_arm(allocation: Sequence[float], rng: np.random.Generator) -> int:
    """Arm of one patient under response-adaptive allocation probabilities (one uniform)."""
    return draw_arm(allocation, float(rng.random()))
