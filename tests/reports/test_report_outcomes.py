"""The report's outcome sections and figures: inline SVG with downloads, n/e for what cannot
be estimated, no curve for a group without follow-up, clinical order, CIR by risk group with
Gray's test, follow-up and analysis populations."""

from __future__ import annotations

import base64
import html
import re
import struct
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from infantall.cohort import generate_cohort
from infantall.outcomes import OutcomesWarning, gray_test, kaplan_meier_by_group
from infantall.outcomes.endpoints import AnalysisDataset, derive_endpoints
from infantall.outcomes.followup import dataset_follow_up
from infantall.reports.figures.style import DPI_PRINT
from infantall.reports.figures.survival import plot_km
from infantall.reports.html import figure_html, not_estimable
from infantall.reports.outcomes_section import outcome_sections


def _tiny_figure() -> Figure:
    fig = Figure(figsize=(2, 1.5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title("a label")
    return fig


def _downloads(page: str) -> dict[str, bytes]:
    found = re.findall(r'download="[^"]*\.(\w+)" href="data:[^;]+;base64,([^"]+)"', page)
    return {ext: base64.b64decode(data) for ext, data in found}


def test_figure_html_is_inline_svg_with_three_downloads() -> None:
    page = figure_html(_tiny_figure(), alt="a <tiny> figure", name="tiny fig")
    assert page.startswith('<figure class="report-figure"><svg role="img"')
    assert 'aria-label="a &lt;tiny&gt; figure"' in page
    assert "<?xml" not in page and "<metadata>" not in page
    assert re.search(r"<text[^>]*>\s*a label\s*</text>", page)  # text, not glyph paths
    files = _downloads(page)
    assert sorted(files) == ["pdf", "png", "svg"]
    assert files["pdf"][:5] == b"%PDF-" and b"<svg" in files["svg"]
    # PNG pHYs chunk: pixels per metre of the print resolution
    png = files["png"]
    i = png.index(b"pHYs")
    ppm = struct.unpack(">I", png[i + 4 : i + 8])[0]
    assert ppm == pytest.approx(DPI_PRINT / 0.0254, rel=1e-3)
    # twice the same figure gives the same bytes (reproducible report)
    assert page == figure_html(_tiny_figure(), alt="a <tiny> figure", name="tiny fig")


def test_inline_svg_ids_are_unique_per_figure() -> None:
    one = figure_html(_tiny_figure(), alt="a", name="one")
    two = figure_html(_tiny_figure(), alt="a", name="two")
    ids_one = set(re.findall(r'\bid="([^"]+)"', one))
    ids_two = set(re.findall(r'\bid="([^"]+)"', two))
    assert ids_one and not ids_one & ids_two
    for ref in re.findall(r'(?:url\(#|href="#)([^")]+)', one):
        assert ref in ids_one  # every internal reference still resolves


def test_not_estimable_prints_n_e() -> None:
    assert not_estimable(float("nan")) == "n/e"
    assert not_estimable(None) == "n/e"
    assert not_estimable(0.4567, "{:.2f}") == "0.46"


def test_a_group_without_follow_up_draws_no_curve() -> None:
    with pytest.warns(OutcomesWarning, match="all_censored_group"):  # z: no follow-up at all
        curves = kaplan_meier_by_group([0.0, 0.0, 100.0, 200.0], [0, 0, 1, 0], ["z", "z", "a", "a"])
    fig = plot_km(curves, risk_table=False)
    ax = fig.axes[0]
    drawn = [line for line in ax.get_lines() if np.asarray(line.get_xdata()).size > 0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(lab == "z (n=2, no follow-up)" for lab in labels)
    assert all(not str(line.get_label()).startswith("z") for line in drawn)


@pytest.fixture(scope="module")
def dataset() -> AnalysisDataset:
    histories = generate_cohort(250, sites=3, seed=4).to_histories()
    return derive_endpoints(histories, protocol="interfant-06")


def _with_unfollowed_group(ds: AnalysisDataset) -> AnalysisDataset:
    """Three LR patients moved to an 'indeterminate' group censored at day 0 for EFS."""
    ids = ds.covariates.loc[ds.covariates.RISKGRP == "LR", "USUBJID"].head(3)
    cov = ds.covariates.copy()
    cov.loc[cov.USUBJID.isin(ids), "RISKGRP"] = "indeterminate"
    adtte = ds.adtte.copy()
    adtte.loc[adtte.USUBJID.isin(ids), "RISKGRP"] = "indeterminate"
    efs = adtte.USUBJID.isin(ids) & (adtte.PARAMCD == "EFS")
    adtte.loc[efs, ["AVAL", "AVALY", "STATUS"]] = [0.0, 0.0, 0]
    return AnalysisDataset(adtte, cov, ds.options, ds.excluded)


def _rows(section_html: str, first_cell: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", section_html)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]
    return [c for c in cells if c and c[0] == first_cell]


def test_group_without_follow_up_is_n_e_never_100_percent(dataset: AnalysisDataset) -> None:
    with pytest.warns(OutcomesWarning, match="'indeterminate' has no events"):
        sections = {
            s.id: s for s in outcome_sections(_with_unfollowed_group(dataset), group="RISKGRP")
        }
    efs = sections["outcomes-efs"].html
    (row,) = _rows(efs, "indeterminate")
    assert row[4] == "n/e" and row[5] == "n/e"
    assert "100.0%" not in efs


def test_outcome_tables_are_in_clinical_order_with_gray_test(dataset: AnalysisDataset) -> None:
    sections = {s.id: s for s in outcome_sections(dataset, group="RISKGRP")}
    efs = sections["outcomes-efs"].html
    firsts = [c[0] for c in (re.findall(r"<td[^>]*>(.*?)</td>", r)
                             for r in re.findall(r"<tr>(.*?)</tr>", efs)) if c]  # fmt: skip
    assert [g for g in firsts if g in ("LR", "MR", "HR")] == ["LR", "MR", "HR"]
    cir = sections["outcomes-cir"].html
    df = dataset.endpoint("CIR")
    gray = gray_test(df.time, df.status, df.RISKGRP.astype(str), cause=1)
    assert f"chi-square {gray.statistic:.2f} on {gray.df} df, p = {gray.p_value:.3g}" in cir
    pops = {p.analysis: p for p in dataset_follow_up(dataset).populations}
    assert pops["CIR (patients in CR1)"].describe() in cir
    assert cir.count('<svg role="img"') == 2  # stacked and by risk group


def test_hsct_section_draws_simon_makuch_as_inline_svg(dataset: AnalysisDataset) -> None:
    sections = {s.id: s for s in outcome_sections(dataset, group="RISKGRP")}
    hsct = sections["outcomes-hsct"].html
    assert hsct.count('<svg role="img"') == 1 and "<img" not in hsct
    files = _downloads(hsct)
    assert sorted(files) == ["pdf", "png", "svg"]
    assert 'download="hsct-simon-makuch.svg"' in hsct


def test_follow_up_section_and_table_one_in_clinical_order(dataset: AnalysisDataset) -> None:
    from infantall.protocols import stratify_histories
    from infantall.reports.cohort_section import _follow_up_section, _table_one_section

    fu = dataset_follow_up(dataset)
    body = _follow_up_section(fu).html
    assert html.escape(fu.describe()) in body
    assert f"<td>{fu.follow_up.median / 365.25:.2f}</td>" in body
    for pop in fu.populations:
        assert f"<td>{html.escape(pop.analysis)}</td>" in body
    histories = generate_cohort(250, sites=3, seed=4).to_histories()
    table1 = _table_one_section(histories, stratify_histories(histories)).html
    heads = re.findall(r"<th>(.*?)</th>", table1)
    assert heads[:5] == ["feature", "all", "LR", "MR", "HR"]


def test_subtitle_says_synthetic_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from infantall.reports import full as full_module

    captured: dict[str, Any] = {}

    def fake_render(title: str, sections: Any, *, subtitle: str | None = None) -> str:
        captured["subtitle"] = subtitle
        return ""

    monkeypatch.setattr(full_module, "render_report", fake_render)
    monkeypatch.setattr(full_module, "full_report_sections", lambda *a, **k: [])
    full_module.full_report(None, label="Demo registry (9 SYNTHETIC infants)", synthetic=True)
    assert str(captured["subtitle"]).count("SYNTHETIC") == 1
    full_module.full_report(None, label="Cohort file x.json", synthetic=True)
    assert str(captured["subtitle"]).count("SYNTHETIC") == 1


def test_reverse_km_years_in_json_are_null_when_not_reached() -> None:
    # everybody dies early and nobody is censored: the reverse curve never drops
    ds_like = pd.DataFrame({"time": [1.0, 2.0, 3.0], "status": [1, 1, 1]})
    from infantall.outcomes.followup import reverse_km_follow_up

    fu = reverse_km_follow_up(ds_like.time, ds_like.status)
    assert np.isnan(fu.median) and fu.to_dict()["median"] is None
