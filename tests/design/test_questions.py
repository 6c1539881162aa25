"""Single-arm designs against a historical control: the one function the CLI and report use."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from infantall.design import (
    Accrual,
    PiecewiseExponential,
    exact_binomial_design,
    historical_control_designs,
    one_sample_logrank_design,
    single_arm_designs,
)
from infantall.design.accrual import historical_rate
from infantall.errors import InvalidInputError
from infantall.evidence import load_evidence

TARGETS = (0.50, 0.55, 0.60, 0.65)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_evidence().frame


def test_equals_the_designs_the_presenters_assembled(frame: pd.DataFrame) -> None:
    """The numbers of the former report loop (Interfant-06 KMT2A-r EFS at 2 years)."""
    res = historical_control_designs(frame, "interfant-06", TARGETS)
    hist = historical_rate(frame, "interfant-06", "kmt2a-r", "efs", 2.0)
    assert hist.per_year is not None
    assert res.p0 == hist.rate
    assert res.accrual_per_year == hist.per_year
    assert res.historical == hist
    null = PiecewiseExponential.from_landmark(hist.rate, 2.0)
    for d, target in zip(res.designs, TARGETS, strict=True):
        binom = exact_binomial_design(hist.rate, target, alpha=0.05, power=0.8)
        hr = math.log(target) / math.log(hist.rate)
        lr = one_sample_logrank_design(null, hr, Accrual.per_year(hist.per_year), 2.0)
        assert d.binomial == binom
        assert d.logrank == lr
        assert d.hazard_ratio == hr
        b_rec, lr_rec = d.records()
        assert b_rec["study_years"] == binom.n / hist.per_year + 2.0
        assert lr_rec["events"] == lr.expected_events


def test_summary_and_to_dict(frame: pd.DataFrame) -> None:
    res = historical_control_designs(frame, "interfant-06", TARGETS)
    assert len(res.summary) == 2 * len(TARGETS)
    assert list(res.summary["target"].unique()) == list(TARGETS)
    doc = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert doc["historical"]["trial_id"] == "interfant-06"
    assert doc["note"] is not None and "lower bound" in doc["note"]
    assert len(doc["designs"]) == 2 * len(TARGETS)


def test_a_given_rate_gives_the_same_designs(frame: pd.DataFrame) -> None:
    from_trial = historical_control_designs(frame, "interfant-06", [0.65], accrual_per_year=20.0)
    given = single_arm_designs(from_trial.p0, [0.65], horizon_years=2.0, accrual_per_year=20.0)
    assert given.records() == from_trial.records()
    assert given.historical is None and given.bound_note is None


def test_constant_hazard_and_errors(frame: pd.DataFrame) -> None:
    res = historical_control_designs(frame, "interfant-06", [0.8], conversion="constant-hazard")
    assert res.p0 == pytest.approx(0.364 ** (2 / 6))
    assert res.bound_note is None
    with pytest.raises(InvalidInputError) as err:
        historical_control_designs(frame, "interfant-06", [0.65], conversion="linear")  # type: ignore[arg-type]
    assert err.value.code == "unknown"
    with pytest.raises(InvalidInputError) as err:
        single_arm_designs(0.4, [0.3], horizon_years=2.0, accrual_per_year=20.0)
    assert err.value.code == "no_effect"
    with pytest.raises(InvalidInputError):
        single_arm_designs(0.4, [], horizon_years=2.0, accrual_per_year=20.0)
