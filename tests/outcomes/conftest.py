"""Fixtures of the outcomes tests: R reference values and the data sets R used.

``reference/make_reference.R`` (R 4.2.2, survival 3.5-3, cmprsk 2.2-11) wrote the CSV
files and ``reference_values.json``; R is not needed to run the tests.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from _outcomes_ref import REFERENCE


@pytest.fixture(scope="session")
def ref() -> dict[str, Any]:
    """Values printed by R (see make_reference.R)."""
    with (REFERENCE / "reference_values.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"{name}.csv")


@pytest.fixture(scope="session")
def lung() -> pd.DataFrame:
    """survival::lung (time, status 1/2, event 0/1, age, sex, ph_ecog)."""
    return _csv("lung")


@pytest.fixture(scope="session")
def veteran() -> pd.DataFrame:
    """survival::veteran."""
    return _csv("veteran")


@pytest.fixture(scope="session")
def mgus2() -> pd.DataFrame:
    """survival::mgus2 as competing risks: event 1 progression, 2 death, 0 censored."""
    return _csv("mgus2")


@pytest.fixture(scope="session")
def heart() -> pd.DataFrame:
    """survival::heart, the Stanford heart-transplant counting-process data."""
    return _csv("heart")


@pytest.fixture(scope="session")
def jasa() -> pd.DataFrame:
    """survival::jasa (futime, fustat, wait_time, transplant)."""
    return _csv("jasa")
