"""Figures: they render to PNG/SVG and show the numbers the analyses give."""

from __future__ import annotations

import pytest

from infantall.errors import InvalidInputError
from infantall.outcomes import (
    cox_ph,
    cumulative_incidence,
    fine_gray,
    kaplan_meier_by_group,
    simon_makuch,
)
from infantall.reports.figures.survival import (
    plot_cif,
    plot_cif_stacked,
    plot_forest,
    plot_km,
    plot_simon_makuch,
    save_figure,
)


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_km_figure_risk_table_matches_numbers_at_risk(lung, tmp_path):
    curves = kaplan_meier_by_group(lung.time, lung.event, lung.sex)
    fig = plot_km(curves, annotation="log-rank p = 0.001")
    table = fig.axes[1]
    ticks = table.get_xticks()
    ticks = ticks[(ticks >= 0) & (ticks <= curves.curves[0].time.max() / 365.25 + 1)]
    expected = {str(int(v)) for c in curves.curves for v in c.n_at_risk(ticks * 365.25)}
    assert expected <= set(_texts(fig))
    assert "log-rank p = 0.001" in _texts(fig)
    for suffix in ("png", "svg"):
        out = save_figure(fig, tmp_path / f"km.{suffix}")
        assert out.stat().st_size > 10_000
    assert (tmp_path / "km.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_cif_forest_and_simon_makuch_render(mgus2, lung, heart, tmp_path):
    cif = cumulative_incidence(mgus2.etime, mgus2.event)
    fig = plot_cif_stacked(cif, cause_labels={1: "Progression", 2: "Death"})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["Progression", "Death"]
    save_figure(fig, tmp_path / "cif.svg")
    fit = cox_ph(lung.dropna(subset=["ph_ecog"]), "time", "event", ["age", "sex", "ph_ecog"])
    fig = plot_forest(fit)
    assert any(t.startswith(f"{fit.hazard_ratio[1]:.2f} (") for t in _texts(fig))
    save_figure(fig, tmp_path / "forest.svg")
    fg = fine_gray(mgus2, "etime", "event", ["age", "male"])
    save_figure(plot_forest(fg), tmp_path / "fg.svg")
    fig = plot_simon_makuch(simon_makuch(heart, "transplant"), time_scale=1, time_unit="days")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[0].startswith("No HSCT") and legend[1].startswith("After HSCT")
    save_figure(fig, tmp_path / "sm.svg")


def test_bad_figure_requests(mgus2):
    cif = cumulative_incidence(mgus2.etime, mgus2.event)
    with pytest.raises(InvalidInputError, match="bad_option"):
        plot_cif_stacked(cif, group="nope")
    with pytest.raises(InvalidInputError, match="bad_option"):
        save_figure(plot_cif_stacked(cif), "x.gif")


def test_figures_are_written_as_vector_pdf(mgus2, tmp_path):
    out = save_figure(plot_cif_stacked(cumulative_incidence(mgus2.etime, mgus2.event)),
                      tmp_path / "cif.pdf")  # fmt: skip
    assert out.read_bytes().startswith(b"%PDF")


def test_cif_by_group_draws_cause_one_of_each_group(mgus2):
    cif = cumulative_incidence(mgus2.etime, mgus2.event, mgus2.male)
    fig = plot_cif(cif, sizes={"0": 5}, title="CIR")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [f"{g} (n={5 if g == '0' else 0})" for g in cif.groups]
    last = fig.axes[0].lines[0].get_ydata()[-1]
    first = next(c for c in cif.curves if c.cause == 1 and c.group == cif.groups[0])
    assert last == pytest.approx(100 * first.estimate[-1])
    with pytest.raises(InvalidInputError, match="bad_option"):
        plot_cif(cif, cause=9)
