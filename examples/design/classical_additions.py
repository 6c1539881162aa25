"""Classical additions of issue 19, end to end (run: python examples/design/classical_additions.py).

Illustrative numbers only: not a recommendation for any trial or child.
"""

from __future__ import annotations

import numpy as np

from infantall.design.conditional_power import conditional_power, promising_zone
from infantall.design.groupseq_bounds import beta_spending_design, classic_design
from infantall.design.simon import simon_two_stage
from infantall.design.tte_posterior import (
    piecewise_posterior,
    prob_hazard_ratio_below,
    sample_mixture_cure,
)

# Single-arm phase II (e.g. MRD negativity after a new agent): 20% uninteresting, 40% worth it
for kind in ("optimal", "minimax"):
    d = simon_two_stage(0.2, 0.4, alpha=0.05, beta=0.2, kind=kind)  # type: ignore[arg-type]
    print(f"Simon {kind}: stop if <= {d.r1}/{d.n1}; promising if > {d.r}/{d.n}; "
          f"E[N | p0] = {d.expected_n0:.1f}")  # fmt: skip

# Three looks, O'Brien-Fleming-type alpha and beta spending, non-binding futility
fut = beta_spending_design(3, alpha=0.025, beta=0.2)
print(fut.summary.to_string(index=False))
power = fut.power(theta=0.25, n_max=150)
print(f"power {power.overall_reject:.3f}, E[N] {power.expected_n:.1f} at theta 0.25, N 150")
print("Haybittle-Peto:", np.round(classic_design(4, family="haybittle-peto").critical_values, 4))

# Interim after 40 of 120 patients, Z = 1.53: conditional power and promising-zone increase
cp = conditional_power(fut.critical_values, [40, 80, 120], stage=1, z=1.53, theta=0.2)
print("conditional power by look:", np.round(cp.cumulative, 4))
pz = promising_zone(1.53, n1=40, n2_planned=40, n2_max=160, critical_value=1.9686)
print(f"zone {pz.zone}: stage 2 from {pz.n2_planned:.0f} to {pz.n2_new:.1f} patients")

# Time to event: EFS with a plateau (cure fraction 0.4), piecewise-exponential posteriors
rng = np.random.default_rng(2026)
cuts = [0.0, 0.5, 1.0, 2.0]
control_t = sample_mixture_cure(
    60, cure_fraction=0.40, cuts=cuts, hazards=[1.0, 0.6, 0.3, 0.1], rng=rng
)
new_t = sample_mixture_cure(
    60, cure_fraction=0.55, cuts=cuts, hazards=[1.0, 0.6, 0.3, 0.1], rng=rng
)
follow = 3.0
post = [
    piecewise_posterior(np.minimum(t, follow), (t <= follow).astype(int), cuts)
    for t in (control_t, new_t)
]
print("P(HR < 1) per interval:", np.round(prob_hazard_ratio_below(post[1], post[0]), 3))
print(
    f"posterior mean 2-year EFS: control {post[0].mean_survival(2.0):.3f}, "
    f"new {post[1].mean_survival(2.0):.3f}"
)
