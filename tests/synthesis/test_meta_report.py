"""The seed-claim checks and the synthesis report sections."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from infantall.reports import ReportSection, render_report
from infantall.reports.synthesis_section import synthesis_sections
from infantall.synthesis import pool_proportions, proportion_inputs
from infantall.synthesis.claims import check_backbone, check_hsct, check_plateau
from infantall.synthesis.evidence_inputs import evidence_frame, select_estimates

REFERENCE = Path(__file__).parent / "reference"
R = json.loads((REFERENCE / "metafor_reference.json").read_text())
RTOL = 1e-6
"""Agreement with metafor (see test_meta_metafor.py)."""


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return evidence_frame()


def test_plateau_check_uses_metafor_validated_numbers(frame: pd.DataFrame) -> None:
    check = check_plateau(frame)
    n = check.numbers
    # Over all nine infant-specific trials the slope is metafor's mods = ~ mid (REML, z).
    slope = R["metareg"]["mid/reml/z"]["beta"][1]
    np.testing.assert_allclose(n["or_per_decade_all"], math.exp(10 * slope), rtol=RTOL)
    # The recent-era pool equals metafor's pool of the 1995-2006 subgroup.
    ref = R["subgroups"]["era/reml"]
    assert ref["levels"][1] == "1995-2006"
    np.testing.assert_allclose(n["pooled_recent_pct"], 100 * ref["pooled_bt"][1], rtol=RTOL)
    assert f"{n['pooled_recent_pct']:.1f}%" in check.sentence
    assert ("includes 40%" in check.sentence) == n["ci_includes_40"]


def test_backbone_check_names_the_range_and_the_test(frame: pd.DataFrame) -> None:
    check = check_backbone(frame)
    n = check.numbers
    sel = select_estimates(frame, endpoint="efs", population="kmt2a_r")
    assert n["k"] == sel.k
    assert n["min_pct"] == sel.table["percent"].min()
    assert n["max_pct"] == sel.table["percent"].max()
    assert f"Q = {n['q_between']:.1f} on {n['df_between']} df" in check.sentence
    if "without_study" in n:
        assert n["p_between_without"] > n["p_between"]


def test_hsct_check_gives_the_within_trial_difference(frame: pd.DataFrame) -> None:
    check = check_hsct(frame)
    comp = check.numbers["within_trial"]
    # Wald CI of a difference of two proportions, computed by hand from the same numbers.
    p1, n1, p2, n2 = (
        comp["hsct_pct"] / 100,
        comp["hsct_n"],
        comp["no_hsct_pct"] / 100,
        comp["no_hsct_n"],
    )
    half = 1.959963984540054 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    assert comp["diff_ci_low"] == pytest.approx(100 * (p1 - p2 - half), rel=1e-9)
    assert comp["diff_ci_high"] == pytest.approx(100 * (p1 - p2 + half), rel=1e-9)
    np.testing.assert_allclose(
        check.numbers["continued_cr1_pct"], 100 * R["hsct"]["continued_cr1"]["pred_bt"], rtol=RTOL
    )
    assert "neither show nor exclude a benefit" in check.sentence


def test_sections_render_into_a_self_contained_report(frame: pd.DataFrame) -> None:
    sections = synthesis_sections(frame)
    assert [s.id for s in sections] == [
        "synthesis-pooled",
        "synthesis-figures",
        "synthesis-hsct",
        "synthesis-claims",
    ]
    assert all(isinstance(s, ReportSection) for s in sections)
    page = render_report("Synthesis", sections)
    # three figures, each inline SVG with SVG, PDF and 300-dpi PNG downloads
    assert page.count('<svg role="img"') == 3 and "<img" not in page
    assert page.count('download="synthesis-') == 9
    assert "Test of subgroup differences" in page
    # The pooled 5-year EFS of all trials printed in the report is the API's number.
    everyone = select_estimates(frame, endpoint="efs", horizon=5)
    overall = pool_proportions(everyone.inputs())
    assert f"pooled EFS {overall.estimate_pct:.1f}%" in page
    claims = sections[3].html
    for check in (check_backbone(frame), check_plateau(frame), check_hsct(frame)):
        assert check.claim in claims


def test_era_subgroups_are_in_calendar_order(frame: pd.DataFrame) -> None:
    sel = select_estimates(frame, endpoint="efs", horizon=5)
    assert sel.levels("era") == ["before 1990", "1990-1999", "2000 and later"]


def test_subgroup_order_argument() -> None:
    from infantall.synthesis import subgroup_analysis

    inp = proportion_inputs(["a", "b", "c", "d"], [30, 35, 45, 50], [50, 60, 70, 80])
    sub = subgroup_analysis(inp, ["late", "late", "early", "early"], order=["late", "early"])
    assert sub.table["group"].tolist() == ["late", "early"]
