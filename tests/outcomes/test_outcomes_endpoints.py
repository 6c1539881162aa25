"""Endpoint derivation from domain histories (definitions of DESIGN.md's glossary)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from infantall.domain import (
    HSCT,
    Death,
    LastContact,
    MRDResult,
    Patient,
    PatientHistory,
    Relapse,
    Response,
    SecondMalignancy,
)
from infantall.errors import InvalidInputError
from infantall.outcomes import OutcomesWarning
from infantall.outcomes.endpoints import (
    ENDPOINTS,
    derive_endpoints,
    read_histories,
    write_adtte,
)

D0 = dt.date(2020, 1, 1)


def _day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def _hist(pid: str, *events, **patient) -> PatientHistory:
    base = {"patient_id": pid, "age_days": 100, "diagnosis_date": D0, "kmt2a": "rearranged"}
    return PatientHistory(patient=Patient(**{**base, **patient}), events=events)


@pytest.fixture
def cohort() -> list[PatientHistory]:
    return [
        # CR, HSCT in CR1, relapse (isolated marrow) then death
        _hist(
            "A",
            Response(date=_day(33), status="cr"),
            MRDResult(date=_day(33), value=2e-3, time_point="end_of_induction"),
            HSCT(date=_day(150), donor="unrelated"),
            Relapse(date=_day(400), site="isolated_marrow"),
            Death(date=_day(500)),
        ),
        # induction failure, alive at last contact
        _hist("B", Response(date=_day(35), status="no_cr"), LastContact(date=_day(700))),
        # CR, death in CR
        _hist("C", Response(date=_day(30), status="cr"), Death(date=_day(200))),
        # early death before response assessment
        _hist("D", Death(date=_day(20))),
        # CR, second malignancy, still alive
        _hist(
            "E",
            Response(date=_day(30), status="cr"),
            SecondMalignancy(date=_day(900)),
            LastContact(date=_day(1200)),
        ),
        # CR, CNS relapse after the cut-off used in one test
        _hist(
            "F",
            Response(date=_day(31), status="cr"),
            Relapse(date=_day(1500), site="isolated_cns"),
            LastContact(date=_day(1600)),
        ),
    ]


def _get(ds, pid, code):
    row = ds.adtte[(pid == ds.adtte.USUBJID) & (code == ds.adtte.PARAMCD)]
    assert len(row) == 1, (pid, code)
    return row.iloc[0]


def test_efs_os_dfs(cohort):
    ds = derive_endpoints(cohort, protocol=None)
    a = _get(ds, "A", "EFS")
    assert (a.AVAL, a.STATUS, a.CNSR, a.EVNTDESC) == (400, 1, 0, "RELAPSE (isolated_marrow)")
    b = _get(ds, "B", "EFS")
    assert (b.AVAL, b.STATUS, b.EVNTDESC) == (0, 1, "INDUCTION FAILURE")
    assert _get(ds, "E", "EFS").AVAL == 900
    f = _get(ds, "F", "EFS")
    assert f.AVAL == 1500 and pytest.approx(1500 / 365.25) == f.AVALY
    assert (_get(ds, "A", "OS").AVAL, _get(ds, "A", "OS").STATUS) == (500, 1)
    b_os = _get(ds, "B", "OS")
    assert (b_os.AVAL, b_os.STATUS, b_os.CNSR, b_os.CNSDTDSC) == (700, 0, 1, "LAST CONTACT")
    dfs = _get(ds, "A", "DFS")
    assert (_day(33), 367, 1) == (dfs.STARTDT, dfs.AVAL, dfs.STATUS)
    assert not ((ds.adtte.USUBJID == "B") & (ds.adtte.PARAMCD == "DFS")).any()


def test_induction_failure_at_assessment_date(cohort):
    ds = derive_endpoints(cohort, induction_failure_at_day0=False, protocol=None)
    assert _get(ds, "B", "EFS").AVAL == 35


def test_cir_and_relapse_site(cohort):
    ds = derive_endpoints(cohort, protocol=None)
    assert (_get(ds, "A", "CIR").STATUS, _get(ds, "A", "CIRBM").STATUS) == (1, 1)
    assert _get(ds, "A", "CIRCNS").STATUS == 2
    c = _get(ds, "C", "CIR")
    assert (c.STATUS, c.CNSR, c.AVAL, c.EVNTDESC) == (2, 2, 200, "DEATH (unknown) IN CR")
    assert _get(ds, "E", "CIR").STATUS == 2
    assert _get(ds, "F", "CIRCNS").STATUS == 1


def test_early_death_window(cohort):
    ds = derive_endpoints(cohort, protocol=None)
    d = _get(ds, "D", "EARLYDTH")
    assert (d.STATUS, d.AVAL) == (1, 20)
    c = _get(ds, "C", "EARLYDTH")
    assert (c.STATUS, c.AVAL) == (0, 90)


def test_cutoff_hides_later_events(cohort):
    ds = derive_endpoints(cohort, cutoff=_day(1000), protocol=None)
    f = _get(ds, "F", "EFS")
    assert (f.STATUS, f.AVAL, f.CNSDTDSC) == (0, 1000, "ADMINISTRATIVE CUT-OFF")
    assert _get(ds, "A", "OS").AVAL == 500  # before the cut-off: unchanged


def test_covariates_and_hsct(cohort):
    ds = derive_endpoints(cohort, protocol=None)
    cov = ds.covariates.set_index("USUBJID")
    assert cov.loc["A", "HSCTDY"] == 150 and cov.loc["A", "HSCT_CR1"] == 1
    assert np.isnan(cov.loc["B", "HSCTDY"])
    assert cov.loc["A", "MRD_EOI"] == 2e-3
    assert cov.loc["A", "AGECLASS"] == "3-<6m" and cov.loc["A", "KMT2A_R"] == 1.0
    cp = ds.hsct_counting_process("EFS")
    a = cp[cp.id == "A"]
    assert a[["start", "stop", "event", "hsct"]].values.tolist() == [
        [0, 150, 0, 0],
        [150, 400, 1, 1],
    ]
    assert cp.event.sum() == ds.endpoint("EFS").status.sum() - 1  # B fails at day 0


def test_risk_group_from_protocols(cohort):
    ds = derive_endpoints(cohort)
    assert "RISKGRP" in ds.covariates.columns
    assert ds.covariates.RISKGRP.notna().all()


def test_summary_counts(cohort):
    s = derive_endpoints(cohort, protocol=None).summary.set_index("PARAMCD")
    assert s.loc["OS", "events"] == 3 and s.loc["OS", "n"] == 6
    assert s.loc["CIR", "competing"] == 2
    assert set(s.index) == set(ENDPOINTS)


def test_missing_diagnosis_date_is_excluded_with_warning(cohort):
    no_date = PatientHistory(patient=Patient(patient_id="Z", age_days=50))
    with pytest.warns(OutcomesWarning, match="excluded"):
        ds = derive_endpoints([*cohort, no_date], protocol=None)
    assert ds.excluded == ("Z",)


def test_empty_input():
    with pytest.raises(InvalidInputError, match="empty_data"):
        derive_endpoints([], protocol=None)


def test_write_and_read_round_trip(cohort, tmp_path):
    import json

    ds = derive_endpoints(cohort, protocol=None)
    csv = write_adtte(ds, tmp_path / "adtte.csv")
    back = pd.read_csv(csv)
    assert {"PARAMCD", "AVAL", "CNSR", "EVNTDESC", "STARTDT", "ADT"} <= set(back.columns)
    assert len(back) == len(ds.adtte)
    pq = write_adtte(ds, tmp_path / "adtte.parquet")
    assert len(pd.read_parquet(pq)) == len(ds.adtte)
    with pytest.raises(InvalidInputError, match="bad_option"):
        write_adtte(ds, tmp_path / "adtte.xlsx")
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"histories": [h.to_dict() for h in cohort]}))
    assert [h.patient.patient_id for h in read_histories(path)] == list("ABCDEF")
    path.write_text(json.dumps({"x": 1}))
    with pytest.raises(InvalidInputError):
        read_histories(path)
