"""OS from first relapse (OSREL) and second remission (CR2) endpoints, by hand-computed
values on small histories (days counted by hand from the dates)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from infantall.domain import PatientHistory
from infantall.outcomes import cumulative_incidence, kaplan_meier
from infantall.outcomes.endpoints import ENDPOINTS, derive_endpoints

DIAG = {"birth_date": "2020-01-01", "diagnosis_date": "2020-03-01"}
CR = {"kind": "response", "date": "2020-04-01", "status": "cr", "marrow": "M1"}
REL = {"kind": "relapse", "date": "2021-01-01", "site": "isolated_marrow"}
SALV = {"kind": "salvage_therapy", "date": "2021-01-03", "line": 1, "agents": "FLAG-Ida"}


def _h(pid: str, *events: dict[str, Any]) -> PatientHistory:
    return PatientHistory.from_dict({"patient": {"patient_id": pid, **DIAG}, "events": events})


HISTORIES = [
    # CR2 on day 40 after relapse, alive at 2022-01-01 (365 days after relapse)
    _h("A", CR, REL, SALV, {"kind": "second_remission", "date": "2021-02-10"},
       {"kind": "last_contact", "date": "2022-01-01"}),
    # no CR2, dies 100 days after relapse: competing event of CR2
    _h("B", CR, REL, SALV, {"kind": "refractory", "date": "2021-02-10", "phase": "salvage"},
       {"kind": "death", "date": "2021-04-11", "cause": "leukemia"}),
    # CR2 on day 59, then a second relapse and death 212 days after the first relapse
    _h("C", CR, REL, SALV, {"kind": "second_remission", "date": "2021-03-01"},
       {"kind": "relapse", "date": "2021-06-01"},
       {"kind": "death", "date": "2021-08-01", "cause": "leukemia"}),
    # relapsed, still on salvage at last contact 20 days after relapse: censored
    _h("D", CR, REL, SALV, {"kind": "last_contact", "date": "2021-01-21"}),
    # never relapsed: no OSREL/CR2 rows
    _h("E", CR, {"kind": "last_contact", "date": "2022-01-01"}),
]  # fmt: skip


def _rows(ds: Any, code: str) -> dict[str, tuple[float, int, str]]:
    r = ds.adtte[code == ds.adtte.PARAMCD]
    return {
        u: (a, s, e or c)
        for u, a, s, e, c in zip(r.USUBJID, r.AVAL, r.STATUS, r.EVNTDESC, r.CNSDTDSC, strict=True)
    }


def test_osrel_and_cr2_rows() -> None:
    ds = derive_endpoints(HISTORIES, protocol=None)
    assert {"OSREL", "CR2"} <= set(ENDPOINTS)
    assert _rows(ds, "OSREL") == {
        "A": (365.0, 0, "LAST CONTACT"),
        "B": (100.0, 1, "DEATH (leukemia)"),
        "C": (212.0, 1, "DEATH (leukemia)"),
        "D": (20.0, 0, "LAST CONTACT"),
    }
    assert _rows(ds, "CR2") == {
        "A": (40.0, 1, "SECOND REMISSION"),
        "B": (100.0, 2, "DEATH (leukemia) BEFORE CR2"),
        "C": (59.0, 1, "SECOND REMISSION"),
        "D": (20.0, 0, "LAST CONTACT"),
    }
    starts = ds.adtte[ds.adtte.PARAMCD == "OSREL"].STARTDT
    assert set(starts) == {dt.date(2021, 1, 1)}  # time zero is the first relapse


def test_cr2_rate_counts_evaluable_patients_only() -> None:
    ds = derive_endpoints(HISTORIES, protocol=None)
    # D (20 days, alive, no CR2) is not evaluable at 180 days; it is at 0 days
    assert ds.cr2_rate() == {"relapsed": 4, "evaluable": 3, "cr2": 2, "rate": 2 / 3}
    assert ds.cr2_rate(window_days=0)["rate"] == 0.5
    none = derive_endpoints([HISTORIES[3]], protocol=None).cr2_rate()
    assert none == {"relapsed": 1, "evaluable": 0, "cr2": 0, "rate": None}  # never NaN


def test_cutoff_hides_what_follows_it() -> None:
    ds = derive_endpoints(HISTORIES, protocol=None, cutoff=dt.date(2021, 2, 20))
    assert _rows(ds, "CR2")["C"] == (50.0, 0, "ADMINISTRATIVE CUT-OFF")
    assert _rows(ds, "OSREL")["B"] == (50.0, 0, "ADMINISTRATIVE CUT-OFF")
    assert _rows(ds, "CR2")["A"][:2] == (40.0, 1)


def test_the_endpoints_feed_the_survival_and_competing_risk_analyses() -> None:
    ds = derive_endpoints(HISTORIES, protocol=None)
    os_ = ds.endpoint("OSREL")
    km = kaplan_meier(os_.time, os_.status).summary
    # D censored at 20; at risk 3 at t=100 (B dies), 2 at t=212 (C dies); A censored at 365
    assert km[km.time == 212.0].survival.iloc[0] == pytest.approx((2 / 3) * (1 / 2))
    cr2 = ds.endpoint("CR2")
    cif = cumulative_incidence(cr2.time, cr2.status).summary.set_index("cause")
    # D censored at 20; A's CR2 at 40 (3 at risk): 1/3; C's CR2 at 59 (2 at risk: B, C):
    # 1/3 + (2/3)(1/2) = 2/3; B's death at 100 (1 at risk) takes the remaining 1/3
    assert cif.loc[1, "final_estimate"] == pytest.approx(2 / 3)
    assert cif.loc[2, "final_estimate"] == pytest.approx(1 / 3)
