"""The HTML machinery: data URIs, sections, self-contained pages."""

from __future__ import annotations

import base64
import re

import pytest
from matplotlib.figure import Figure

from infantall import RESEARCH_DISCLAIMER
from infantall.reports import ReportSection, figure_to_data_uri, html_table, render_report


def _tiny_figure() -> Figure:
    fig = Figure(figsize=(2, 1.5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    return fig


def test_png_data_uri_decodes_to_a_png() -> None:
    uri = figure_to_data_uri(_tiny_figure())
    assert uri.startswith("data:image/png;base64,")
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"


def test_svg_data_uri_is_svg_and_reproducible() -> None:
    first = figure_to_data_uri(_tiny_figure(), fmt="svg")
    second = figure_to_data_uri(_tiny_figure(), fmt="svg")
    assert first.startswith("data:image/svg+xml;base64,")
    assert b"<svg" in base64.b64decode(first.split(",", 1)[1])
    assert first == second


def test_unknown_figure_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="png"):
        figure_to_data_uri(_tiny_figure(), fmt="gif")  # type: ignore[arg-type]


def test_section_ids_must_be_anchors() -> None:
    with pytest.raises(ValueError, match="section id"):
        ReportSection("has space", "T", "<p></p>")
    with pytest.raises(ValueError, match="duplicate"):
        render_report("t", [ReportSection("a", "A", ""), ReportSection("a", "B", "")])


def test_page_is_self_contained_with_disclaimer_and_escaped_title() -> None:
    page = render_report(
        "Trials <&> results",
        [ReportSection("one", "First & only", "<p>body</p>")],
        subtitle="sub",
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "Trials &lt;&amp;&gt; results" in page
    assert RESEARCH_DISCLAIMER in page
    assert '<a href="#one">First &amp; only</a>' in page
    assert '<section id="one">' in page and "<p>body</p>" in page
    assert not re.search(r"<(link|script)\b", page)


def test_html_table_escapes_cells_and_titles() -> None:
    out = html_table(
        [{"a": "<b>", "b": 1.5}],
        ["a", "b"],
        headers={"a": "A&B"},
        row_titles=['quote "x"'],
        numeric=["b"],
        footer=[{"a": "Total", "b": 3}],
    )
    assert "<td>&lt;b&gt;</td>" in out
    assert '<td class="num">1.5</td>' in out
    assert "<th>A&amp;B</th>" in out
    assert 'title="quote &quot;x&quot;"' in out
    assert "<tfoot><tr><td>Total</td>" in out
