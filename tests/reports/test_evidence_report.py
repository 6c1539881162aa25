"""The evidence report: the figure's data and the seeds' tables rebuilt from the records."""

from __future__ import annotations

import base64
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from infantall.evidence import Evidence
from infantall.reports import figure_points
from infantall.reports.figures.evidence import _CHAR_YEARS, _LINE_PCT, X_LIMITS, place_labels


def _section(page: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', page, flags=re.S)
    assert match is not None, section_id
    return match.group(1)


def _body_rows(table_html: str) -> int:
    body = re.search(r"<tbody>(.*?)</tbody>", table_html, flags=re.S)
    assert body is not None
    return body.group(1).count("<tr")


def test_figure_points_per_panel(evidence: Evidence) -> None:
    efs = figure_points(evidence, "efs")
    os_ = figure_points(evidence, "os")
    # EFS/DFS cells printed: seed 004 Table 1 45 (4 rows print dashes), Table 2 11,
    # seed 000 Table 1 10 (POG9407 and the three ongoing trials print NA).
    assert len(efs) == 45 + 11 + 10
    # OS cells printed: seed 004 Table 1 28, Table 2 11, seed 000 Table 1 7.
    assert len(os_) == 28 + 11 + 7
    assert set(efs["category"]) == {"childhood", "infant-specific", "infant-specific, KMT2A-r"}
    assert (efs["x_end"] > efs["x_start"]).all()
    assert ((efs["estimate_pct"] >= 0) & (efs["estimate_pct"] <= 100)).all()
    assert set(efs.loc[efs["endpoint"] == "dfs", "record_id"]) == {
        "s004-t1-pethema-all-93",
        "s000-t1-interfant-blinatumomab-pilot",
    }


def test_report_embeds_the_figure_and_nothing_external(report_html: str) -> None:
    # the figure is inline SVG (text stays selectable) with SVG, PDF and PNG downloads
    assert report_html.count('<svg role="img"') == 1
    assert not re.findall(r'src="([^"]*)"', report_html)
    downloads = dict(re.findall(r'download="[^"]*\.(\w+)" href="([^"]*)"', report_html))
    assert sorted(downloads) == ["pdf", "png", "svg"]
    png = downloads["png"]
    assert png.startswith("data:image/png;base64,")
    assert base64.b64decode(png.split(",", 1)[1])[:4] == b"\x89PNG"
    assert base64.b64decode(downloads["pdf"].split(",", 1)[1])[:5] == b"%PDF-"
    assert not re.search(r"<(link|script)\b", report_html)
    assert not re.search(r'href="(?!#|data:)', report_html)


def test_report_rebuilds_every_seed_table_row(report_html: str) -> None:
    assert _body_rows(_section(report_html, "seed004-table1")) == 49
    assert _body_rows(_section(report_html, "seed004-table2")) == 11
    assert _body_rows(_section(report_html, "seed004-table3")) == 6
    assert _body_rows(_section(report_html, "seed000-table1")) == 14


def test_table3_shows_printed_total_and_row_sum(report_html: str) -> None:
    foot = re.search(r"<tfoot>(.*?)</tfoot>", _section(report_html, "seed004-table3"), re.S)
    assert foot is not None
    cells = re.findall(r"<tr>(.*?)</tr>", foot.group(1))
    numbers = [re.findall(r'<td class="num">(\d+)</td>', row) for row in cells]
    assert numbers == [["170", "85", "38", "47"], ["170", "85", "38", "47"]]


def test_footnoted_cells_show_their_horizon(report_html: str) -> None:
    table1 = _section(report_html, "seed004-table1")
    assert "36.0 (4-y)" in table1  # CCG-192P, footnote a
    assert "50.0 (DFS)" in table1  # PETHEMA ALL-93, footnote d
    assert "20.0 (9-y)" in table1  # Total Therapy Study 10, footnote e
    table0 = _section(report_html, "seed000-table1")
    assert "81.6 (2)*" in table0


def test_sections_are_in_reading_order(report_html: str) -> None:
    ids = re.findall(r'<section id="([^"]+)">', report_html)
    assert ids == [
        "evidence-figure",
        "seed000-table1",
        "seed004-table1",
        "seed004-table2",
        "seed004-table3",
        "text-outcomes",
        "ambiguities",
    ]


def test_every_recorded_ambiguity_is_listed(evidence: Evidence, report_html: str) -> None:
    listed = _section(report_html, "ambiguities").count("<li>")
    expected = sum(
        bool(r.ambiguity) + sum(bool(x.ambiguity) for x in r.results) for r in evidence.records
    )
    assert listed == expected > 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(1976, 2024),
            st.floats(0, 100),
            st.integers(3, 30),
            st.floats(14, 450),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_placed_labels_never_overlap(points: list[tuple[float, float, int, float]]) -> None:
    xs, ys, lengths, sizes = (list(v) for v in zip(*points, strict=True))
    spots = place_labels(xs, ys, lengths, sizes, x_max=X_LIMITS[1])
    boxes = []
    for (x, y, ha), n in zip(spots, lengths, strict=True):
        left = x if ha == "left" else x - n * _CHAR_YEARS
        boxes.append((left, left + n * _CHAR_YEARS, y - _LINE_PCT / 2, y + _LINE_PCT / 2))
    for (_, y, ha), box in zip(spots, boxes, strict=True):
        assert 1.0 <= y <= 101.0
        if ha == "left":  # a label that would run past the axis goes left of its marker
            assert box[1] <= X_LIMITS[1] + 1e-9
    for i, a in enumerate(boxes):
        for b in boxes[:i]:
            assert not (a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3])


def test_twenty_labels_on_one_point_are_stacked_apart() -> None:
    spots = place_labels([2000.0] * 20, [50.0] * 20, [12] * 20, [100.0] * 20, x_max=X_LIMITS[1])
    assert len({y for _, y, _ in spots}) == 20
