"""Property tests: any size, site count, seed and calibration gives valid histories."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import infantall.cohort as cohort_pkg
from infantall.cohort import generate_cohort


@st.composite
def _arguments(draw: st.DrawFn) -> tuple[int, int, int, str]:
    n = draw(st.integers(1, 60))
    sites = draw(st.integers(1, n))
    seed = draw(st.integers(0, 2**32 - 1))
    calibration = draw(st.sampled_from(["interfant-06", "mll-10"]))
    return n, sites, seed, calibration


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_arguments())
def test_any_cohort_gives_valid_histories(args: tuple[int, int, int, str]) -> None:
    n, sites, seed, calibration = args
    cohort = generate_cohort(n, sites=sites, seed=seed, calibration=calibration)
    histories = cohort.to_histories()
    assert len(histories) == n
    ends = cohort.endpoints()
    assert (ends["efs_days"] >= 0).all()
    assert (ends["efs_days"] <= ends["os_days"]).all()
    assert np.all(ends["efs_event"] | ~ends["os_event"])  # a death is an EFS event
    assert cohort.patients["site"].nunique() <= sites


def test_public_api_resolves() -> None:
    for name in cohort_pkg.__all__:
        assert getattr(cohort_pkg, name) is not None
