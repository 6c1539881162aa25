"""The design report sections build from the evidence base and the example design."""

from __future__ import annotations

from pathlib import Path

from infantall.design import exact_binomial_design
from infantall.reports import render_report
from infantall.reports.design_section import design_sections

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "design" / "pick-a-winner-binary.yaml"


def test_sections_render_with_the_evidence_numbers() -> None:
    sections = design_sections(spec_path=EXAMPLE, n_trials=300)
    assert [s.id for s in sections] == ["design-historical", "design-adaptive"]
    hist = sections[0].html
    # Interfant-06 KMT2A-r 6-year EFS 36.4% (seed 000 Table 1) as the historical rate
    assert "36.4%" in hist
    d = exact_binomial_design(0.364, 0.65, alpha=0.05, power=0.8)
    assert f"{d.n} (reject if ≥ {d.r})" in hist
    adaptive = sections[1].html
    assert adaptive.count('<svg role="img"') == 1 and "<img" not in adaptive  # inline SVG
    for ext in ("svg", "pdf", "png"):
        assert f'download="design-selection.{ext}"' in adaptive
    page = render_report("Design", sections)
    assert "design-adaptive" in page
