"""Shared cohorts of the cohort tests (generated once per session: keeps the suite fast)."""

from __future__ import annotations

import pytest

from infantall.cohort import SyntheticCohort, generate_cohort

#: Patients in the large cohorts: binomial SEs of shares near 0.3% and KM SEs below 1
#: percentage point, while generation stays near a second.
LARGE_N = 20_000


@pytest.fixture(scope="session")
def large_i06() -> SyntheticCohort:
    """A large Interfant-06-calibrated cohort."""
    return generate_cohort(LARGE_N, sites=18, seed=11)


@pytest.fixture(scope="session")
def large_mll10() -> SyntheticCohort:
    """A large MLL-10-calibrated cohort."""
    return generate_cohort(LARGE_N, sites=18, seed=12, calibration="mll-10")


@pytest.fixture(scope="session")
def small() -> SyntheticCohort:
    """The documented CLI example's cohort (600 patients, 18 sites, seed 1)."""
    return generate_cohort(600, sites=18, seed=1)
