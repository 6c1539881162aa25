"""Benchmarks of infantall.outcomes against lifelines and statsmodels (same run, same data).

Run with ``make bench``. The side-by-side table of the README (fresh process per
measurement, peak memory, R included, n = 1e4..1e6) comes from ``benchmarks/peers.py``;
these pytest-benchmark tests are the quick in-process check. Data: SYNTHETIC patients,
exponential event times rounded to days (as registry data are) with uniform censoring,
three groups, five covariates, two competing causes. Every baseline does the same work as
the infantall call it is compared with (same groups, variances, tests). Each test times
infantall's function with pytest-benchmark and a named baseline with ``time.perf_counter``
(best of the rounds) and prints ``baseline / infantall``; > 1 means infantall is faster.

Slow baselines run on fewer patients (stated in the output): lifelines Cox and
Aalen–Johansen-with-variance and statsmodels PHReg take minutes at 1,000,000 (issue #4:
lifelines Cox 55 s, statsmodels 282 s, lifelines AJ 104 s); for those, infantall is timed
again on the same smaller data so that each ratio compares like with like.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from infantall.outcomes import (
    cox_ph,
    cumulative_incidence,
    kaplan_meier_by_group,
    logrank_test,
)

N = 1_000_000
N_SLOW_COX = 50_000  # lifelines CoxPHFitter and statsmodels PHReg
N_SLOW_CIF = 50_000  # lifelines AalenJohansenFitter(calculate_variance=True)
SEED = 20261121
ROUNDS = 3


def _data(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((n, 5))
    group = rng.integers(0, 3, n)
    rate = 1 / 1500 * np.exp(x @ np.array([0.3, -0.2, 0.1, 0.0, 0.05]) + 0.4 * group)
    t_ev = rng.exponential(1 / rate)
    t_c = rng.uniform(30, 3650, n)
    time_ = np.ceil(np.minimum(t_ev, t_c))
    event = (t_ev <= t_c).astype(np.int64)
    cause = np.where(event == 1, rng.choice([1, 2], n, p=[0.7, 0.3]), 0)
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(5)])
    return df.assign(time=time_, event=event, group=group, cause=cause)


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return _data(N)


@pytest.fixture(scope="module")
def small_cox() -> pd.DataFrame:
    return _data(N_SLOW_COX)


@pytest.fixture(scope="module")
def small_cif() -> pd.DataFrame:
    return _data(N_SLOW_CIF)


def _best(fn: Callable[[], Any], rounds: int = ROUNDS) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _r_seconds(df: pd.DataFrame, expr: str) -> float | None:
    """Elapsed seconds of an R expression on ``df`` (computation only: ``system.time``).

    Returns None when R (Rscript with survival and cmprsk) is not installed.
    """
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        df.to_csv(path, index=False)
        code = (
            "suppressPackageStartupMessages({library(survival); library(cmprsk)});"
            f"d <- read.csv('{path}'); "
            f"best <- min(sapply(1:{ROUNDS}, function(i) system.time({expr})[['elapsed']]));"
            "cat(best)"
        )
        out = subprocess.run([rscript, "-e", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().split()[-1])


def _report_r(name: str, ours: float, t_r: float | None, n: int) -> None:
    if t_r is None:
        print(f"{name} (n={n:,}): R not installed here; no R ratio")
    else:
        print(f"{name} (n={n:,}): R {t_r:.3f} s; ratio R/infantall = {t_r / ours:.2f}")


def _report(benchmark: Any, name: str, baseline: str, t_base: float, n: int) -> None:
    ours = benchmark.stats.stats.min
    ratio = t_base / ours
    benchmark.extra_info.update(
        {"baseline": baseline, "baseline_s": t_base, "ratio": ratio, "n": n}
    )
    print(
        f"\n{name} (n={n:,}): infantall {ours:.3f} s; {baseline} {t_base:.3f} s; "
        f"ratio {baseline}/infantall = {ratio:.2f}"
    )


def _km_logrank(df: pd.DataFrame) -> None:
    kaplan_meier_by_group(df.time, df.event, df.group)
    logrank_test(df.time, df.event, df.group)


def test_km_logrank_vs_sort_floor(benchmark, big):
    t = big.time.to_numpy()
    e = big.event.to_numpy()

    def floor() -> None:  # the floor named in issue #4: one sort and a cumulative sum
        order = np.argsort(t)
        np.cumsum(e[order])

    benchmark.pedantic(_km_logrank, args=(big,), rounds=ROUNDS, iterations=1)
    _report(benchmark, "KM + log-rank", "numpy sort+cumsum floor", _best(floor), N)
    t_r = _r_seconds(
        big[["time", "event", "group"]],
        "{survfit(Surv(time, event) ~ group, data = d); "
        "survdiff(Surv(time, event) ~ group, data = d)}",
    )
    _report_r("KM + log-rank", benchmark.stats.stats.min, t_r, N)


def test_km_logrank_vs_statsmodels(benchmark, big):
    from statsmodels.duration.hazard_regression import PHReg  # noqa: F401  (import cost out)
    from statsmodels.duration.survfunc import SurvfuncRight, survdiff

    def base() -> None:
        for g in (0, 1, 2):
            m = big.group.to_numpy() == g
            SurvfuncRight(big.time.to_numpy()[m], big.event.to_numpy()[m])
        survdiff(big.time.to_numpy(), big.event.to_numpy(), big.group.to_numpy())

    benchmark.pedantic(_km_logrank, args=(big,), rounds=ROUNDS, iterations=1)
    _report(benchmark, "KM + log-rank", "statsmodels", _best(base), N)


def test_km_logrank_vs_lifelines(benchmark, big):
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    def base() -> None:
        for g in (0, 1, 2):
            m = big.group == g
            KaplanMeierFitter().fit(big.time[m], big.event[m])
        multivariate_logrank_test(big.time, big.group, big.event)

    benchmark.pedantic(_km_logrank, args=(big,), rounds=ROUNDS, iterations=1)
    _report(benchmark, "KM + log-rank", "lifelines", _best(base, 1), N)


COVS = [f"x{i}" for i in range(5)]


def test_cox_efron_1e6(benchmark, big):
    # Python baselines take minutes at 1e6 (see the n=50,000 tests); R coxph when installed
    benchmark.pedantic(
        cox_ph,
        args=(big, "time", "event", COVS),
        kwargs={"concordance": False},
        rounds=1,
        iterations=1,
    )
    print(f"\nCox Efron 5 covariates (n={N:,}): infantall {benchmark.stats.stats.min:.2f} s")
    t_r = _r_seconds(
        big[["time", "event", *COVS]], "coxph(Surv(time, event) ~ x0 + x1 + x2 + x3 + x4, data = d)"
    )
    _report_r("Cox Efron 5 covariates", benchmark.stats.stats.min, t_r, N)


def test_cox_with_concordance_1e6(benchmark, big):
    benchmark.pedantic(cox_ph, args=(big, "time", "event", COVS), rounds=1, iterations=1)
    print(f"\nCox + concordance (n={N:,}): infantall {benchmark.stats.stats.min:.2f} s")


def test_cox_vs_lifelines(benchmark, small_cox):
    from lifelines import CoxPHFitter

    df = small_cox[["time", "event", *COVS]]
    benchmark.pedantic(cox_ph, args=(df, "time", "event", COVS), rounds=ROUNDS, iterations=1)
    t = _best(lambda: CoxPHFitter().fit(df, "time", "event"), 1)
    _report(benchmark, "Cox Efron", "lifelines CoxPHFitter", t, N_SLOW_COX)


def test_cox_vs_statsmodels(benchmark, small_cox):
    from statsmodels.duration.hazard_regression import PHReg

    df = small_cox
    benchmark.pedantic(cox_ph, args=(df, "time", "event", COVS), rounds=ROUNDS, iterations=1)
    t = _best(lambda: PHReg(df.time, df[COVS], status=df.event, ties="efron").fit(), 1)
    _report(benchmark, "Cox Efron", "statsmodels PHReg", t, N_SLOW_COX)


def test_cif_gray_1e6(benchmark, big):
    benchmark.pedantic(
        cumulative_incidence, args=(big.time, big.cause, big.group), rounds=ROUNDS, iterations=1
    )
    print(f"\nCIF + variance + Gray (n={N:,}): infantall {benchmark.stats.stats.min:.2f} s")
    t_r = _r_seconds(big[["time", "cause", "group"]], "cuminc(d$time, d$cause, d$group)")
    _report_r("CIF + variance + Gray", benchmark.stats.stats.min, t_r, N)


def _cif_by_group(df: pd.DataFrame) -> None:
    # curves with variances per group, no Gray's test: the work lifelines does
    for g in (0, 1, 2):
        m = (df.group == g).to_numpy()
        cumulative_incidence(df.time.to_numpy()[m], df.cause.to_numpy()[m])


def test_cif_vs_lifelines(benchmark, small_cif):
    from lifelines import AalenJohansenFitter

    df = small_cif

    def base() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lifelines warns that it jitters tied times
            for g in (0, 1, 2):
                m = df.group == g
                for c in (1, 2):
                    AalenJohansenFitter(calculate_variance=True, seed=0).fit(
                        df.time[m], df.cause[m], event_of_interest=c
                    )

    benchmark.pedantic(_cif_by_group, args=(df,), rounds=ROUNDS, iterations=1)
    _report(
        benchmark,
        "CIF + variance by group (no Gray)",
        "lifelines AalenJohansen",
        _best(base, 1),
        N_SLOW_CIF,
    )
