"""Report sections built from a SYNTHETIC cohort's derived endpoints."""

from __future__ import annotations

import pytest

from infantall.cohort import generate_cohort
from infantall.outcomes import kaplan_meier_by_group
from infantall.outcomes.endpoints import derive_endpoints
from infantall.reports import render_report
from infantall.reports.outcomes_section import outcome_sections


@pytest.fixture(scope="module")
def dataset():
    return derive_endpoints(generate_cohort(200, sites=4, seed=3).to_histories())


def test_sections_render_and_carry_the_km_numbers(dataset):
    sections = outcome_sections(dataset, horizon_years=4)
    ids = [s.id for s in sections]
    assert ids[:3] == ["outcomes-efs", "outcomes-os", "outcomes-cir"]
    efs = dataset.endpoint("EFS")
    curves = kaplan_meier_by_group(efs.time, efs.status, efs.KMT2A.astype(str))
    at = curves.at([4 * 365.25])
    for row in at.itertuples():
        assert f"{100 * row.survival:.1f}% (SE {100 * row.std_err:.1f})" in sections[0].html
    page = render_report("Outcomes (SYNTHETIC)", sections)
    assert "data:image/png;base64," in page
