"""Validation by simulation of the HSCT analyses (run on demand, not in CI).

For each true hazard ratio X of HSCT in CR1, generate ``--reps`` synthetic cohorts of ``--n``
patients (``generate_cohort(..., hsct_hr=X)``, seeds 1..reps) and analyse each with
:func:`infantall.outcomes.questions.histories_hsct_analysis` (Interfant-06). Reports, for the
adjusted estimate (stratified by risk group and by the HSCT-rule MRD status, a stratum that
switches at the measurement date) and the unadjusted time-dependent Cox model: coverage of
the 95% CI of X, the mean bias of log HR and its Monte-Carlo SE, and the mean HR.

Usage::

    python validation/hsct_simulation.py --reps 400 --n 1500 --hr 1.0 0.5 --workers 2 \\
        --out validation/hsct_simulation_results.json
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from infantall.cohort import generate_cohort
from infantall.outcomes.hsct_questions import histories_hsct_analysis


def one(args: tuple[float, int, int]) -> dict[str, float]:
    """Log HR and CI coverage of the adjusted and unadjusted estimates in one cohort."""
    hr, n, seed = args
    out: dict[str, float] = {"true_hr": hr, "seed": seed}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = histories_hsct_analysis(generate_cohort(n, 18, seed, hsct_hr=hr).to_histories())
    adj = res.adjusted_estimate
    assert adj is not None
    for name, est in (("adjusted", adj), ("unadjusted", res.unadjusted_estimate)):
        out[f"{name}_log_hr"] = math.log(est.hazard_ratio or math.nan)
        out[f"{name}_covers"] = float((est.ci_lower or 0.0) <= hr <= (est.ci_upper or 0.0))
    return out


def summarise(hr: float, rows: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Coverage and bias per estimator."""
    table = []
    for name in ("adjusted", "unadjusted"):
        log_hr = np.array([r[f"{name}_log_hr"] for r in rows])
        covers = np.array([r[f"{name}_covers"] for r in rows])
        bias = log_hr - math.log(hr)
        table.append(
            {
                "true_hr": hr,
                "estimate": name,
                "replicates": len(rows),
                "coverage_95": float(covers.mean()),
                "coverage_mc_se": float(math.sqrt(covers.mean() * (1 - covers.mean()) / len(rows))),
                "mean_log_hr_bias": float(bias.mean()),
                "bias_mc_se": float(bias.std(ddof=1) / math.sqrt(len(rows))),
                "mean_hr": float(np.exp(log_hr).mean()),
            }
        )
    return table


def main() -> None:
    """Run the simulation and print and write its table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--hr", type=float, nargs="+", default=[1.0, 0.5])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--rows",
        type=Path,
        default=Path("hsct_simulation_rows.jsonl"),
        help="One line per analysed cohort, written as they finish (a partial run keeps them).",
    )
    ap.add_argument("--summarise", action="store_true", help="Only summarise --rows.")
    a = ap.parse_args()
    t0 = time.perf_counter()
    if not a.summarise:
        jobs = [(hr, a.n, s) for s in range(1, a.reps + 1) for hr in a.hr]
        with mp.Pool(a.workers) as pool, a.rows.open("w", encoding="utf-8") as fh:
            for row in pool.imap_unordered(one, jobs):
                fh.write(json.dumps(row) + "\n")
                fh.flush()
    rows = [json.loads(line) for line in a.rows.read_text(encoding="utf-8").splitlines()]
    table: list[dict[str, Any]] = []
    for hr in sorted({r["true_hr"] for r in rows}, reverse=True):
        table.extend(summarise(hr, [r for r in rows if r["true_hr"] == hr]))
    elapsed = time.perf_counter() - t0
    header = f"{'true HR':>7} {'estimate':>10} {'reps':>5} {'coverage':>9} {'(MC SE)':>8} "
    header += f"{'bias logHR':>10} {'(MC SE)':>8} {'mean HR':>8}"
    print(header)
    for r in table:
        print(
            f"{r['true_hr']:7.2f} {r['estimate']:>10} {r['replicates']:5d} "
            f"{100 * r['coverage_95']:8.1f}% {100 * r['coverage_mc_se']:7.1f}% "
            f"{r['mean_log_hr_bias']:10.4f} {r['bias_mc_se']:8.4f} {r['mean_hr']:8.3f}"
        )
    print(f"{elapsed:.0f} s with {a.workers} workers")
    if a.out is not None:
        meta = {"n": a.n, "replicates": {str(r["true_hr"]): r["replicates"] for r in table}}
        a.out.write_text(json.dumps({"settings": meta, "table": table}, indent=2) + "\n")


if __name__ == "__main__":
    main()
