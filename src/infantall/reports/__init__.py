"""Figures and self-contained HTML reports.

>>> from infantall.reports import ReportSection, render_report
>>> page = render_report("Title", [ReportSection("intro", "Intro", "<p>Hello</p>")])

Other parts add their own section builders returning :class:`ReportSection` objects; the
evidence part contributes :func:`evidence_sections` and :func:`evidence_report`.
"""

from infantall.reports.evidence_section import evidence_report, evidence_sections
from infantall.reports.figures.evidence import evidence_figure, figure_points
from infantall.reports.html import ReportSection, figure_to_data_uri, html_table, render_report

__all__ = [
    "ReportSection",
    "evidence_figure",
    "evidence_report",
    "evidence_sections",
    "figure_points",
    "figure_to_data_uri",
    "html_table",
    "render_report",
]
