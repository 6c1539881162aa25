"""The report section "Borrowing from history" formats the borrowing result."""

from __future__ import annotations

import re

from infantall.reports.borrowing_section import borrowing_section


def test_section_cites_every_used_trial_and_shows_oc() -> None:
    sec = borrowing_section(trials=1000)
    assert sec.id == "design-borrowing"
    assert sec.title == "Borrowing from history"
    # both figures inline SVG (vector, selectable text) with SVG/PDF/300-dpi PNG downloads
    assert sec.html.count('<svg role="img"') == 2 and "<img" not in sec.html
    for stem in ("borrowing-forest", "borrowing-densities"):
        for ext in ("svg", "pdf", "png"):
            assert f'download="{stem}.{ext}"' in sec.html
    assert "interfant-06" in sec.html and "000_" in sec.html  # trial and its source
    assert "ESS (ELIR)" in sec.html and "± " in sec.html
    assert len(re.findall(r"conflict", sec.html)) >= 6
    text = re.sub(r'(src|href)="data:[^"]*"', "", sec.html)  # the figures' base64 is not text
    text = re.sub(r"<svg.*?</svg>", "", text, flags=re.S)  # nor is their drawing
    assert not re.search(r"\bnan\b", text.lower())
