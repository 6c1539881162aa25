"""The conclusions of seed 004 (Kotecha et al. 2014) checked against the evidence base.

Three claims of the review are restated as analyses and answered with numbers computed here,
never typed in:

1. "no superior chemotherapeutic backbone" for KMT2A-rearranged infants ("similar EFS across
   each of the collaborative groups"): EFS of KMT2A-r cohorts pooled by study group, with the
   test of subgroup differences, and the same test without the most influential cohort;
2. "the poor outcome has plateaued" (EFS of infant-specific protocols near 40%): the pooled
   5-year EFS of infant-specific trials accruing from 1995 on, and the meta-regression slope on
   accrual mid-year before and after that year;
3. "no benefit for HSCT in first CR (Table 3)": outcomes after HSCT pooled from Table 3, and
   the one within-trial comparison in the seed (CCG-1953/POG 9407, transplanted vs not).

Each check returns a sentence stating what the data show, with the numbers behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from infantall.synthesis.evidence_inputs import Selection, evidence_frame, select_estimates
from infantall.synthesis.hsct import HSCT_OUTCOMES, hsct_counts_from_evidence, pool_hsct_outcomes
from infantall.synthesis.metareg import meta_regression
from infantall.synthesis.pool import pool_proportions
from infantall.synthesis.subgroups import subgroup_analysis

__all__ = [
    "PLATEAU_FROM",
    "ClaimCheck",
    "check_backbone",
    "check_hsct",
    "check_plateau",
    "check_seed_claims",
]

PLATEAU_FROM = 1995
"""Accrual mid-year from which the "plateau" is examined: the era of the collaborative
infant-specific trials (CCG-1953, POG 9407, JILSG MLL96/98, Interfant-99, COG P9407)."""


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """One seed claim, the analysis that tests it and what the data show."""

    claim: str
    source: str
    sentence: str
    numbers: dict[str, Any] = field(default_factory=dict)


def _pct(x: float) -> str:
    return f"{x:.1f}%"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _between(sel: Selection, groups: list[str]) -> tuple[float, int, float]:
    sub = subgroup_analysis(sel.inputs(), groups, by="group")
    return sub.q_between, sub.df_between, sub.p_between


def check_backbone(frame: pd.DataFrame | None = None) -> ClaimCheck:
    """Claim 1: similar EFS of KMT2A-r infants across study groups (no superior backbone)."""
    sel = select_estimates(frame, endpoint="efs", population="kmt2a_r")
    t = sel.table
    groups = t["group"].astype(str).tolist()
    q, df, p = _between(sel, groups)
    pct = t["percent"].to_numpy(dtype=float)
    studies = t["study"].astype(str).tolist()
    lo, hi = int(np.argmin(pct)), int(np.argmax(pct))
    horizon = float(t["horizon_years"].iloc[0])
    numbers: dict[str, Any] = {
        "k": len(t),
        "groups": len(set(groups)),
        "horizon_years": horizon,
        "q_between": q,
        "df_between": df,
        "p_between": p,
        "min_pct": float(pct[lo]),
        "min_study": studies[lo],
        "max_pct": float(pct[hi]),
        "max_study": studies[hi],
    }
    sentence = (
        f"{horizon:g}-year EFS of KMT2A-r infants in {len(t)} cohorts from "
        f"{len(set(groups))} study groups ranges from {_pct(numbers['min_pct'])} "
        f"({numbers['min_study']}) to {_pct(numbers['max_pct'])} ({numbers['max_study']}); "
        f"the test of differences between groups gives Q = {q:.1f} on {df} df, {_p(p)}."
    )
    # Which single cohort drives the difference? Drop each in turn (keeping ≥ 2 groups).
    best: tuple[float, str, float] | None = None
    for i in range(len(t)):
        keep = np.arange(len(t)) != i
        rest = [g for g, k in zip(groups, keep, strict=True) if k]
        if len(set(rest)) < 2:
            continue
        sub = Selection(t[keep].reset_index(drop=True), sel.endpoint, sel.notes)
        q_i, _df_i, p_i = _between(sub, rest)
        if best is None or q_i < best[0]:
            best = (q_i, studies[i], p_i)
    if best is not None and p < 0.05:
        numbers.update(without_study=best[1], p_between_without=best[2])
        verdict = "similar" if best[2] >= 0.05 else "still different"
        sentence += (
            f" The difference comes mostly from {best[1]}: without it the groups are "
            f"{verdict} ({_p(best[2])}), so 'similar EFS across groups' holds for the other "
            f"{len(t) - 1} cohorts but not for {best[1]}."
            if best[2] >= 0.05
            else f" Without {best[1]} the groups are {verdict} ({_p(best[2])})."
        )
    elif p >= 0.05:
        sentence += " The data are consistent with similar EFS across groups."
    return ClaimCheck(
        claim="No superior chemotherapeutic backbone for KMT2A-r infants",
        source="Seed 004, 'Summary of outcomes from the infant-specific protocols'",
        sentence=sentence,
        numbers=numbers,
    )


def _slope_per_decade(sel: Selection) -> tuple[float, float, float, float]:
    """Odds ratio of EFS per decade of accrual mid-year with its 95% CI, and the p-value."""
    mods = sel.table[["accrual_mid_year"]]
    reg = meta_regression(sel.inputs(), mods)
    b, lo, hi = reg.fit.beta[1], reg.fit.ci_low[1], reg.fit.ci_high[1]
    return math.exp(10 * b), math.exp(10 * lo), math.exp(10 * hi), float(reg.fit.pvalues[1])


def check_plateau(frame: pd.DataFrame | None = None, since: int = PLATEAU_FROM) -> ClaimCheck:
    """Claim 2: EFS of infant-specific protocols has plateaued (near 40%)."""
    sel = select_estimates(frame, endpoint="efs", protocol_type="infant-specific", horizon=5)
    t = sel.table
    recent_mask = t["accrual_mid_year"] >= since
    recent = Selection(t[recent_mask].reset_index(drop=True), "efs", sel.notes)
    early = Selection(t[~recent_mask].reset_index(drop=True), "efs", sel.notes)
    pooled = pool_proportions(recent.inputs())
    or_all = _slope_per_decade(sel)
    or_recent = _slope_per_decade(recent) if recent.k >= 3 else (math.nan,) * 4
    or_early = _slope_per_decade(early) if early.k >= 3 else (math.nan,) * 4
    near = pooled.ci_low_pct <= 40.0 <= pooled.ci_high_pct
    numbers = {
        "since": since,
        "k_recent": recent.k,
        "k_all": sel.k,
        "pooled_recent_pct": pooled.estimate_pct,
        "ci_low_pct": pooled.ci_low_pct,
        "ci_high_pct": pooled.ci_high_pct,
        "pi_low_pct": pooled.pi_low_pct,
        "pi_high_pct": pooled.pi_high_pct,
        "i2_pct": pooled.fit.i2,
        "or_per_decade_all": or_all[0],
        "p_all": or_all[3],
        "or_per_decade_recent": or_recent[0],
        "or_recent_ci": (or_recent[1], or_recent[2]),
        "p_recent": or_recent[3],
        "or_per_decade_early": or_early[0],
        "p_early": or_early[3],
        "ci_includes_40": near,
    }
    sentence = (
        f"Infant-specific trials accruing from {since} on (k = {recent.k}) pool to a 5-year EFS "
        f"of {_pct(pooled.estimate_pct)} (95% CI {_pct(pooled.ci_low_pct)}–"
        f"{_pct(pooled.ci_high_pct)}; prediction interval {_pct(pooled.pi_low_pct)}–"
        f"{_pct(pooled.pi_high_pct)}), "
        + ("a CI that includes 40%" if near else "a CI that excludes 40%")
        + f". Over all {sel.k} infant-specific trials the odds of EFS rose by a factor of "
        f"{or_all[0]:.2f} per decade of accrual ({_p(or_all[3])})"
    )
    if math.isfinite(or_recent[0]):
        sentence += (
            f", but within the trials from {since} on the factor is {or_recent[0]:.2f} "
            f"(95% CI {or_recent[1]:.2f}–{or_recent[2]:.2f}, {_p(or_recent[3])}): "
            + (
                "consistent with a plateau after an earlier rise."
                if or_recent[3] >= 0.05
                else "EFS still changed in that era."
            )
        )
    else:
        sentence += "."
    return ClaimCheck(
        claim="EFS of infant ALL has plateaued (near 40%)",
        source="Seed 004, abstract and 'Summary of outcomes from the infant-specific protocols'",
        sentence=sentence,
        numbers=numbers,
    )


def _within_trial(frame: pd.DataFrame | None) -> dict[str, Any] | None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    df = evidence_frame() if frame is None else frame
    rows = df[(df["endpoint"] == "efs") & df["population"].isin(["hsct_cr1", "kmt2a_r_no_hsct"])]
    rows = rows.dropna(subset=["estimate_pct", "n"])
    for trial, grp in rows.groupby("trial_id"):
        pops = {str(r["population"]): r for r in grp.to_dict(orient="records")}
        if {"hsct_cr1", "kmt2a_r_no_hsct"} <= set(pops):
            a, b = pops["hsct_cr1"], pops["kmt2a_r_no_hsct"]
            p1, n1 = float(a["estimate_pct"]) / 100, float(a["n"])
            p2, n2 = float(b["estimate_pct"]) / 100, float(b["n"])
            low, high = confint_proportions_2indep(
                p1 * n1, n1, p2 * n2, n2, method="wald", compare="diff"
            )
            return {
                "trial": str(a["study"]),
                "trial_id": str(trial),
                "hsct_pct": 100 * p1,
                "hsct_n": n1,
                "no_hsct_pct": 100 * p2,
                "no_hsct_n": n2,
                "diff_pct": 100 * (p1 - p2),
                "diff_ci_low": 100 * float(low),
                "diff_ci_high": 100 * float(high),
            }
    return None


def check_hsct(frame: pd.DataFrame | None = None) -> ClaimCheck:
    """Claim 3: no (demonstrated) benefit of HSCT in first CR."""
    syn = pool_hsct_outcomes(hsct_counts_from_evidence(frame))
    pooled = {str(r["outcome"]): r for r in syn.pooled.to_dict(orient="records")}
    ccr = pooled[HSCT_OUTCOMES["continued_cr1"]]
    dcr = pooled[HSCT_OUTCOMES["death_in_cr"]]
    rel = pooled[HSCT_OUTCOMES["relapse"]]
    numbers: dict[str, Any] = {
        "k": int(ccr["k"]),
        "n": float(ccr["n"]),
        "continued_cr1_pct": float(ccr["estimate_pct"]),
        "continued_cr1_ci": (float(ccr["ci_low_pct"]), float(ccr["ci_high_pct"])),
        "death_in_cr_pct": float(dcr["estimate_pct"]),
        "relapse_pct": float(rel["estimate_pct"]),
    }
    sentence = (
        f"Among {ccr['n']:.0f} infants transplanted in CR1 in {int(ccr['k'])} trials (Table 3), "
        f"the pooled proportion in continued CR1 is {_pct(ccr['estimate_pct'])} (95% CI "
        f"{_pct(ccr['ci_low_pct'])}–{_pct(ccr['ci_high_pct'])}), death in CR "
        f"{_pct(dcr['estimate_pct'])}, relapse {_pct(rel['estimate_pct'])}; the table has no "
        "non-transplanted comparator, so by itself it can neither show nor exclude a benefit."
    )
    comp = _within_trial(frame)
    if comp is not None:
        numbers["within_trial"] = comp
        sentence += (
            f" The one within-trial comparison ({comp['trial']}) gives 5-year EFS "
            f"{_pct(comp['hsct_pct'])} with HSCT (N = {comp['hsct_n']:.0f}) vs "
            f"{_pct(comp['no_hsct_pct'])} without (N = {comp['no_hsct_n']:.0f}): a difference "
            f"of {comp['diff_pct']:+.1f} points (95% CI {comp['diff_ci_low']:+.1f} to "
            f"{comp['diff_ci_high']:+.1f}), no detectable benefit, but an interval too wide to "
            "exclude one (and biased by the wait for a transplant)."
        )
    return ClaimCheck(
        claim="No benefit of HSCT in first CR (Table 3)",
        source="Seed 004, 'The role of HSCT in first complete remission'",
        sentence=sentence,
        numbers=numbers,
    )


def check_seed_claims(frame: pd.DataFrame | None = None) -> list[ClaimCheck]:
    """All three checks, on one load of the evidence base."""
    df = evidence_frame() if frame is None else frame
    return [check_backbone(df), check_plateau(df), check_hsct(df)]
