"""One analysis per question: survival at horizons, the HSCT analyses, Table 1.

Each result equals what the presenters assembled by hand before (the same primitives on the
same data) and its ``to_dict()`` is valid strict JSON.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from infantall.cohort import generate_cohort
from infantall.errors import InvalidInputError
from infantall.outcomes import (
    counting_process,
    cox_ph,
    dataset_hsct_analysis,
    hsct_analysis,
    kaplan_meier_by_group,
    landmark,
    mantel_byar,
    survival_at_horizons,
    table_one,
    time_dependent_cox,
)
from infantall.outcomes.endpoints import derive_endpoints


def _strict_json(d: dict) -> dict:
    return json.loads(json.dumps(d, allow_nan=False))


@pytest.fixture(scope="module")
def histories():
    return generate_cohort(200, sites=4, seed=3).to_histories()


@pytest.fixture(scope="module")
def dataset(histories):
    return derive_endpoints(histories, protocol="interfant-06")


def test_survival_at_horizons_equals_the_curves_at_the_horizons(lung):
    res = survival_at_horizons(lung.time, lung.event, lung.sex, [365.25, 730.5])
    curves = kaplan_meier_by_group(lung.time, lung.event, lung.sex)
    expected = curves.at([365.25, 730.5])
    cols = ["group", "time", "n_risk", "survival", "std_err", "lower", "upper"]
    pd.testing.assert_frame_equal(res.table[cols], expected[cols])
    for c in curves.curves:
        assert (res.table.loc[res.table.group == c.label, "n"] == c.n).all()
        assert (res.table.loc[res.table.group == c.label, "events"] == c.n_events).all()
    row = res.row(curves.labels[1], 730.5)
    assert row.survival == expected.iloc[3].survival
    assert len(_strict_json(res.to_dict())["estimates"]) == 4


def test_survival_beyond_follow_up_is_null_and_before_the_first_time_is_one():
    # beyond the last follow-up with patients still event-free: not estimable (null)
    res = survival_at_horizons([1.0, 2.0, 3.0], [1, 0, 0], None, [5.0])
    row = _strict_json(res.to_dict())["estimates"][0]
    assert row["survival"] is None and row["lower"] is None
    # before the first observed time: S = 1 with CI (1, 1), as R summary(survfit, times=)
    early = survival_at_horizons([1.0, 2.0, 3.0], [1, 0, 1], None, [0.5])
    first = _strict_json(early.to_dict())["estimates"][0]
    assert (first["survival"], first["lower"], first["upper"]) == (1.0, 1.0, 1.0)


def test_hsct_analysis_equals_the_primitives(dataset):
    res = dataset_hsct_analysis(dataset)
    cp = dataset.hsct_counting_process("EFS")
    efs = dataset.endpoint("EFS")
    td = time_dependent_cox(cp, ["hsct"]).summary.iloc[0]
    mb = mantel_byar(cp, "hsct")
    lm_time = float(np.nanmedian(efs.HSCTDY))
    lm = landmark(efs, "time", "status", lm_time, exposure_time="HSCTDY")
    ever = (efs.HSCTDY.notna() & (efs.time > efs.HSCTDY)).astype(int)
    naive = cox_ph(efs.assign(_ever=ever), "time", "status", ["_ever"]).summary.iloc[0]
    est = res.estimates
    assert est[0].label == "time-dependent Cox (Efron)"
    assert (est[0].hazard_ratio, est[0].ci_lower, est[0].ci_upper, est[0].p_value) == (
        td.hr,
        td.hr_lower,
        td.hr_upper,
        td.p,
    )
    assert est[0].statistic == pytest.approx(td.z**2)
    assert (est[1].statistic, est[1].p_value) == (mb.chisq, mb.p_value)
    assert res.landmark_time == lm_time
    assert res.landmark is not None and res.landmark.n_at_risk == lm.n_at_risk
    assert est[2].p_value == (None if lm.test is None else lm.test.p_value)
    assert est[3].hazard_ratio == naive.hr
    assert res.n == len(efs) and res.n_exposed == int(efs.HSCTDY.notna().sum())
    d = _strict_json(res.to_dict())
    assert [e["label"] for e in d["estimates"]] == [e.label for e in est]
    assert list(res.summary.label) == [e.label for e in est]


def test_hsct_analysis_from_columns_matches_counting_process(dataset):
    efs = dataset.endpoint("EFS")
    efs = efs[efs.time > 0]
    res = hsct_analysis(efs, "time", "status", "HSCTDY", landmark_time=180.0)
    cp = counting_process(efs, "time", "status", "HSCTDY")
    assert len(res.counting) == len(cp)
    assert res.mantel_byar.chisq == pytest.approx(mantel_byar(cp).chisq, rel=1e-12)
    assert res.estimates[2].label == "landmark at 180"


def test_hsct_analysis_without_exposure_says_there_is_nothing_to_compare():
    df = pd.DataFrame({"t": [10.0, 20.0, 30.0], "e": [1, 0, 1], "h": [np.nan, 25.0, np.nan]})
    with pytest.raises(InvalidInputError, match="nothing to compare") as info:
        hsct_analysis(df, "t", "e", "h")
    assert info.value.code == "too_few_groups"


def test_table_one_cells_add_up(histories, dataset):
    groups = dataset.covariates.set_index("USUBJID")["RISKGRP"]
    res = table_one(histories, groups)
    table = res.summary
    assert table.columns[0] == "all" and list(table.index) == list(res.features)
    patients = res.cells[res.cells.feature == "patients"].set_index("column")["n"]
    assert patients["all"] == len(histories) == patients.drop("all").sum()
    males = res.cells[res.cells.feature == "male"].set_index("column")
    assert males.loc["all", "n"] == males.drop("all")["n"].sum()
    m = males.loc["all"]
    assert table.loc["male", "all"] == f"{int(m.n)} ({100 * m.n / m.known:.0f}%)"
    assert _strict_json(res.to_dict())["columns"] == list(res.columns)


def test_cir_by_risk_group_equals_cuminc_and_gray_in_clinical_order(dataset):
    from infantall.outcomes import cumulative_incidence, gray_test
    from infantall.outcomes.questions import cumulative_incidence_at_horizons

    cir = dataset.endpoint("CIR")
    res = cumulative_incidence_at_horizons(
        cir.time, cir.status, cir.RISKGRP, [365.25, 1826.25], protocol="interfant-06"
    )
    present = set(cir.RISKGRP)
    order = [g for g in ("LR", "MR", "HR") if g in present]
    assert list(dict.fromkeys(res.table.group))[: len(order)] == order
    plain = cumulative_incidence(cir.time, cir.status, cir.RISKGRP).at([365.25, 1826.25])
    merged = res.table.merge(plain, on=["group", "cause", "time"], suffixes=("", "_r"))
    ok = merged.estimable
    np.testing.assert_allclose(merged.estimate[ok], merged.estimate_r[ok], rtol=1e-12)
    gray = gray_test(cir.time, cir.status, cir.RISKGRP, cause=1)
    assert res.gray(1).statistic == pytest.approx(gray.statistic, rel=1e-10)
    d = _strict_json(res.to_dict())
    assert d["gray_tests"][0]["cause"] == 1


def test_cir_beyond_a_groups_follow_up_is_null():
    from infantall.outcomes.questions import cumulative_incidence_at_horizons

    # group b is followed to day 4 only, with patients still event-free
    time = [1.0, 2.0, 5.0, 9.0, 1.0, 2.0, 4.0]
    status = [1, 2, 0, 1, 1, 0, 0]
    group = ["a", "a", "a", "a", "b", "b", "b"]
    res = cumulative_incidence_at_horizons(time, status, group, [3.0, 8.0])
    t = res.table.set_index(["group", "cause", "time"])
    assert t.loc[("b", 1, 3.0), "estimable"]
    assert t.loc[("b", 1, 3.0), "estimate"] == pytest.approx(1 / 3)
    assert not t.loc[("b", 1, 8.0), "estimable"] and np.isnan(t.loc[("b", 1, 8.0), "estimate"])
    assert t.loc[("a", 1, 8.0), "estimable"]
    rows = _strict_json(res.to_dict())["estimates"]
    assert any(r["estimate"] is None for r in rows)
