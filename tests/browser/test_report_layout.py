"""The full report in a real browser at 1,280 px: nothing wider than the page, no label of a
figure drawn over another, every figure inline SVG with its downloads, one title.

The report is built from a SYNTHETIC cohort (the demo's generator) and opened from a file in
Debian's Chromium (``browser`` fixture of ``conftest.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infantall.cohort import generate_cohort
from infantall.reports.full import full_report

#: The page width the issue asks the report to fit (a common laptop screen).
PAGE_WIDTH = 1280
#: Two label boxes overlap when they share more than this many CSS pixels in both directions
#: (glyph boxes of adjacent text lines touch by a fraction of a pixel).
OVERLAP_PX = 1.0

_LABEL_BOXES = """
() => Array.from(document.querySelectorAll('svg.figure-svg')).map((svg, i) => ({
  figure: svg.getAttribute('aria-label') || String(i),
  boxes: Array.from(svg.querySelectorAll('text'))
    .filter(t => t.textContent.trim().length > 0)
    .map(t => { const r = t.getBoundingClientRect();
                return {text: t.textContent.trim(), x0: r.left, x1: r.right,
                        y0: r.top, y1: r.bottom}; })
    .filter(b => b.x1 - b.x0 > 0 && b.y1 - b.y0 > 0),
}))
"""


def _overlaps(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            dx = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
            dy = min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])
            if dx > OVERLAP_PX and dy > OVERLAP_PX:
                out.append((a["text"], b["text"]))
    return out


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    histories = generate_cohort(300, sites=4, seed=5).to_histories()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implausible synthetic values are reported elsewhere
        page = full_report(histories, label="Demo registry (300 SYNTHETIC infants)", synthetic=True)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report_page(browser: Any, report_file: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": PAGE_WIDTH, "height": 900})
    page = context.new_page()
    page.goto(report_file.as_uri())
    page.wait_for_load_state()
    yield page
    context.close()


def test_nothing_is_wider_than_the_page(report_page: Any) -> None:
    width = report_page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PAGE_WIDTH
    widest = report_page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll('main *'))"
        ".map(e => e.getBoundingClientRect().right))"
    )
    assert widest <= PAGE_WIDTH


def test_no_figure_label_overlaps_another(report_page: Any) -> None:
    figures = report_page.evaluate(_LABEL_BOXES)
    assert len(figures) >= 6  # EFS, OS, CIR x2, cohort among trials, evidence figure
    assert all(f["boxes"] for f in figures)  # text stayed text (selectable), not paths
    clashes = {f["figure"]: _overlaps(f["boxes"]) for f in figures}
    assert {k: v for k, v in clashes.items() if v} == {}


def test_every_report_figure_is_inline_svg_with_downloads(report_page: Any) -> None:
    n_svg = report_page.locator("svg.figure-svg").count()
    for ext in ("svg", "pdf", "png"):
        assert report_page.locator(f'a[download$=".{ext}"]').count() == n_svg
    png = report_page.locator('a[download$=".png"]').first.get_attribute("href")
    assert png.startswith("data:image/png;base64,")


def test_one_title_and_synthetic_said_once_in_it(report_page: Any) -> None:
    assert report_page.locator("h1").count() == 1
    header = report_page.locator("header").inner_text()
    assert header.count("SYNTHETIC") == 1


def test_coordinator_page_shows_follow_up_gray_test_and_clinical_order(
    open_page: Any, live_server: Any
) -> None:
    from infantall.outcomes.followup import dataset_follow_up
    from infantall.services.datasets import registry_cohort

    page = open_page("coord")
    page.goto("/coordinator")
    section = page.locator("section[aria-labelledby='followup-title']")
    text = section.inner_text()
    # the page prints what the analysis function computes on the same registry
    coordinator = live_server.principals["coord"]
    with live_server.database.read_sessions() as session:
        cohort = registry_cohort(
            session,
            coordinator,
            live_server.settings.pseudonym_key.get_secret_value(),
            protocol="interfant-06",
        )
    summary = dataset_follow_up(cohort.dataset)
    assert summary.describe() in text
    assert "CIR (patients in CR1)" in text and "induction failure" in text
    gray = page.locator("p.gray-test")
    assert gray.count() == 1 and "Gray's test" in gray.inner_text()
    groups = page.locator(
        "table:has(caption:has-text('EFS by interfant-06 risk group')) tbody tr td:first-child"
    ).all_inner_texts()
    order = [g for g in dict.fromkeys(groups) if g in ("LR", "MR", "HR")]
    assert order == [g for g in ("LR", "MR", "HR") if g in order]
    assert "100.0% (—–—)" not in page.content()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]
