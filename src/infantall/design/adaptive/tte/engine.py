"""Simulate a block of time-to-event adaptive trials with the piecewise-exponential engine.

Data (one generator, a fixed amount of random numbers per trial whatever happens, as in
:mod:`infantall.design.adaptive.engine`): Poisson accrual; per patient a stratum, an MRD
status drawn from the arm's P(MRD negative), a cure indicator and a unit exponential turned
into an event time under the arm's (status's) piecewise-exponential hazards times the
stratum's multiplier. Arms are allocated, window by window, with the allocation
probabilities of the last analysis.

At each analysis (running trials only): events and exposure per arm, stratum, MRD level and
interval; the decision quantity ``P(S_k(h) > S_c(h) + delta)`` (or, with strata, ``P(mu_k <
0)`` for the borrowed mean log hazard ratio) from the conjugate posteriors, averaged over
multiple imputations of the missing follow-up to the horizon when there is a predictor; the
predictive probability of success at the final analysis by completing the trial from the
posterior predictive; then superiority (posterior above ``decisions.superiority``), arm
dropping (predictive probability below ``tte.predictive.futility``, or posterior below
``decisions.futility`` without predictive), futility stop when no experimental arm is left,
and response-adaptive allocation as in the binary engine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

import infantall.design.adaptive.outcomes as base
from infantall.design.adaptive.config import TrialSpec
from infantall.design.adaptive.tte import fused, model
from infantall.design.adaptive.tte.cure import cure_survival_draws
from infantall.design.adaptive.tte.data import generate
from infantall.design.adaptive.tte.hierarchy import borrow_log_hr
from infantall.design.adaptive.tte.mixture import ControlMixture
from infantall.design.adaptive.tte.predictor import (
    NEG,
    POS,
    UNKNOWN,
    LinkPosterior,
    complete_follow_up,
    draw_link,
    interval_stats,
)
from infantall.design.adaptive.tte.spec import HistoricalPrior, MixturePrior

__all__ = ["control_prior_ess", "simulate_tte_block"]

FloatArray = NDArray[np.float64]
_SUP, _FUT, _MAX = 0, 1, 3


class _Design:
    """Constants of a spec, computed once per block."""

    def __init__(self, spec: TrialSpec) -> None:
        tte = spec.tte
        if tte is None:  # pragma: no cover - dispatch guarantees it
            raise ValueError("tte: missing")
        self.spec, self.tte = spec, tte
        self.k = spec.n_arms
        self.control = spec.control_index
        self.cuts = np.asarray(tte.intervals, dtype=float)
        self.j = self.cuts.size
        self.s = 1 if tte.strata is None else len(tte.strata.names)
        self.g = self.k * self.s
        self.w = model.horizon_weights(self.cuts, tte.horizon_years)
        pred = tte.predictor
        self.day = None if pred is None or not pred.impute else pred.day_years
        shape = np.full((self.k, self.s, self.j), tte.prior_shape)
        rate = np.full((self.k, self.s, self.j), tte.prior_rate)
        self.link_shape = shape.reshape(self.g, self.j).copy()
        self.link_rate = rate.reshape(self.g, self.j).copy()
        hist = tte.control_prior
        if isinstance(hist, HistoricalPrior):
            shape[self.control] = np.asarray(hist.events)
            rate[self.control] = np.asarray(hist.events) / np.asarray(hist.hazards)
        #: the control's Gamma-mixture prior (one stratum: strata are refused with it)
        self.mix = ControlMixture(hist.components) if isinstance(hist, MixturePrior) else None
        self.mix_group = -1 if self.mix is None else self.control * self.s
        self.mix_args = _mix_args(self.mix, self.j, int(spec.max_patients or 0))
        self.prior_shape = shape.reshape(self.g, self.j)
        self.prior_rate = rate.reshape(self.g, self.j)
        if self.day is None:
            self.link_shape, self.link_rate = self.prior_shape, self.prior_rate

    def matched(self, d: FloatArray, e: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Matched Gamma (..., arms, strata) of each cumulative hazard at the horizon from
        events and exposure (..., groups, intervals); the mixture control by its exact
        posterior moments per interval."""
        full = (*d.shape[:-2], self.k, self.s)
        sh, rt = fused.matched(
            d, e, self.prior_shape, self.prior_rate, self.w, self.mix_group, self.mix_args
        )
        return sh.reshape(full), rt.reshape(full)

    def pooled(self, d: FloatArray, e: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Matched Gamma (..., arms) with the strata pooled."""
        if self.s == 1:
            sh, rt = self.matched(d, e)
            return sh[..., 0], rt[..., 0]
        lead = d.shape[:-2]
        full = (*lead, self.k, self.s, self.j)
        a = (self.prior_shape + d).reshape(full).sum(axis=-2)
        b = (self.prior_rate + e).reshape(full).sum(axis=-2)
        return model.matched_gamma(a, b, self.w)


def _mix_args(
    mix: ControlMixture | None, j: int, n: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The mixture prior's arrays for :func:`fused.matched` (unused unit arrays without one)."""
    if mix is None:
        one = np.ones((j, 1))
        return one, one, one, np.zeros((j, 1, 1))
    return mix.const, mix.shape, mix.rate, fused.lgamma_table(mix.shape, n)


def _quantity(des: _Design, sh: FloatArray, rt: FloatArray) -> FloatArray:
    """Decision quantity per arm from the matched Gammas (..., arms, strata)."""
    lead = sh.shape[:-2]
    c = des.control
    if des.tte.strata is not None:
        st = des.tte.strata
        eff = borrow_log_hr(
            sh, rt, sh[..., c : c + 1, :], rt[..., c : c + 1, :],
            tau=st.log_hr_sd, mean_prior_sd=st.mean_prior_sd,
        )  # fmt: skip
        return eff.prob_benefit
    if des.tte.delta <= 0:
        return fused.prob_better(sh[..., 0], rt[..., 0], c)
    exp = np.arange(des.k) != c
    ak, bk, ac, bc = sh[..., exp, 0], rt[..., exp, 0], sh[..., c : c + 1, 0], rt[..., c : c + 1, 0]
    out = np.full((*lead, des.k), 0.5)
    out[..., exp] = model.prob_better_by(ak, bk, ac, bc, des.tte.delta)
    return out


def _best(
    des: _Design,
    d: FloatArray,
    e: FloatArray,
    matched: tuple[FloatArray, FloatArray],
    active: NDArray[np.bool_],
    rng: np.random.Generator,
) -> FloatArray:
    """P(best) per arm, averaged over the leading completions axis if any (strata pooled;
    with one stratum the ``matched`` Gammas of ``d, e`` are used as they are)."""
    sh, rt = (matched[0][..., 0], matched[1][..., 0]) if des.s == 1 else des.pooled(d, e)
    if sh.ndim == 2:
        return model.prob_best(sh, rt, active, des.tte.best_draws, rng)
    m = sh.shape[1]
    per = max(1, des.tte.best_draws // m)
    act = np.repeat(active, m, axis=0)
    p = model.prob_best(sh.reshape(-1, des.k), rt.reshape(-1, des.k), act, per, rng)
    return np.asarray(p.reshape(sh.shape).mean(axis=1), dtype=float)


class _Look:
    """What is known at one analysis, for the running trials ``idx``."""

    def __init__(
        self,
        des: _Design,
        t: FloatArray,
        entry: FloatArray,
        arm: NDArray[np.intp],
        t_ev: FloatArray,
        neg: NDArray[np.bool_],
        stratum: NDArray[np.int64],
    ) -> None:
        self.t, self.entry = t, entry
        self.enrolled = (arm >= 0) & (entry <= t[:, None])
        self.follow = np.clip(t[:, None] - entry, 0.0, None)
        self.x = np.minimum(t_ev, self.follow)
        self.ev = self.enrolled & (t_ev <= self.follow)
        self.stratum = stratum
        self.group = np.maximum(arm, 0) * des.s + stratum
        if des.day is None:
            self.status = np.full(arm.shape, NEG, dtype=np.int64)
        else:
            known = (self.follow >= des.day) & (t_ev > des.day)
            self.status = np.where(known, np.where(neg, NEG, POS), UNKNOWN).astype(np.int64)
        d, e = interval_stats(
            des.cuts, self.x, self.ev, self.group * 3 + self.status, self.enrolled, des.g * 3
        )
        self.d = d.reshape(-1, des.g, 3, des.j)
        self.e = e.reshape(-1, des.g, 3, des.j)
        self.d_all = self.d.sum(axis=2)
        self.e_all = self.e.sum(axis=2)

    def n_known(self, des: _Design) -> tuple[FloatArray, FloatArray]:
        """MRD-negative and MRD-positive counts per (trial, group)."""
        counts = []
        for level in (NEG, POS):
            hit = self.enrolled & (self.status == level)
            flat = (np.arange(hit.shape[0])[:, None] * des.g + self.group)[hit]
            counts.append(np.bincount(flat, minlength=hit.shape[0] * des.g).reshape(-1, des.g))
        return counts[0].astype(float), counts[1].astype(float)

    def link(self, des: _Design, draws: int, rng: np.random.Generator) -> LinkPosterior:
        """Posterior draws of the link model."""
        if des.day is None:
            out = draw_link(self.d, self.e, des.link_shape, des.link_rate, None, None, draws, rng)
            self._mixture_link(des, out, rng)
            return out
        d, e = self.d, self.e
        pooled = des.tte.predictor is not None and des.tte.predictor.link == "pooled"
        shape, rate = des.link_shape, des.link_rate
        if pooled:  # one set of hazards per stratum and status, shared by the arms: drawn once
            full = (d.shape[0], des.k, des.s, 3, des.j)
            d, e = d.reshape(full).sum(axis=1), e.reshape(full).sum(axis=1)
            shape, rate = shape[: des.s], rate[: des.s]  # the vague link prior, same per arm
        link = draw_link(d, e, shape, rate, des.tte.day_index, self.n_known(des), draws, rng)
        if pooled:
            link.hazards = link.hazards[:, :, np.arange(des.g) % des.s]
        return link

    def _mixture_link(self, des: _Design, link: LinkPosterior, rng: np.random.Generator) -> None:
        """Without an imputing predictor the link is the arms' own posterior: the mixture
        control's hazards are drawn from its mixture posterior."""
        if des.mix is not None:
            c = des.control * des.s
            draws = link.hazards.shape[1]
            link.hazards[:, :, c, 0, :] = des.mix.draw(
                self.d_all[:, c], self.e_all[:, c], draws, rng
            )


def _imputed(
    des: _Design, look: _Look, link: LinkPosterior, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Posterior Gamma parameters after multiple imputation of follow-up to the horizon."""
    pred = des.tte.predictor
    draws = 1 if pred is None else pred.imputations
    cens = np.full(look.x.shape, des.tte.horizon_years)
    d, e = complete_follow_up(
        des.cuts, look.follow, look.x, look.ev, look.status, look.group,
        look.enrolled, cens, link.head(draws), rng,
    )  # fmt: skip
    return d, e


def _final_time(des: _Design, look: _Look, sim_entry: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Calendar time of the final analysis and the last entry time that counts."""
    a = des.spec.analyses
    fu = a.final_follow_up_years
    if a.patients is not None:
        last = sim_entry[:, a.patients[-1] - 1]
        return last + fu, last
    end = np.full(look.t.shape, float((a.years or [0.0])[-1]))
    return end + fu, end


def _predictive(
    des: _Design,
    look: _Look,
    alloc: FloatArray,
    link: LinkPosterior,
    rng: np.random.Generator,
    *,
    imputations: int = 0,
) -> tuple[FloatArray, tuple[FloatArray, FloatArray] | None]:
    """Predictive probability, per arm, that the final analysis declares it better.

    The remaining patients enter by the accrual process and are allocated with the current
    probabilities (later adaptation is not simulated inside a completion).

    With ``imputations > 0`` the first that many completions, censored at the horizon for
    the enrolled patients, also give the multiple-imputation posterior (returned second):
    the same draws serve both, in one pass.
    """
    pp = des.tte.predictive
    if pp is None:  # pragma: no cover - caller checks
        raise ValueError("tte.predictive: missing")
    future = ~look.enrolled
    gaps = rng.exponential(1.0 / float(des.spec.accrual_per_year or 1.0), look.x.shape)
    sim_entry = np.where(
        future, look.t[:, None] + np.cumsum(np.where(future, gaps, 0.0), axis=1), look.entry
    )
    t_final, last_entry = _final_time(des, look, sim_entry)
    include = look.enrolled | (future & (sim_entry <= last_entry[:, None]))
    pick = _count_above(rng.random(look.x.shape), np.cumsum(alloc, axis=1)[:, :-1])
    group = np.where(future, pick * des.s + look.stratum, look.group)
    status = np.where(future, UNKNOWN, look.status)
    horizon = np.full(look.x.shape, des.tte.horizon_years)
    also = (look.enrolled, horizon, imputations) if imputations > 0 else None
    out = complete_follow_up(
        des.cuts, np.where(future, 0.0, look.follow), np.where(future, 0.0, look.x),
        look.ev & ~future, status, group, include,
        t_final[:, None] - sim_entry, link.head(pp.draws), rng, also=also,
    )  # fmt: skip
    final = _quantity(des, *des.matched(out[0], out[1]))
    ppos = np.asarray((final > pp.success).mean(axis=1), dtype=float)
    if also is None:
        return ppos, None
    return ppos, (out[2], out[3])


class _Trials:
    """Per-block state of the running trials and their results."""

    def __init__(self, des: _Design, size: int, n_looks: int) -> None:
        k = des.k
        r = des.spec.randomisation
        self.des = des
        self.n_looks = n_looks
        self.active = np.ones((size, k), dtype=bool)
        self.running = np.ones(size, dtype=bool)
        self.decision = np.full(size, _MAX, dtype=np.int8)
        self.selected = np.full(size, -1, dtype=np.int16)
        self.stop_look = np.full(size, n_looks - 1, dtype=np.int16)
        self.max_better = np.zeros(size)
        self.n_total = np.zeros(size, dtype=np.int32)
        self.n_arm = np.zeros((size, k), dtype=np.int32)
        self.duration = np.zeros(size)
        self.estimate = np.full((size, k), np.nan)
        self.alloc = base.allocation_probabilities(
            np.full((size, k), 1.0 / k), self.active, des.control,
            adaptive=False, softening=1.0, floor=r.control_floor, cap=r.cap,
        )  # fmt: skip

    def record(self, idx: NDArray[np.intp], look: _Look, arm: NDArray[np.intp]) -> None:
        """Sample sizes, duration and estimates as of this analysis."""
        des = self.des
        rows = np.arange(idx.size)[:, None]
        flat = (rows * des.k + np.maximum(arm, 0))[look.enrolled]
        n_arm = np.bincount(flat, minlength=idx.size * des.k).reshape(idx.size, des.k)
        self.n_arm[idx] = n_arm
        self.n_total[idx] = n_arm.sum(axis=1)
        self.duration[idx] = look.t
        sh, rt = des.pooled(look.d_all, look.e_all)
        self.estimate[idx] = (rt / (rt + 1.0)) ** sh

    def decide(
        self, idx: NDArray[np.intp], j: int, better: FloatArray, ppos: FloatArray | None
    ) -> None:
        """Superiority, arm dropping and futility for the running trials ``idx``."""
        des, spec = self.des, self.des.spec
        active = self.active[idx]
        exp = active.copy()
        exp[:, des.control] = False
        masked = np.where(exp, better, -1.0)
        top = masked.max(axis=1)
        self.max_better[idx] = np.maximum(self.max_better[idx], top)
        sup = top > spec.decisions.superiority
        if ppos is not None and des.tte.predictive is not None:
            drop = exp & (ppos < des.tte.predictive.futility) & ~sup[:, None]
        elif spec.decisions.futility is not None:
            drop = exp & (better < spec.decisions.futility) & ~sup[:, None]
        else:
            drop = np.zeros_like(exp)
        active &= ~drop
        exp &= ~drop
        fut = ~sup & ~exp.any(axis=1)
        stop = sup | fut | (j == self.n_looks - 1)
        code = np.select([sup, fut], [_SUP, _FUT], _MAX).astype(np.int8)
        self.decision[idx[stop]] = code[stop]
        self.selected[idx[sup]] = masked[sup].argmax(axis=1).astype(np.int16)
        self.stop_look[idx[stop]] = j
        self.active[idx] = active
        self.running[idx[stop]] = False

    def reallocate(self, idx: NDArray[np.intp], best: FloatArray) -> None:
        """Allocation probabilities for the next window."""
        r = self.des.spec.randomisation
        self.alloc[idx] = base.allocation_probabilities(
            best, self.active[idx], self.des.control,
            adaptive=r.adaptive, softening=r.softening, floor=r.control_floor, cap=r.cap,
        )  # fmt: skip

    def outcomes(self) -> base.TrialOutcomes:
        """The block's results."""
        return base.TrialOutcomes(
            decision=self.decision,
            selected=self.selected,
            stop_look=self.stop_look,
            n_total=self.n_total,
            n_arm=self.n_arm,
            duration=self.duration,
            estimate=self.estimate,
            dropped=~self.active,
            max_better=self.max_better,
        )


def _count_above(x: FloatArray, edges: FloatArray) -> NDArray[np.intp]:
    """Per (trial, patient), how many of the trial's ``edges`` (trials, n) lie below ``x``
    (one comparison per edge on the whole array: faster than a reduction over a short axis)."""
    out = np.zeros(x.shape, dtype=np.intp)
    for k in range(edges.shape[1]):
        out += x > edges[:, k : k + 1]
    return out


def _analysis_times(spec: TrialSpec, entry: FloatArray) -> FloatArray:
    a = spec.analyses
    if a.patients is not None:
        tau = entry[:, np.asarray(a.patients) - 1].copy()
    else:
        tau = np.broadcast_to(
            np.asarray(a.years, dtype=float), (entry.shape[0], len(a.years or []))
        )
        tau = tau.copy()
    tau[:, -1] += a.final_follow_up_years
    return tau


def _analyse(
    trials: _Trials, j: int, look: _Look, idx: NDArray[np.intp], rng: np.random.Generator
) -> None:
    des = trials.des
    last = j == trials.n_looks - 1
    adaptive = des.spec.randomisation.adaptive and not last
    pred = des.tte.predictor if des.day is not None else None
    pp = des.tte.predictive
    link = None
    if not last and (pred is not None or pp is not None):
        draws = max(0 if pred is None else pred.imputations, 0 if pp is None else pp.draws)
        link = look.link(des, draws, rng)
    if des.tte.cure_analysis is not None:
        _analyse_cure(trials, j, look, idx, rng)
        return
    ppos, imputed = None, None
    if link is not None and pp is not None:
        m = 0 if pred is None or pred.imputations > pp.draws else pred.imputations
        ppos, imputed = _predictive(des, look, trials.alloc[idx], link, rng, imputations=m)
    if link is not None and pred is not None:
        a, b = imputed if imputed is not None else _imputed(des, look, link, rng)
        matched = des.matched(a, b)
        better = _quantity(des, *matched).mean(axis=1)
    else:
        a, b = look.d_all, look.e_all
        matched = des.matched(a, b)
        better = _quantity(des, *matched)
    active_before = trials.active[idx].copy()
    trials.decide(idx, j, better, ppos)
    if adaptive:
        best = _best(des, a, b, matched, active_before, rng)
        trials.reallocate(idx, best)
    else:
        trials.reallocate(idx, np.ones_like(better))


def _analyse_cure(
    trials: _Trials, j: int, look: _Look, idx: NDArray[np.intp], rng: np.random.Generator
) -> None:
    """Decisions from mixture-cure posterior draws of S(horizon) per arm."""
    des = trials.des
    cure = des.tte.cure_analysis
    if cure is None:  # pragma: no cover - caller checks
        raise ValueError("tte.cure_analysis: missing")
    s = cure_survival_draws(
        des.cuts, look.x, look.ev, look.group, look.enrolled, des.prior_shape, des.prior_rate,
        (cure.beta_a, cure.beta_b), des.w, iterations=cure.iterations, burn=cure.burn, rng=rng,
    )  # fmt: skip
    c = des.control
    better = np.mean(s > s[:, c : c + 1, :] + des.tte.delta, axis=2)
    active_before = trials.active[idx].copy()
    trials.decide(idx, j, better, None)
    ranked = np.where(active_before[:, :, None], s, -np.inf).argmax(axis=1)
    best = (ranked[:, None, :] == np.arange(des.k)[None, :, None]).mean(axis=2)
    r = des.spec.randomisation
    trials.reallocate(idx, best if r.adaptive else np.ones_like(better))


def control_prior_ess(spec: TrialSpec) -> list[float] | None:
    """ELIR effective sample size in events per interval of a Gamma-mixture control prior
    (None without one)."""
    mix = _Design(spec).mix if spec.tte is not None else None
    return None if mix is None else [float(v) for v in mix.ess_elir()]


def simulate_tte_block(
    spec: TrialSpec, size: int, rng: np.random.Generator, mc_rng: np.random.Generator
) -> base.TrialOutcomes:
    """Simulate ``size`` trials of a spec with a ``tte:`` block (see the module docstring).

    Patient data come from ``rng``, posterior, imputation and predictive draws from
    ``mc_rng``.
    """
    des = _Design(spec)
    entry, times, negs, stratum, u_arm = generate(des.spec, des.cuts, size, rng)
    tau = _analysis_times(spec, entry)
    window = _count_above(entry, tau)
    arm = np.full(entry.shape, -1, dtype=np.intp)
    trials = _Trials(des, size, tau.shape[1])
    for j in range(tau.shape[1]):
        pick = _count_above(u_arm, np.cumsum(trials.alloc, axis=1)[:, :-1])
        arm = np.where(window == j, pick, arm)
        idx = np.flatnonzero(trials.running)
        if idx.size == 0:
            break
        sel = np.maximum(arm[idx], 0)[..., None]
        t_ev = np.take_along_axis(times[idx], sel, axis=2)[..., 0]
        neg = np.take_along_axis(negs[idx], sel, axis=2)[..., 0]
        look = _Look(des, tau[idx, j], entry[idx], arm[idx], t_ev, neg, stratum[idx])
        trials.record(idx, look, arm[idx])
        _analyse(trials, j, look, idx, mc_rng)
    return trials.outcomes()
