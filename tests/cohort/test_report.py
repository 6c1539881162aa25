"""Report sections of a synthetic cohort: labelled, self-contained, with the calibration."""

from __future__ import annotations

from infantall.cohort import SyntheticCohort
from infantall.reports import render_report
from infantall.reports.calibration_section import calibration_figure, cohort_sections


def test_sections_are_labelled_and_embed_the_figure(small: SyntheticCohort) -> None:
    sections = cohort_sections(small)
    assert [s.id for s in sections] == ["synthetic-cohort", "synthetic-calibration"]
    assert "SYNTHETIC data — not real patients" in sections[0].html
    calibration = sections[1].html
    assert calibration.count('<svg role="img"') == 1 and "<img" not in calibration
    for ext in ("svg", "pdf", "png"):
        assert f'download="synthetic-calibration.{ext}"' in calibration
    for t in small.model.targets:
        assert f"{t.estimate_pct:.1f}" in sections[1].html
    page = render_report("Synthetic cohort", sections)
    assert page.count("synthetic-c") >= 2


def test_figure_has_both_endpoints_and_every_group(small: SyntheticCohort) -> None:
    fig = calibration_figure(small)
    left, right = fig.axes
    assert "EFS" in left.get_title()
    assert "OS" in right.get_title()
    labels = [text.get_text() for text in left.get_legend().get_texts()]
    assert [label.split(" ")[0] for label in labels] == list(small.model.groups)
