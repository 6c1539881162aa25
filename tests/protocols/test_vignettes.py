"""Vignettes per protocol: every rule and every boundary the seeds state.

Each case is a patient (or a history), the expected group, the flags raised and, when
indeterminate, the missing fields that would decide it. Expected values are read off the
rules as the seeds state them (quotes in ``infantall.protocols`` and docs/protocols.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from infantall.protocols import INDETERMINATE, stratify

DIAGNOSIS = "2020-06-01"


def patient(**kw: Any) -> dict[str, Any]:
    return {"patient_id": "V", **kw}


def history(events: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"patient": patient(diagnosis_date=DIAGNOSIS, **kw), "events": events}


def mrd(time_point: str, value: float) -> dict[str, Any]:
    return {"kind": "mrd", "date": "2020-09-01", "value": value, "time_point": time_point}


def cr(status: str = "cr") -> dict[str, Any]:
    return {"kind": "response", "date": "2020-07-05", "status": status}


R = {"kmt2a": "rearranged"}
G = {"kmt2a": "germline"}

# (protocol, subject, params, group, flags, missing)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, tuple[str, ...], tuple[str, ...]]] = [
    # Interfant-99: day-8 blasts < 1,000/µL SR, >= 1,000/µL HR
    ("interfant-99", patient(age_days=200, day8_blasts=999), {}, "SR", (), ()),
    ("interfant-99", patient(age_days=200, day8_blasts=1000), {}, "HR", ("hsct_option",), ()),
    ("interfant-99", patient(age_days=200, prednisone_response="good"), {}, "SR", (), ()),
    ("interfant-99", patient(age_days=200), {}, INDETERMINATE, (), ("prednisone_response",)),
    (
        "interfant-99",
        patient(age_days=182, wbc=300, day8_blasts=10, **R),
        {},
        "SR",
        ("hsct_benefit_subgroup",),
        (),
    ),
    ("interfant-99", patient(age_days=183, wbc=300, day8_blasts=10, **R), {}, "SR", (), ()),
    (
        "interfant-99",
        patient(age_days=180, wbc=300, day8_blasts=10, **R),
        {"six_months_days": 180},
        "SR",
        (),
        (),
    ),
    ("interfant-99", patient(age_days=100, wbc=299.9, day8_blasts=10, **R), {}, "SR", (), ()),
    (
        "interfant-99",
        patient(age_days=100, day8_blasts=5000, **R),
        {},
        "HR",
        ("hsct_option", "hsct_benefit_subgroup"),
        (),
    ),
    ("interfant-99", patient(age_days=100, wbc=400, day8_blasts=10, **G), {}, "SR", (), ()),
    # Interfant-06
    ("interfant-06", patient(age_days=30, wbc=900, day8_blasts=9000, **G), {}, "LR", (), ()),
    ("interfant-06", patient(age_days=120, wbc=300, **R), {}, "HR", ("hsct_eligible",), ()),
    (
        "interfant-06",
        patient(age_days=120, wbc=300, **R),
        {"wbc_operator": ">"},
        INDETERMINATE,
        (),
        ("prednisone_response",),
    ),
    (
        "interfant-06",
        patient(age_days=120, wbc=300, day8_blasts=0, **R),
        {"wbc_operator": ">"},
        "MR",
        (),
        (),
    ),
    ("interfant-06", patient(age_days=120, wbc=299, day8_blasts=999, **R), {}, "MR", (), ()),
    (
        "interfant-06",
        patient(age_days=120, wbc=299, day8_blasts=1000, **R),
        {},
        "HR",
        ("hsct_eligible",),
        (),
    ),
    ("interfant-06", patient(age_days=180, wbc=350, **R), {}, "HR", ("hsct_eligible",), ()),
    ("interfant-06", patient(age_days=182, wbc=350, **R), {}, "HR", ("hsct_eligible",), ()),
    ("interfant-06", patient(age_days=183, wbc=350, **R), {}, "MR", (), ()),
    ("interfant-06", patient(age_days=181, wbc=350, **R), {"six_months_days": 180}, "MR", (), ()),
    ("interfant-06", patient(age_days=200), {}, INDETERMINATE, (), ("kmt2a",)),
    (
        "interfant-06",
        patient(age_days=100),
        {},
        INDETERMINATE,
        (),
        ("kmt2a", "wbc", "prednisone_response"),
    ),
    (
        "interfant-06",
        patient(age_days=100, **R),
        {},
        INDETERMINATE,
        (),
        ("wbc", "prednisone_response"),
    ),
    ("interfant-06", patient(wbc=500, **R), {}, INDETERMINATE, (), ("age_days",)),
    ("interfant-06", patient(age_days=100, wbc=500), {}, INDETERMINATE, (), ("kmt2a",)),
    (
        "interfant-06",
        history([mrd("start_of_octadad", 1e-4)], age_days=250, wbc=20, **R),
        {},
        "MR",
        ("hsct_eligible",),
        (),
    ),
    (
        "interfant-06",
        history([mrd("start_of_octadad", 9.9e-5)], age_days=250, wbc=20, **R),
        {},
        "MR",
        (),
        (),
    ),
    (
        "interfant-06",
        history([mrd("end_of_induction", 0.5)], age_days=250, wbc=20, **R),
        {},
        "MR",
        (),
        (),
    ),
    # Interfant-21 (GPOH portal + NCT05327894)
    ("interfant-21", patient(age_days=100, **G), {}, "not_eligible", (), ()),
    ("interfant-21", patient(age_days=100, wbc=400, **R), {}, "HR", (), ()),
    (
        "interfant-21",
        history(
            [cr(), mrd("end_of_induction", 1e-5), mrd("after_blinatumomab_1", 0.0)],
            age_days=250,
            wbc=10,
            **R,
        ),
        {},
        "MR-low",
        ("second_blinatumomab_cycle",),
        (),
    ),
    (
        "interfant-21",
        history(
            [cr(), mrd("end_of_induction", 5e-4), mrd("after_blinatumomab_1", 1e-4)],
            age_days=250,
            wbc=10,
            **R,
        ),
        {},
        "MR-high",
        ("second_blinatumomab_cycle",),
        (),
    ),
    (
        "interfant-21",
        history(
            [cr(), mrd("end_of_induction", 5e-4), mrd("after_blinatumomab_1", 1e-4)],
            age_days=250,
            wbc=10,
            **R,
        ),
        {"reallocation_operator": ">="},
        "HR",
        ("hsct_eligible",),
        (),
    ),
    (
        "interfant-21",
        history([cr("no_cr")], age_days=250, wbc=10, **R),
        {},
        "HR",
        ("hsct_eligible",),
        (),
    ),
    (
        "interfant-21",
        patient(age_days=250, wbc=10, **R),
        {},
        INDETERMINATE,
        (),
        ("induction_response", "mrd_after_blinatumomab_1", "mrd_end_of_induction"),
    ),
    (
        "interfant-21",
        history([mrd("after_blinatumomab_1", 5e-5)], age_days=100, wbc=400, **R),
        {},
        "HR",
        ("hsct_eligible",),
        (),
    ),
    (
        "interfant-21",
        history([mrd("after_blinatumomab_1", 2e-4)], age_days=100, wbc=400, **R),
        {},
        "HR",
        (),
        (),
    ),
    (
        "interfant-21",
        patient(age_days=100, wbc=300, **R),
        {"wbc_operator": ">"},
        INDETERMINATE,
        (),
        (
            "prednisone_response",
            "induction_response",
            "mrd_after_blinatumomab_1",
            "mrd_end_of_induction",
        ),
    ),
    # JPLSG MLL-10
    ("jplsg-mll-10", patient(age_days=20, cns="CNS3", **G), {}, "LR", (), ()),
    ("jplsg-mll-10", patient(age_days=180, cns="CNS1", **R), {}, "IR", (), ()),
    ("jplsg-mll-10", patient(age_days=179, cns="CNS1", **R), {}, "HR", ("hsct_in_cr1",), ()),
    ("jplsg-mll-10", patient(age_days=200, cns="CNS3", **R), {}, "HR", ("hsct_in_cr1",), ()),
    ("jplsg-mll-10", patient(age_days=200, cns="CNS2", **R), {}, "IR", (), ()),
    (
        "jplsg-mll-10",
        patient(age_days=200, cns="CNS2", **R),
        {"cns_disease": ["CNS2", "CNS3"]},
        "HR",
        ("hsct_in_cr1",),
        (),
    ),
    ("jplsg-mll-10", patient(age_days=200, **R), {}, INDETERMINATE, (), ("cns",)),
    ("jplsg-mll-10", patient(age_days=100, **R), {}, "HR", ("hsct_in_cr1",), ()),
    ("jplsg-mll-10", patient(age_days=200, cns="CNS1"), {}, INDETERMINATE, (), ("kmt2a",)),
    # COG AALL0631
    ("cog-aall0631", patient(age_days=30, **G), {}, "SR", (), ()),
    ("cog-aall0631", patient(age_days=90, **R), {}, "IR", (), ()),
    ("cog-aall0631", patient(age_days=89, **R), {}, "HR", (), ()),
    ("cog-aall0631", patient(age_days=6, **G), {}, "SR", ("dose_reduction_25pct",), ()),
    ("cog-aall0631", patient(age_days=7, **R), {}, "HR", (), ()),
    ("cog-aall0631", patient(age_days=3), {}, INDETERMINATE, ("dose_reduction_25pct",), ("kmt2a",)),
    ("cog-aall0631", patient(**R), {}, INDETERMINATE, (), ("age_days",)),
    # JILSG MLL96/98
    ("jilsg-mll96-98", patient(age_days=100, **R), {}, "KMT2A-r", ("hsct_in_cr1",), ()),
    ("jilsg-mll96-98", patient(age_days=100, **G), {}, "KMT2A-g", (), ()),
    ("jilsg-mll96-98", patient(age_days=100), {}, INDETERMINATE, (), ("kmt2a",)),
    # JPLSG MLL03
    (
        "jplsg-mll03",
        history([{"kind": "response", "date": "2020-07-05", "status": "cr"}], age_days=100, **R),
        {},
        "KMT2A-r",
        ("early_hsct_in_cr1",),
        (),
    ),
    (
        "jplsg-mll03",
        history([{"kind": "response", "date": "2020-07-05", "status": "no_cr"}], age_days=100, **R),
        {},
        "KMT2A-r",
        (),
        (),
    ),
    ("jplsg-mll03", patient(age_days=100, **G), {}, "not_eligible", (), ()),
    # CCG-1953 / POG 9407
    (
        "ccg-1953-pog-9407",
        patient(age_days=90, **R),
        {},
        "KMT2A-r",
        ("hsct_preferred_ccg1953", "hsct_option_pog9407", "high_early_death_risk"),
        (),
    ),
    ("ccg-1953-pog-9407", patient(age_days=91, **G), {}, "KMT2A-g", (), ()),
]


@pytest.mark.parametrize(
    ("protocol", "subject", "params", "group", "flags", "missing"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_vignette(
    protocol: str,
    subject: dict[str, Any],
    params: dict[str, Any],
    group: str,
    flags: tuple[str, ...],
    missing: tuple[str, ...],
) -> None:
    d = stratify(subject, protocol, params)
    assert d.group == group
    assert d.flags == flags
    assert d.missing_fields == missing
    assert d.determinate == (group != INDETERMINATE)
    assert d.protocol == protocol
    if d.determinate:
        assert d.fired_rules[0] == f"{protocol}.{group}"
        assert f"group {group}" in d.explanation
    else:
        assert all(name in d.explanation for name in missing)
    assert len(d.fired_rules) == (1 if d.determinate else 0) + len(flags)


def test_mll03_flag_needs_the_induction_response() -> None:
    d = stratify(patient(age_days=100, **R), "jplsg-mll03")
    assert d.group == "KMT2A-r"
    assert d.undetermined_flags == ("early_hsct_in_cr1", "hsct_within_4_months_of_cr1")
    assert d.flag_missing_fields["early_hsct_in_cr1"] == ("induction_response",)
    assert "early_hsct_in_cr1" in d.explanation


@pytest.mark.parametrize(("hsct_date", "raised"), [("2020-11-03", True), ("2020-11-04", False)])
def test_mll03_hsct_timing_is_a_rule(hsct_date: str, raised: bool) -> None:
    """CR on 2020-07-05; 121 days later (2020-11-03) is within 4 × 30.4375 days."""
    events = [cr(), {"kind": "hsct", "date": hsct_date}]
    d = stratify(history(events, age_days=100, **R), "jplsg-mll03")
    assert ("hsct_within_4_months_of_cr1" in d.flags) is raised
    shorter = stratify(history(events, age_days=100, **R), "jplsg-mll03", {"early_hsct_days": 90})
    assert "hsct_within_4_months_of_cr1" not in shorter.flags


def test_interfant06_hsct_flag_is_exact() -> None:
    """Issue 16's vignette: KMT2A-r, 100 days, day-8 response missing, MRD 1e-3 after
    consolidation: HR or MR, HSCT-eligible in both ("medium-risk infants with MRD ≥ 10^-4
    following consolidation and all high-risk infants also eligible for HSCT")."""
    subject = history([mrd("end_of_consolidation", 1e-3)], age_days=100, wbc=100, **R)
    d = stratify(subject, "interfant-06")
    assert d.group == INDETERMINATE
    assert d.reachable_groups == ("HR", "MR")
    assert d.missing_fields == ("prednisone_response",)
    assert d.flags == ("hsct_eligible",)
    low = stratify(history([mrd("end_of_consolidation", 1e-5)], age_days=100, wbc=100, **R))
    assert low.undetermined_flags == ("hsct_eligible",)
    assert low.flag_missing_fields == {"hsct_eligible": ("prednisone_response",)}


def test_one_reading_of_mrd_after_consolidation() -> None:
    """Interfant-06 and the prognostic flag read the same feature: end of consolidation,
    else start of OCTADAD."""
    for tp in ("end_of_consolidation", "start_of_octadad"):
        subject = history([mrd(tp, 1e-3)], age_days=250, wbc=10, **R)
        assert "hsct_eligible" in stratify(subject, "interfant-06").flags
        flags = stratify(subject, "prognostic-factors").flags
        assert "mrd_ge_1e-4_after_consolidation" in flags
    both = history(
        [mrd("end_of_consolidation", 1e-5), mrd("start_of_octadad", 1e-3)], age_days=250, **R
    )
    assert "hsct_eligible" not in stratify(both, "interfant-06").flags
    assert "mrd_ge_1e-4_after_consolidation" not in stratify(both, "prognostic-factors").flags


@pytest.mark.parametrize(("age", "raised"), [(1, True), (27, True), (28, False), (200, False)])
def test_congenital_flag(age: int, raised: bool) -> None:
    """Congenital ALL: first month of life, read as < 28 days (van der Linden 2009)."""
    d = stratify(patient(age_days=age), "prognostic-factors")
    assert ("congenital" in d.flags) is raised


def test_uk_infant_87_92_flags() -> None:
    d = stratify(history([cr()], age_days=100, **R), "uk-infant-87-92")
    assert d.group == "not_applicable"
    assert d.flags == ("infant87_hsct_matched_sibling", "infant92_hsct_permitted")
    g = stratify(history([cr()], age_days=100, **G), "uk-infant-87-92")
    assert g.flags == ("infant87_hsct_matched_sibling",)
    unknown = stratify(patient(age_days=100, **R), "uk-infant-87-92")
    assert unknown.flag_missing_fields == {
        "infant87_hsct_matched_sibling": ("induction_response",),
        "infant92_hsct_permitted": ("induction_response",),
    }


def test_prognostic_flags_all_adverse() -> None:
    subject = history(
        [mrd("end_of_consolidation", 1e-4)],
        age_days=60,
        wbc=300,
        cd10="negative",
        day8_blasts=1000,
        cns="CNS3",
        day15_marrow="M3",
        fusion_partner="AFF1",
        **R,
    )
    d = stratify(subject, "prognostic-factors")
    assert d.group == "not_applicable"
    assert d.flags == (
        "kmt2a_rearranged",
        "age_lt_6_months",
        "age_lt_3_months",
        "age_lt_90_days",
        "wbc_ge_300",
        "wbc_gt_50",
        "cd10_negative",
        "poor_prednisone_response",
        "cns_disease",
        "day15_m3_marrow",
        "mrd_ge_1e-4_after_consolidation",
        "t_4_11",
    )  # age 60 days: not congenital (< 28 days)
    assert d.undetermined_flags == ()


@pytest.mark.parametrize(
    ("changes", "params", "flags"),
    [
        ({"age_days": 91, "wbc": 50.0}, {}, ("age_lt_3_months", "age_lt_6_months")),
        ({"age_days": 92, "wbc": 50.01}, {}, ("age_lt_6_months", "wbc_gt_50")),
        ({"age_days": 90, "wbc": 1}, {}, ("age_lt_3_months", "age_lt_6_months")),
        (
            {"age_days": 90, "wbc": 1},
            {"age_90_days_operator": "<="},
            ("age_lt_3_months", "age_lt_6_months", "age_lt_90_days"),
        ),
        ({"age_days": 89, "wbc": 1}, {}, ("age_lt_3_months", "age_lt_6_months", "age_lt_90_days")),
        ({"age_days": 200, "wbc": 299.99, "cns": "CNS2", "day15_marrow": "M2"}, {}, ("wbc_gt_50",)),
        (
            {"age_days": 200, "wbc": 1, "cns": "CNS2", "day15_marrow": "M2"},
            {"cns_disease": ("CNS2", "CNS3"), "day15_marrow_adverse": ("M2", "M3")},
            ("cns_disease", "day15_m3_marrow"),
        ),
    ],
)
def test_prognostic_boundaries(
    changes: dict[str, Any], params: dict[str, Any], flags: tuple[str, ...]
) -> None:
    d = stratify(patient(**changes), "prognostic-factors", params)
    assert set(d.flags) == set(flags)
