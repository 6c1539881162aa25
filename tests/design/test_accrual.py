"""Accrual and historical rates from the evidence base (seed 000 Table 1, seed 004 Table 2)."""

from __future__ import annotations

import pandas as pd
import pytest

from infantall.design import accrual_duration, consortium_accrual
from infantall.design.accrual import historical_rate
from infantall.errors import InvalidInputError
from infantall.evidence import load_evidence


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_evidence().frame


def test_interfant06_accrual_is_n_over_inclusive_years(frame: pd.DataFrame) -> None:
    table = consortium_accrual(frame)
    row = table[table["trial_id"] == "interfant-06"].iloc[0]
    # seed 000 Table 1: 476 KMT2A-r infants, accrual 2006–2016
    assert (row["n"], row["accrual_years"]) == (476, 11.0)
    assert row["per_year"] == pytest.approx(476 / 11)
    assert table["per_year"].gt(0).all()


def test_historical_rate_as_reported_bound_and_constant_hazard(frame: pd.DataFrame) -> None:
    six = historical_rate(frame, "interfant-06", "kmt2a-r", "efs", 6)
    assert (six.rate, six.conversion) == (pytest.approx(0.364), "as reported")
    two = historical_rate(frame, "interfant-06", "kmt2a_r", "efs", 2)
    assert (two.rate, two.conversion, two.reported_horizon_years) == (
        pytest.approx(0.364),
        "bound",
        6.0,
    )
    expo = historical_rate(frame, "interfant-06", "kmt2a-r", "efs", 2, conversion="constant-hazard")
    assert expo.rate == pytest.approx(0.364 ** (2 / 6))
    assert "Table 1" in two.source


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("no-such-trial", "kmt2a-r", "efs", 2), "trial"),
        (("interfant-06", "martians", "efs", 2), "population"),
        (("interfant-06", "kmt2a-r", "cir", 2), "endpoint"),
        (("interfant-06", "kmt2a-r", "efs", 10), "horizon"),
    ],
)
def test_historical_rate_errors_name_the_field(
    frame: pd.DataFrame, args: tuple[str, str, str, float], field: str
) -> None:
    with pytest.raises(InvalidInputError) as err:
        historical_rate(frame, *args)
    assert err.value.field == field


def test_accrual_duration_per_site() -> None:
    assert accrual_duration(120, 4, sites=10) == pytest.approx(3.0)
    with pytest.raises(InvalidInputError):
        accrual_duration(120, 0)
