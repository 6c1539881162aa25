"""Benchmark: 100,000 SYNTHETIC infants through the infant-ALL multi-state model.

    PYTHONPATH=src python benchmarks/bench_multistate.py [--n 100000] [--baseline-n 20000]

Timed (best of 3): building the counting-process rows from the cohort's events frame
(:func:`infantall.outcomes.multistate.infant_all_data`), the Aalen–Johansen occupation, its
infinitesimal-jackknife standard errors at 1, 2 and 5 years and the restricted mean time in
state up to 5 years (:func:`~infantall.outcomes.multistate.course.multistate_analysis`).

Baselines, same data, same run:

* **per-patient forward recursion** — the IJ influence updated for every patient at every
  transition time (``U <- U (I + A) + dB``, the algorithm of R survival's survfitaj.c, here
  vectorised over patients with NumPy; O(patients × times)); run on ``--baseline-n``
  patients when that is smaller, and infantall is timed again on the same subset;
* **R survival::survfit** (``id``, influence SEs) on the same rows, timed inside R
  (``system.time``), when ``Rscript`` is installed.

Both baselines' SEs are compared with infantall's (max relative difference printed).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from infantall.cohort import generate_cohort
from infantall.outcomes.multistate import MultiStateData, _core, infant_all_data
from infantall.outcomes.multistate.course import multistate_analysis

TIMES = (1.0, 2.0, 5.0)


def _best(fn: Callable[[], Any], rounds: int = 3) -> tuple[float, Any]:
    best, out = np.inf, None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _infantall(events: pd.DataFrame) -> Any:
    data = infant_all_data(events)
    return data, multistate_analysis(data, TIMES, tau=5.0)


def forward_recursion_se(data: MultiStateData, times: tuple[float, ...]) -> np.ndarray:
    """IJ SEs by the forward recursion over transition times (R survfitaj.c's algorithm)."""
    s = len(data.states)
    p0 = np.zeros(s)
    p0[data.states.index(data.initial)] = 1.0
    f = _core.fit(data, 0.0, p0)
    u = np.zeros((f.n_id, s))
    p = p0.copy()
    out = np.zeros((len(times), s))
    k = 0
    ev = data.to_state >= 0
    for m, t in enumerate(f.time):
        while k < len(times) and times[k] < t:
            out[k] = np.sqrt((u**2).sum(axis=0))
            k += 1
        at = (data.tstart < t) & (data.tstop >= t)
        j = data.from_state[at]
        nr = f.n_risk[m]
        scale = np.where(nr > 0, p / np.where(nr > 0, nr, 1), 0.0)
        db = np.zeros((f.n_id, s))
        np.add.at(db, f.id_code[at], -(scale[j][:, None] * f.hazard[m][j]))
        hit = np.flatnonzero(at & ev & (data.tstop == t))
        jj, kk = data.from_state[hit], data.to_state[hit]
        np.add.at(db, (f.id_code[hit], kk), scale[jj])
        np.add.at(db, (f.id_code[hit], jj), -scale[jj])
        u = u + u @ f.hazard[m] + db
        p = p + p @ f.hazard[m]
    while k < len(times):
        out[k] = np.sqrt((u**2).sum(axis=0))
        k += 1
    return out


def _r_survfit(data: MultiStateData) -> tuple[float, np.ndarray] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "ms.csv"
        data.to_frame().to_csv(csv, index=False, float_format="%.17g")
        script = f"""
suppressMessages(library(survival))
d <- read.csv("{csv}")
d$st <- factor(d$state, c("censored", {", ".join(repr(s) for s in data.states[1:])}))
tm <- system.time(f <- survfit(Surv(tstart, tstop, st) ~ 1, data = d, id = id,
                               timefix = FALSE))[["elapsed"]]
s <- summary(f, times = c({", ".join(str(t) for t in TIMES)}))
cat(tm, "\\n"); write.table(s$std.err, col.names = FALSE, row.names = FALSE)
"""
        run = subprocess.run(
            ["Rscript", "-e", script], capture_output=True, text=True, check=False, timeout=1800
        )
        if run.returncode != 0:
            print("R failed:", run.stderr[-400:])
            return None
        lines = run.stdout.strip().splitlines()
        return float(lines[0]), np.loadtxt(lines[1:], ndmin=2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--baseline-n", type=int, default=20_000)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()
    cohort = generate_cohort(args.n, seed=18)
    events = cohort.events
    t_ia, (data, res) = _best(lambda: _infantall(events))
    print(
        f"infantall, {args.n:,} SYNTHETIC infants ({data.id.shape[0]:,} rows, "
        f"{res.occupation.time.size:,} transition times): {t_ia:.2f} s "
        "(rows + occupation + IJ SEs at 1/2/5 y + time in state)"
    )
    se = res.summary.pivot(index="time", columns="state", values="std_err")[list(data.states)]
    sub_ids = pd.unique(data.id)[: args.baseline_n]
    sub = data.subset(np.isin(data.id, sub_ids)) if args.baseline_n < args.n else data
    sub_events = events[events["patient_id"].astype(str).isin(sub_ids)]
    t_sub, (_, res_sub) = _best(lambda: _infantall(sub_events))
    t_fw, se_fw = _best(lambda: forward_recursion_se(sub, TIMES), rounds=1)
    se_sub = res_sub.summary.pivot(index="time", columns="state", values="std_err")
    diff = np.nanmax(np.abs(se_fw - se_sub[list(sub.states)].to_numpy()))
    print(
        f"forward recursion, {len(sub_ids):,} infants: {t_fw:.2f} s vs infantall {t_sub:.2f} s "
        f"on the same subset (x{t_fw / t_sub:.1f}); max |SE difference| {diff:.1e}"
    )
    if not args.no_r:
        r = _r_survfit(data)
        if r is not None:
            t_r, se_r = r
            d = np.abs(se_r - se.to_numpy()[:, 1:] if se_r.shape[1] < se.shape[1] else se_r - se)
            print(
                f"R survfit, {args.n:,} infants: {t_r:.2f} s (x{t_r / t_ia:.1f} infantall); "
                f"max |SE difference| {np.nanmax(np.asarray(d)):.1e}"
            )


if __name__ == "__main__":
    main()
