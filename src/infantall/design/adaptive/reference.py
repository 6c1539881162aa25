"""A per-trial, per-patient Python loop: the scalar reference of the vectorised engine.

It applies the same rules as :mod:`infantall.design.adaptive.engine` to one trial at a
time, one patient at a time, as a direct transcription of the protocol would. It is the
named baseline of ``benchmarks/bench_design.py`` and a cross-check in the tests (the two
agree in distribution, not draw for draw). Binary outcome only.
"""

from __future__ import annotations

import numpy as np

from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.engine import TrialOutcomes, allocation_probabilities
from infantall.design.adaptive.posterior import posterior_probabilities
from infantall.errors import InvalidInputError

__all__ = ["simulate_trial_loop", "simulate_trials_loop"]


def _decide(
    spec: TrialSpec, better: np.ndarray, equivalent: np.ndarray | None, active: list[bool]
) -> tuple[int, int, list[bool]]:
    """Return (decision code or -1 to continue, selected arm, active arms) for one trial."""
    control = spec.control_index
    exp = [i for i in range(spec.n_arms) if active[i] and i != control]
    top = max(exp, key=lambda i: better[i])
    if better[top] > spec.decisions.superiority:
        return 0, top, active
    fut = spec.decisions.futility
    if fut is not None:
        for i in exp:
            if better[i] < fut:
                active[i] = False
        exp = [i for i in exp if active[i]]
    if not exp:
        return 1, -1, active
    eq = spec.decisions.equivalence
    if (
        eq is not None
        and equivalent is not None
        and all(equivalent[i] > eq.probability for i in exp)
    ):
        return 2, -1, active
    return -1, -1, active


def simulate_trial_loop(spec: TrialSpec, rng: np.random.Generator) -> dict[str, object]:
    """Simulate one trial patient by patient; return its decision, arm counts and estimates."""
    if spec.outcome != "binary":
        raise InvalidInputError(
            "outcome", "the loop reference covers binary outcomes", "unsupported"
        )
    k = spec.n_arms
    control = spec.control_index
    truth = [float(a.p or 0.0) for a in spec.arms]
    r = spec.randomisation
    active = [True] * k
    alloc = allocation_probabilities(
        np.full((1, k), 1.0 / k),
        np.ones((1, k), dtype=bool),
        control,
        adaptive=False,
        softening=1.0,
        floor=r.control_floor,
        cap=r.cap,
    )[0].tolist()
    n = [0] * k
    s = [0] * k
    looks = spec.analyses.patients or []
    enrolled = 0
    decision, selected, max_better = 3, -1, 0.0
    eq = spec.decisions.equivalence
    for j, look in enumerate(looks):
        while enrolled < look:
            u = rng.random()
            arm, acc = k - 1, 0.0
            for i in range(k):
                acc += alloc[i]
                if u < acc:
                    arm = i
                    break
            n[arm] += 1
            s[arm] += int(rng.random() < truth[arm])
            enrolled += 1
        a = np.array([[spec.prior.beta_a + s[i] for i in range(k)]], dtype=float)
        b = np.array([[spec.prior.beta_b + n[i] - s[i] for i in range(k)]], dtype=float)
        probs = posterior_probabilities(
            "beta",
            a,
            b,
            np.array([active]),
            control,
            method=spec.posterior.method,
            grid=spec.posterior.grid,
            draws=spec.posterior.draws,
            margin=None if eq is None else eq.margin,
            rng=rng,
            need_best=r.adaptive,
        )
        better = probs.better[0]
        equivalent = None if probs.equivalent is None else probs.equivalent[0]
        max_better = max(max_better, *(better[i] for i in range(k) if active[i] and i != control))
        code, selected, active = _decide(spec, better, equivalent, active)
        if code >= 0 or j == len(looks) - 1:
            decision = code if code >= 0 else 3
            break
        best = probs.best if probs.best is not None else np.ones_like(probs.better)
        alloc = allocation_probabilities(
            best,
            np.array([active]),
            control,
            adaptive=r.adaptive,
            softening=r.softening,
            floor=r.control_floor,
            cap=r.cap,
        )[0].tolist()
    a0 = spec.prior.beta_a
    estimate = [(a0 + s[i]) / (a0 + spec.prior.beta_b + n[i]) for i in range(k)]
    total = sum(n)
    return {
        "decision": decision,
        "selected": selected,
        "n_total": total,
        "n_arm": n,
        "estimate": estimate,
        "dropped": [not x for x in active],
        "max_better": max_better,
    }


def simulate_trials_loop(spec: TrialSpec, n_trials: int, seed: int) -> TrialOutcomes:
    """``n_trials`` trials by :func:`simulate_trial_loop`, one after another."""
    rng = np.random.default_rng(seed)
    rows = [simulate_trial_loop(spec, rng) for _ in range(n_trials)]
    rate = spec.accrual_per_year
    n_total = np.array([row["n_total"] for row in rows], dtype=np.int32)
    duration = (
        n_total / rate + spec.outcome_lag_years if rate is not None else np.full(n_trials, np.nan)
    )
    return TrialOutcomes(
        decision=np.array([row["decision"] for row in rows], dtype=np.int8),
        selected=np.array([row["selected"] for row in rows], dtype=np.int16),
        stop_look=np.zeros(n_trials, dtype=np.int16),
        n_total=n_total,
        n_arm=np.array([row["n_arm"] for row in rows], dtype=np.int32),
        duration=np.asarray(duration, dtype=float),
        estimate=np.array([row["estimate"] for row in rows], dtype=float),
        dropped=np.array([row["dropped"] for row in rows], dtype=bool),
        max_better=np.array([row["max_better"] for row in rows], dtype=float),
    )
