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


def test_historical_rate_reads_pandas_na_as_missing() -> None:
    """Nullable integer columns (pd.NA) for N and accrual years: missing, not a crash."""
    frame = pd.DataFrame(
        {
            "trial_id": ["t1", "t2", "t3"],
            "population": ["kmt2a_r"] * 3,
            "endpoint": ["efs"] * 3,
            "horizon_years": [2.0, 2.0, 2.0],
            "estimate_pct": [40.0, 50.0, 60.0],
            "n": pd.array([pd.NA, 100, 120], dtype="Int64"),
            "accrual_start": pd.array([2000, pd.NA, 2001], dtype="Int64"),
            "accrual_end": pd.array([2004, 2005, 2004], dtype="Int64"),
        }
    )
    no_n = historical_rate(frame, "t1", "kmt2a_r", "efs", 2)
    assert (no_n.n, no_n.per_year, no_n.rate) == (None, None, pytest.approx(0.40))
    no_start = historical_rate(frame, "t2", "kmt2a_r", "efs", 2)
    assert (no_start.n, no_start.per_year) == (100, None)
    full = historical_rate(frame, "t3", "kmt2a_r", "efs", 2)
    assert (full.n, full.per_year) == (120, pytest.approx(120 / 4))


def test_historical_rate_non_number_n_is_a_clear_error() -> None:
    frame = pd.DataFrame(
        {
            "trial_id": ["t1"],
            "population": ["kmt2a_r"],
            "endpoint": ["efs"],
            "horizon_years": [2.0],
            "estimate_pct": [40.0],
            "n": ["about forty"],
        }
    )
    with pytest.raises(InvalidInputError) as err:
        historical_rate(frame, "t1", "kmt2a_r", "efs", 2)
    assert (err.value.field, err.value.code) == ("frame", "not_a_number")


def test_historical_rate_on_the_evidence_frame_with_missing_accrual(frame: pd.DataFrame) -> None:
    """cog-aall0631 has a row without N or accrual years (it crashed on pd.NA)."""
    hist = historical_rate(frame, "cog-aall0631", "kmt2a_r", "efs", 3)
    assert hist.rate == pytest.approx(hist.reported_pct / 100)
