"""The vectorised simulation kernel: one block of trials with one random generator.

All trials of a block advance together from analysis to analysis; the only Python loops are
over analyses and arms. Patients between two analyses are allocated with the probabilities
of the last analysis: for a binary outcome one uniform per patient gives the arm (cumulative
allocation) and, within that arm's share of [0, 1), the outcome; for a time-to-event outcome
each patient has an entry time (Poisson accrual), a unit-exponential variate turned into an
event time under the arm's piecewise-exponential hazard, and an allocation uniform.

Each trial consumes a fixed amount of random numbers whatever happens in other trials, so a
trial's data do not depend on whether its neighbours stopped (common random numbers across
thresholds, which the calibration uses). With Monte-Carlo posteriors the draws depend on the
data, so this holds for the data but not for the draws.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from infantall.design.adaptive.compiled import simulate_binary_compiled
from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.mixture_prior import control_mixture
from infantall.design.adaptive.outcomes import DECISIONS, TrialOutcomes, allocation_probabilities
from infantall.design.adaptive.posterior import posterior_probabilities
from infantall.design.adaptive.tte import engine as tte_engine

__all__ = [
    "DECISIONS",
    "TrialOutcomes",
    "allocation_probabilities",
    "simulate_block",
]

_SUP, _FUT, _EQ, _MAX = range(4)


class _State:
    """Mutable per-block state of the running trials."""

    def __init__(self, spec: TrialSpec, size: int) -> None:
        k = spec.n_arms
        self.spec = spec
        self.control = spec.control_index
        self.active = np.ones((size, k), dtype=bool)
        self.running = np.ones(size, dtype=bool)
        self.decision = np.full(size, _MAX, dtype=np.int8)
        self.selected = np.full(size, -1, dtype=np.int16)
        self.stop_look = np.full(size, len(_looks(spec)) - 1, dtype=np.int16)
        self.max_better = np.zeros(size)
        self.mixture = control_mixture(spec)  # None: every arm has the single Beta prior
        r = spec.randomisation
        self.alloc = allocation_probabilities(
            np.full((size, k), 1.0 / k),
            self.active,
            self.control,
            adaptive=False,
            softening=1.0,
            floor=r.control_floor,
            cap=r.cap,
        )

    def analyse(
        self,
        look: int,
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        family: str,
        rng: np.random.Generator,
    ) -> NDArray[np.bool_]:
        """Apply the decision rules at ``look``; return the trials that stopped here."""
        spec = self.spec
        idx = np.flatnonzero(self.running)
        stopped = np.zeros(self.running.size, dtype=bool)
        if idx.size == 0:
            return stopped
        eq = spec.decisions.equivalence
        probs = (posterior_probabilities if self.mixture is None else self.mixture.probabilities)(
            "beta" if family == "beta" else "gamma",
            a[idx],
            b[idx],
            self.active[idx],
            self.control,
            method=spec.posterior.method,
            grid=spec.posterior.grid,
            draws=spec.posterior.draws,
            margin=None if eq is None else eq.margin,
            rng=rng,
            # P(best) only sets the next allocation: none follows the last analysis
            need_best=spec.randomisation.adaptive and look < len(_looks(spec)) - 1,
        )
        active = self.active[idx]
        exp = active.copy()
        exp[:, self.control] = False
        better = np.where(exp, probs.better, -1.0)
        top = better.max(axis=1)
        self.max_better[idx] = np.maximum(self.max_better[idx], top)
        sup = top > spec.decisions.superiority
        fut_thr = spec.decisions.futility
        if fut_thr is not None:
            drop = exp & (probs.better < fut_thr) & ~sup[:, None]
            active = active & ~drop
            exp = exp & ~drop
        fut = ~sup & ~exp.any(axis=1)
        equiv = np.zeros(idx.size, dtype=bool)
        if eq is not None and probs.equivalent is not None:
            close = np.where(exp, probs.equivalent > eq.probability, True)
            equiv = ~sup & ~fut & close.all(axis=1)
        last = look == len(_looks(spec)) - 1
        stop = sup | fut | equiv | last
        code = np.select([sup, fut, equiv], [_SUP, _FUT, _EQ], _MAX).astype(np.int8)
        self.decision[idx[stop]] = code[stop]
        self.selected[idx[sup]] = better[sup].argmax(axis=1).astype(np.int16)
        self.stop_look[idx[stop]] = look
        self.active[idx] = active
        self.running[idx[stop]] = False
        stopped[idx[stop]] = True
        r = spec.randomisation
        best = probs.best if probs.best is not None else np.ones_like(probs.better)
        self.alloc[idx] = allocation_probabilities(
            best,
            active,
            self.control,
            adaptive=r.adaptive,
            softening=r.softening,
            floor=r.control_floor,
            cap=r.cap,
        )
        return stopped


def _looks(spec: TrialSpec) -> list[float]:
    a = spec.analyses
    return [float(v) for v in (a.patients if a.patients is not None else a.years or [])]


def _binary_compiled(spec: TrialSpec, size: int, rng: np.random.Generator) -> TrialOutcomes:
    """Binary outcome, quadrature posteriors, no equivalence rule: the compiled kernel."""
    alloc0 = _State(spec, 1).alloc[0]
    n, s, active, max_better, codes = simulate_binary_compiled(spec, size, rng, alloc0)
    n_total = codes[:, 3].astype(np.int32)
    rate = spec.accrual_per_year
    prior = spec.prior
    return TrialOutcomes(
        decision=codes[:, 0].astype(np.int8),
        selected=codes[:, 1].astype(np.int16),
        stop_look=codes[:, 2].astype(np.int16),
        n_total=n_total,
        n_arm=n.astype(np.int32),
        duration=n_total / rate + spec.outcome_lag_years
        if rate is not None
        else np.full(size, np.nan),
        estimate=(prior.beta_a + s) / (prior.beta_a + prior.beta_b + n),
        dropped=~active,
        max_better=max_better,
    )


def _simulate_binary(
    spec: TrialSpec,
    size: int,
    rng: np.random.Generator,
    mc_rng: np.random.Generator,
    *,
    compiled: bool = True,
) -> TrialOutcomes:
    if (
        compiled
        and spec.posterior.method == "quadrature"
        and spec.decisions.equivalence is None
        and spec.prior.control_mixture is None  # the kernel knows single Beta priors only
    ):
        return _binary_compiled(spec, size, rng)
    k = spec.n_arms
    truth = np.array([arm.p for arm in spec.arms], dtype=float)
    prior = spec.prior
    n = np.zeros((size, k), dtype=np.int64)
    s = np.zeros((size, k), dtype=np.int64)
    state = _State(spec, size)
    n_total = np.zeros(size, dtype=np.int32)
    previous = 0
    looks = spec.analyses.patients or []
    rows = np.arange(size)[:, None]
    for j, look in enumerate(looks):
        # fixed consumption of random numbers per trial (one uniform per patient), so that
        # a trial's data never depend on whether other trials stopped: calibration relies on
        # it. The uniform picks the arm by cumulative allocation; within the arm's interval
        # [lo, lo + alloc) it is uniform again and gives the outcome: u < lo + p x alloc.
        u = rng.random((size, look - previous))
        cum = np.cumsum(state.alloc, axis=1)
        arm = (u[:, :, None] >= cum[:, None, :-1]).sum(axis=2)
        thr = np.pad(cum, ((0, 0), (1, 0)))[:, :-1] + truth * state.alloc
        win = u < np.take_along_axis(thr, arm, axis=1)
        flat = (rows * k + arm).ravel()
        counts = np.bincount(flat, minlength=size * k).reshape(size, k)
        wins = np.bincount(flat, weights=win.ravel(), minlength=size * k).reshape(size, k)
        previous = look
        keep = state.running[:, None]
        n += counts * keep
        s += wins.astype(np.int64) * keep
        a = prior.beta_a + s
        b = prior.beta_b + (n - s)
        stopped = state.analyse(j, a.astype(float), b.astype(float), "beta", mc_rng)
        n_total[stopped] = look
    estimate = (prior.beta_a + s) / (prior.beta_a + prior.beta_b + n)
    if state.mixture is not None:
        estimate[:, state.control] = state.mixture.mean(s[:, state.control], n[:, state.control])
    if spec.accrual_per_year is not None:
        duration = n_total / spec.accrual_per_year + spec.outcome_lag_years
    else:
        duration = np.full(size, np.nan)
    return TrialOutcomes(
        decision=state.decision,
        selected=state.selected,
        stop_look=state.stop_look,
        n_total=n_total,
        n_arm=n.astype(np.int32),
        duration=np.asarray(duration, dtype=float),
        estimate=estimate,
        dropped=~state.active,
        max_better=state.max_better,
    )


def _event_times(spec: TrialSpec, unit: NDArray[np.float64]) -> NDArray[np.float64]:
    """Event time of every patient under every arm: inverse cumulative hazard of ``unit``."""
    out = np.empty((*unit.shape, spec.n_arms))
    for k, arm in enumerate(spec.arms):
        starts, hazards = (np.asarray(v, dtype=float) for v in arm.hazards())
        widths = np.diff(starts)
        cum = np.concatenate([[0.0], np.cumsum(hazards[:-1] * widths)])
        piece = np.searchsorted(cum, unit, side="right") - 1
        out[..., k] = starts[piece] + (unit - cum[piece]) / hazards[piece]
    return out


def _simulate_tte(
    spec: TrialSpec, size: int, rng: np.random.Generator, mc_rng: np.random.Generator
) -> TrialOutcomes:
    k = spec.n_arms
    n_max = int(spec.max_patients or 0)
    rate = float(spec.accrual_per_year or 1.0)
    prior = spec.prior
    entry = np.cumsum(rng.exponential(1.0 / rate, size=(size, n_max)), axis=1)
    times = _event_times(spec, rng.exponential(1.0, size=(size, n_max)))
    u_arm = rng.random((size, n_max))
    a_spec = spec.analyses
    if a_spec.patients is not None:
        tau = entry[:, np.asarray(a_spec.patients) - 1].copy()
    else:
        tau = np.broadcast_to(
            np.asarray(a_spec.years, dtype=float), (size, len(a_spec.years or []))
        ).copy()
    tau[:, -1] += a_spec.final_follow_up_years
    window = (entry[:, :, None] > tau[:, None, :]).sum(axis=2)
    arm = np.full((size, n_max), -1, dtype=np.intp)
    state = _State(spec, size)
    rows = np.arange(size)[:, None]
    d = np.zeros((size, k))
    expo = np.zeros((size, k))
    n_arm = np.zeros((size, k), dtype=np.int64)
    n_total = np.zeros(size, dtype=np.int32)
    duration = np.zeros(size)
    for j in range(tau.shape[1]):
        cum = np.cumsum(state.alloc, axis=1)
        pick = (u_arm[:, :, None] > cum[:, None, :-1]).sum(axis=2)
        arm = np.where(window == j, pick, arm)
        t_j = tau[:, j : j + 1]
        enrolled = (entry <= t_j) & (arm >= 0)
        follow = np.clip(t_j - entry, 0.0, None)
        t_ev = np.take_along_axis(times, np.maximum(arm, 0)[..., None], axis=2)[..., 0]
        event = enrolled & (t_ev <= follow)
        exposure = np.where(enrolled, np.minimum(t_ev, follow), 0.0)
        flat = (rows * k + np.maximum(arm, 0)).ravel()
        d_now = np.bincount(flat, weights=event.ravel(), minlength=size * k).reshape(size, k)
        e_now = np.bincount(flat, weights=exposure.ravel(), minlength=size * k).reshape(size, k)
        n_now = np.bincount(flat, weights=enrolled.ravel(), minlength=size * k).reshape(size, k)
        keep = state.running[:, None]
        d = np.where(keep, d_now, d)
        expo = np.where(keep, e_now, expo)
        n_arm = np.where(keep, n_now.astype(np.int64), n_arm)
        stopped = state.analyse(j, prior.gamma_shape + d, prior.gamma_rate + expo, "gamma", mc_rng)
        n_total[stopped] = n_arm[stopped].sum(axis=1)
        duration[stopped] = tau[stopped, j]
    estimate = (prior.gamma_shape + d) / (prior.gamma_rate + expo)
    return TrialOutcomes(
        decision=state.decision,
        selected=state.selected,
        stop_look=state.stop_look,
        n_total=n_total,
        n_arm=n_arm.astype(np.int32),
        duration=duration,
        estimate=estimate,
        dropped=~state.active,
        max_better=state.max_better,
    )


def simulate_block(spec: TrialSpec, size: int, seed: np.random.SeedSequence) -> TrialOutcomes:
    """Simulate ``size`` trials of ``spec`` with the generator seeded by ``seed``.

    The result depends only on ``(spec, size, seed)``: this is the unit of reproducibility
    that :func:`infantall.design.adaptive.run_trials` distributes. Patient data come from
    one child stream, Monte-Carlo posterior draws (if any) from another, so that the data of
    a trial are the same whatever the posterior method.
    """
    data_seed, mc_seed = seed.spawn(2)
    rng, mc_rng = np.random.default_rng(data_seed), np.random.default_rng(mc_seed)
    if spec.outcome == "binary":
        return _simulate_binary(spec, size, rng, mc_rng)
    if spec.tte is not None:
        return tte_engine.simulate_tte_block(spec, size, rng, mc_rng)
    return _simulate_tte(spec, size, rng, mc_rng)
