"""Multi-state models: invariants, the competing-risks special case, bad input, histories."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from infantall.domain import (
    HSCT,
    Death,
    LastContact,
    Patient,
    PatientHistory,
    Relapse,
    Response,
)
from infantall.errors import InvalidInputError
from infantall.outcomes import cumulative_incidence
from infantall.outcomes.multistate import (
    INFANT_ALL,
    MULTISTATE_ERROR_CODES,
    TransitionMatrix,
    aalen_johansen,
    infant_all_data,
    multistate_data,
    transition_probabilities,
)
from infantall.outcomes.multistate.course import disease_course, multistate_analysis

REF = Path(__file__).parent / "reference" / "multistate"
D0 = dt.date(2015, 3, 1)


def _day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def _hist(pid: str, *events: Any) -> PatientHistory:
    return PatientHistory(
        patient=Patient(patient_id=pid, age_days=100, diagnosis_date=D0),
        events=list(events),
    )


@pytest.fixture(scope="module")
def myeloid() -> pd.DataFrame:
    return pd.read_csv(REF / "myeloid_ms.csv")


@pytest.fixture(scope="module")
def infant() -> pd.DataFrame:
    return pd.read_csv(REF / "infant_synthetic.csv")


@pytest.mark.parametrize("csv", ["myeloid_ms.csv", "infant_synthetic.csv", "mgus2_ms.csv"])
def test_probabilities_in_unit_interval_and_sum_to_one(csv: str) -> None:
    frame = pd.read_csv(REF / csv)
    initial = "diagnosis" if csv.startswith("infant") else "(s0)"
    res = aalen_johansen(multistate_data(frame, initial=initial))
    p = res.probability
    assert (p >= -1e-12).all() and (p <= 1 + 1e-12).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)


def test_landmark_probabilities_sum_to_one_and_start_in_the_state(infant: pd.DataFrame) -> None:
    data = multistate_data(infant, initial="diagnosis", matrix=INFANT_ALL)
    res = transition_probabilities(data, "CR1", 1.0, [1.0, 2.0, 4.0])
    tab = res.summary
    first = tab[tab["time"] == 1.0].set_index("state")["probability"]
    assert first["CR1"] == 1.0 and first.drop("CR1").eq(0).all()
    np.testing.assert_allclose(tab.groupby("time")["probability"].sum(), 1.0, atol=1e-12)
    assert (tab["std_err"] >= 0).all()


def test_two_absorbing_states_equal_the_competing_risks_cif() -> None:
    """mgus2: (s0) -> pcm | death; the AJ occupation of pcm/death is cmprsk's CIF."""
    frame = pd.read_csv(REF / "mgus2_ms.csv")
    res = aalen_johansen(multistate_data(frame))
    status = frame["state"].map({"censored": 0, "pcm": 1, "death": 2})
    cif = cumulative_incidence(frame["tstop"], status)
    grid = np.array([12.0, 60.0, 120.0, 240.0, 400.0])
    occ = res.at(grid).pivot(index="time", columns="state", values="probability")
    for cause, state in ((1, "pcm"), (2, "death")):
        want = cif.curve(cause).at(grid)["estimate"].to_numpy()
        np.testing.assert_allclose(occ[state].to_numpy(), want, atol=1e-12)


def test_restricted_mean_times_add_up_to_the_horizon(myeloid: pd.DataFrame) -> None:
    rm = aalen_johansen(multistate_data(myeloid)).restricted_mean(800.0)
    assert rm["time_in_state"].sum() == pytest.approx(800.0, rel=1e-12)
    assert (rm["std_err"] >= 0).all()


def _rows(*rows: tuple[str, float, float, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "tstart", "tstop", "state"])


ERROR_CASES = [
    (
        _rows(("a", 0, 5, "CR"), ("a", 5, 9, "censored"), ("b", 0, 4, "death"), ("b", 4, 6, "CR")),
        "transition_not_allowed",
        "id b, row 4",
    ),
    (_rows(("a", 0, 5, "CR"), ("a", 5, 3, "death")), "time_backwards", "id a, row 2"),
    (_rows(("a", 0, 5, "CR"), ("a", 4, 8, "death")), "overlapping_intervals", "id a, row 2"),
    (
        _rows(("a", 0, 5, "CR"), ("b", 0, 3, "death"), ("a", 5, 8, "death")),
        "overlapping_intervals",
        "id a, row 3",
    ),
]


@pytest.mark.parametrize(("frame", "code", "where"), ERROR_CASES)
def test_bad_input_names_the_id_and_row(frame: pd.DataFrame, code: str, where: str) -> None:
    matrix = TransitionMatrix(
        ("(s0)", "CR", "death"), (("(s0)", "CR"), ("(s0)", "death"), ("CR", "death"))
    )
    with pytest.raises(InvalidInputError) as err:
        multistate_data(frame, matrix=matrix)
    assert err.value.code == code
    assert where in err.value.reason
    assert code in MULTISTATE_ERROR_CODES


def test_a_row_starting_in_a_state_never_entered_is_an_error() -> None:
    frame = _rows(("a", 0, 5, "CR"), ("a", 5, 9, "death"))
    frame["from"] = ["(s0)", "relapse"]
    with pytest.raises(InvalidInputError) as err:
        multistate_data(frame, istate="from")
    assert err.value.code == "state_never_entered"
    assert "id a, row 2" in err.value.reason and "'relapse'" in err.value.reason


def test_unknown_state_and_missing_column_are_errors() -> None:
    with pytest.raises(InvalidInputError) as err:
        multistate_data(_rows(("a", 0, 5, "CR")), matrix=INFANT_ALL, initial="diagnosis")
    assert err.value.code == "unknown_state" and "id a, row 1" in err.value.reason
    with pytest.raises(InvalidInputError) as err:
        multistate_data(_rows(("a", 0, 5, "CR")), state="status")
    assert err.value.code == "unknown_column"


def test_histories_walk_the_infant_all_matrix() -> None:
    hs = [
        _hist(
            "A",
            Response(date=_day(30), status="cr"),
            HSCT(date=_day(150)),
            Relapse(date=_day(400)),
            Death(date=_day(500)),
        ),
        _hist("B", Response(date=_day(30), status="cr"), LastContact(date=_day(900))),
        _hist("C", Death(date=_day(10))),
        _hist("D", Response(date=_day(35), status="no_cr"), LastContact(date=_day(200))),
    ]
    frame = infant_all_data(hs).to_frame()
    a = frame[frame["id"] == "A"]
    assert list(a["from"]) == ["diagnosis", "CR1", "HSCT in CR1", "relapse"]
    assert list(a["state"]) == ["CR1", "HSCT in CR1", "relapse", "death"]
    np.testing.assert_allclose(a["tstop"] * 365.25, [30, 150, 400, 500])
    assert list(frame.loc[frame["id"] == "B", "state"]) == ["CR1", "censored"]
    assert list(frame.loc[frame["id"] == "C", "state"]) == ["early death"]
    assert list(frame.loc[frame["id"] == "D", "state"]) == ["induction failure", "censored"]


def test_same_day_transitions_are_half_a_day_apart() -> None:
    hs = [
        _hist(
            "A", Response(date=_day(30), status="cr"), Relapse(date=_day(30)), Death(date=_day(30))
        )
    ]
    frame = infant_all_data(hs).to_frame()
    np.testing.assert_allclose(frame["tstop"] * 365.25, [30, 30.5, 31.0])
    assert list(frame["state"]) == ["CR1", "relapse", "death"]


def test_analysis_to_dict_is_the_cli_contract(infant: pd.DataFrame) -> None:
    data = multistate_data(infant, initial="diagnosis", matrix=INFANT_ALL)
    out = multistate_analysis(data, [1, 2, 5], tau=5).to_dict()
    assert out["states"] == list(INFANT_ALL.states)
    assert {r["time"] for r in out["occupation"]} == {1.0, 2.0, 5.0}
    assert set(out["occupation"][0]) >= {"time", "state", "probability", "std_err"}
    assert sum(r["n"] for r in out["transitions"]) + out["censored"] == len(infant)
    diag = [r for r in out["occupation"] if r["state"] == "diagnosis" and r["time"] == 5.0]
    assert diag[0]["probability"] == 0.0 and diag[0]["lower"] is None  # not estimable: null


def test_disease_course_hsct_contrast_is_a_landmark_estimate() -> None:
    hs = [
        _hist(
            f"P{i}",
            Response(date=_day(30), status="cr"),
            *([HSCT(date=_day(120))] if i % 3 == 0 else []),
            *([Relapse(date=_day(300 + 7 * i))] if i % 4 == 0 else []),
            LastContact(date=_day(1200 + i)),
        )
        for i in range(60)
    ]
    course = disease_course(hs, landmarks=(0.5,), horizon=2.0, min_n=5)
    h = course.hsct.set_index("from_state")
    assert h.loc["HSCT in CR1", "n"] == 20 and h.loc["CR1", "n"] == 40
    # relapse-free = 1 - P(relapse) among those followed: i % 4 == 0 relapse before 2.5 y
    for state, ids in (
        ("HSCT in CR1", [i for i in range(60) if i % 3 == 0]),
        ("CR1", [i for i in range(60) if i % 3 != 0]),
    ):
        relapsed = sum(1 for i in ids if i % 4 == 0)
        assert h.loc[state, "probability"] == pytest.approx(1 - relapsed / len(ids))


def test_cox_prediction_is_the_product_integral_of_predicted_hazards() -> None:
    """mgus2 competing risks: P(pcm at t | x) = sum over u <= t of S(u-) dA_pcm(u)."""
    import json

    from infantall.outcomes.multistate.cox import multistate_cox

    data = multistate_data(pd.read_csv(REF / "mgus2_ms.csv"))
    fit = multistate_cox(data, ["age", "male"])
    profile = {"age": 70.0, "male": 1.0}
    a = fit.cumulative_hazard(("(s0)", "pcm"), profile).set_index("time")["cumhaz"]
    b = fit.cumulative_hazard(("(s0)", "death"), profile).set_index("time")["cumhaz"]
    grid = np.union1d(a.index, b.index)

    def steps(c: pd.Series) -> Any:
        pos = np.searchsorted(c.index.to_numpy(), grid, "right") - 1
        return np.diff(np.where(pos >= 0, c.to_numpy()[np.maximum(pos, 0)], 0.0), prepend=0.0)

    da, db = steps(a), steps(b)
    surv = np.cumprod(1 - da - db)
    before = np.r_[1.0, surv[:-1]]
    pcm = np.cumsum(before * da)
    pred = fit.predict(profile, [60.0, 240.0]).set_index(["time", "state"])["probability"]
    for t in (60.0, 240.0):
        i = int(np.searchsorted(grid, t, "right")) - 1
        assert pred[(t, "pcm")] == pytest.approx(pcm[i], rel=1e-12)
        assert pred[(t, "(s0)")] == pytest.approx(surv[i], rel=1e-12)
    json.dumps(fit.to_dict(), allow_nan=False)
