"""Report sections of the evidence base: the figure and the seeds' tables rebuilt from data."""

from __future__ import annotations

import html
from collections.abc import Sequence

from infantall.evidence import Evidence, Result, TrialRecord, load_evidence
from infantall.reports.figures.evidence import evidence_figure
from infantall.reports.html import ReportSection, figure_html, html_table, render_report

__all__ = ["evidence_report", "evidence_sections"]

SEED_000 = "000_2f48a84a65020b3f.txt"
SEED_004 = "004_1b9a3d5192e595c7.txt"


def _years(rec: TrialRecord) -> str:
    if rec.accrual_start is None:
        return ""
    if rec.accrual_end is None:
        return f"{rec.accrual_start}–"
    return f"{rec.accrual_start}–{rec.accrual_end}"


def _find(rec: TrialRecord, endpoints: Sequence[str]) -> Result | None:
    return next((r for r in rec.results if r.endpoint in endpoints), None)


def _cell(res: Result | None, default_endpoint: str, default_horizon: float | None) -> str:
    """A table cell: the estimate, with horizon/endpoint when they differ from the column."""
    if res is None or res.estimate_pct is None:
        return "—"
    extra = []
    if res.horizon_years is not None and res.horizon_years != default_horizon:
        extra.append(f"{res.horizon_years:g}-y")
    if res.endpoint != default_endpoint:
        extra.append(res.endpoint.upper())
    value = f"{res.estimate_pct:.1f}"
    return f"{value} ({' '.join(extra)})" if extra else value


def _table(evidence: Evidence, seed: str, location: str) -> list[TrialRecord]:
    return [r for r in evidence.records if r.source.seed == seed and r.source.location == location]


def _study_name(rec: TrialRecord) -> str:
    return rec.study


def _tips(recs: Sequence[TrialRecord]) -> list[str | None]:
    return [f"{r.record_id}: “{r.source.quote}”" for r in recs]


def _seed004_table1(evidence: Evidence) -> ReportSection:
    recs = _table(evidence, SEED_004, "Table 1")
    rows = [
        {
            "group": r.group,
            "countries": ", ".join(r.countries),
            "study": _study_name(r),
            "years": _years(r),
            "n": r.n,
            "efs": _cell(_find(r, ("efs", "dfs")), "efs", 5),
            "os": _cell(_find(r, ("os",)), "os", 5),
            "flag": "⚠" if r.ambiguity else "",
        }
        for r in recs
    ]
    table = html_table(
        rows,
        ["group", "countries", "study", "years", "n", "efs", "os", "flag"],
        headers={
            "group": "Group",
            "countries": "Country",
            "study": "Study",
            "years": "Year",
            "n": "Number of infants",
            "efs": "5-year EFS (%)",
            "os": "5-year OS (%)",
            "flag": "",
        },
        numeric=["n", "efs", "os"],
        row_titles=_tips(recs),
        nowrap=["years"],
        footer=[{"study": f"{len(recs)} printed rows", "n": sum(r.n or 0 for r in recs)}],
    )
    note = (
        '<p class="note">Rebuilt from the evidence base. Footnotes of the printed table are '
        "shown in the cells: a 4-y EFS, b 10-y EFS and OS, c 3-y EFS, d 5-y DFS, e 9-y EFS. "
        "Rows combining two studies are shown as one row. ⚠ marks an ambiguity recorded in the "
        "data (see the last section); hover a row for its source quote.</p>"
    )
    return ReportSection(
        "seed004-table1",
        "Infants treated on childhood ALL protocols (seed 004, Table 1)",
        table + note,
    )


def _seed004_table2(evidence: Evidence) -> ReportSection:
    recs = _table(evidence, SEED_004, "Table 2")
    rows = []
    for r in recs:
        parts = [f"{c.study} {c.accrual_start}–{c.accrual_end} (N {c.n})" for c in r.components]
        rows.append(
            {
                "group": r.group,
                "study": r.study + (f" [{'; '.join(parts)}]" if parts else ""),
                "years": _years(r),
                "n": r.n,
                "cr": _cell(_find(r, ("cr",)), "cr", None),
                "efs": _cell(_find(r, ("efs",)), "efs", 5),
                "os": _cell(_find(r, ("os",)), "os", 5),
                "notes": r.note or "",
            }
        )
    table = html_table(
        rows,
        ["group", "study", "years", "n", "cr", "efs", "os", "notes"],
        headers={
            "group": "Group",
            "study": "Study",
            "years": "Year",
            "n": "Number analyzed",
            "cr": "CR (%)",
            "efs": "5-year EFS (%)",
            "os": "5-year OS (%)",
            "notes": "Key conclusions and notes",
        },
        numeric=["n", "cr", "efs", "os"],
        row_titles=_tips(recs),
        nowrap=["years"],
    )
    return ReportSection(
        "seed004-table2",
        "Infant-specific collaborative group protocols (seed 004, Table 2)",
        table + '<p class="note">Footnote a of the printed table (6-year EFS and OS) is shown '
        "in the UK CLWP cells.</p>",
    )


def _seed004_table3(evidence: Evidence) -> ReportSection:
    recs = _table(evidence, SEED_004, "Table 3")
    rows = [
        {
            "group": r.group,
            "study": r.study,
            "years": _years(r),
            "n": r.hsct.n if r.hsct else None,
            "ccr": r.hsct.continued_cr1 if r.hsct else None,
            "dcr": r.hsct.death_in_cr if r.hsct else None,
            "rel": r.hsct.relapse if r.hsct else None,
        }
        for r in recs
    ]
    footer = []
    for total in evidence.totals:
        if total.table == "Table 3":
            footer.append(
                {
                    "study": "Total (printed)",
                    "years": f"{total.accrual_start}–{total.accrual_end}",
                    "n": total.values.get("hsct_n"),
                    "ccr": total.values.get("continued_cr1"),
                    "dcr": total.values.get("death_in_cr"),
                    "rel": total.values.get("relapse"),
                }
            )
    done = [r.hsct for r in recs if r.hsct is not None]
    footer.append(
        {
            "study": "Sum of the rows",
            "n": sum(h.n for h in done),
            "ccr": sum(h.continued_cr1 or 0 for h in done),
            "dcr": sum(h.death_in_cr or 0 for h in done),
            "rel": sum(h.relapse or 0 for h in done),
        }
    )
    table = html_table(
        rows,
        ["group", "study", "years", "n", "ccr", "dcr", "rel"],
        headers={
            "group": "Group",
            "study": "Study",
            "years": "Year",
            "n": "Number with HSCT in first CR",
            "ccr": "Continued first CR",
            "dcr": "Death in CR",
            "rel": "Relapse",
        },
        numeric=["n", "ccr", "dcr", "rel"],
        row_titles=_tips(recs),
        nowrap=["years"],
        footer=footer,
    )
    return ReportSection(
        "seed004-table3",
        "Allogeneic HSCT in first CR (seed 004, Table 3)",
        table,
    )


def _hct(rec: TrialRecord) -> str:
    if rec.hsct is None:
        return "NA"
    return f"{rec.hsct.n} ({rec.hsct.pct:g})" if rec.hsct.pct is not None else str(rec.hsct.n)


def _years_cell(res: Result | None) -> str:
    if res is None or res.estimate_pct is None:
        return "NA"
    star = "*" if res.endpoint == "dfs" else ""
    return f"{res.estimate_pct:g} ({res.horizon_years:g}){star}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _seed000_table1(evidence: Evidence) -> ReportSection:
    recs = _table(evidence, SEED_000, "Table 1")
    rows = [
        {
            "study": r.study,
            "years": _years(r),
            "n": r.n if r.n is not None else "NA",
            "hct": _hct(r),
            "efs": _years_cell(_find(r, ("efs", "dfs"))),
            "os": _years_cell(_find(r, ("os",))),
            "notes": _sentence((r.note or "").removeprefix("Main finding: ")),
        }
        for r in recs
    ]
    table = html_table(
        rows,
        ["study", "years", "n", "hct", "efs", "os", "notes"],
        headers={
            "study": "Study",
            "years": "Accrual",
            "n": "Patients, N",
            "hct": "HCT, N (%)",
            "efs": "EFS, % (years)",
            "os": "OS, % (years)",
            "notes": "Main findings / study questions and notes",
        },
        numeric=["n", "hct", "efs", "os"],
        row_titles=_tips(recs),
        nowrap=["years"],
    )
    return ReportSection(
        "seed000-table1",
        "Major trials for KMT2A-rearranged infant ALL (seed 000, Table 1)",
        table + '<p class="note">* disease-free survival. The printed row CCG1953/POG9407 is '
        "shown as two rows, one per study.</p>",
    )


_TEXT_HEADERS = {
    "seed": "Seed",
    "trial": "Trial",
    "population": "Population",
    "arm": "Arm",
    "endpoint": "Endpoint",
    "horizon": "Horizon",
    "estimate": "Estimate",
    "events": "Count",
    "n": "N",
}


def _text_outcomes(evidence: Evidence) -> ReportSection:
    recs = [r for r in evidence.records if r.source.location.startswith("Text")]
    rows = []
    tips: list[str | None] = []
    for r in recs:
        for res in r.results:
            rows.append(
                {
                    "trial": r.study,
                    "population": r.population_label or r.population,
                    "arm": r.arm or "",
                    "endpoint": res.endpoint,
                    "horizon": "" if res.horizon_years is None else f"{res.horizon_years:g} y",
                    "estimate": "" if res.estimate_pct is None else f"{res.estimate_pct:g}%",
                    "events": "" if res.events is None else res.events,
                    "n": res.n if res.n is not None else (r.n or ""),
                    "seed": (r.source.seed or "")[:3],
                }
            )
            tips.append(f"{r.record_id}: “{res.quote or r.source.quote}”")
    table = html_table(
        rows,
        ["seed", "trial", "population", "arm", "endpoint", "horizon", "estimate", "events", "n"],
        headers=_TEXT_HEADERS,
        numeric=["horizon", "estimate", "events", "n"],
        row_titles=tips,
    )
    return ReportSection(
        "text-outcomes",
        "Outcomes stated in the running text of both seeds",
        f"<p>{len(rows)} numbers from {len(recs)} statements; hover a row for the verbatim "
        "quote.</p>" + table,
    )


def _ambiguities(evidence: Evidence) -> ReportSection:
    items = []
    for r in evidence.records:
        notes = [r.ambiguity] + [x.ambiguity for x in r.results]
        for text in filter(None, notes):
            items.append(
                f"<li><strong>{html.escape(r.study)}</strong> "
                f"<code>{html.escape(r.record_id)}</code>: {html.escape(text)}</li>"
            )
    return ReportSection(
        "ambiguities",
        "Ambiguities and disagreements between the seeds",
        "<p>Cells that the PDF text leaves ambiguous, and values on which the two seeds "
        "disagree, are kept as printed with this note rather than guessed.</p>"
        f"<ul>{''.join(items)}</ul>",
    )


def _figure_section(evidence: Evidence) -> ReportSection:
    fig = evidence_figure(evidence)
    caption = (
        "Event-free (top) and overall (bottom) survival of every trial row in "
        "seed 004 Tables 1–2 and seed 000 Table 1, drawn over each trial's accrual period "
        "(segment) with a marker at its middle; marker area grows with the number of "
        "infants, colour is the study group, and the marker shape separates childhood "
        "protocols, infant-specific protocols and KMT2A-rearranged cohorts. The idea follows "
        "seed 004's Figure 1."
    )
    return ReportSection(
        "evidence-figure",
        "Forty years of infant ALL trials",
        figure_html(
            fig,
            alt="EFS and OS of each trial against its accrual years",
            name="trials-by-accrual-era",
            caption=caption,
        ),
    )


def evidence_sections(evidence: Evidence | None = None) -> list[ReportSection]:
    """The report sections of the evidence base, in reading order.

    The figure, the four seed tables rebuilt from data (seed 004 Tables 1–3 with Table 3's
    printed Total row next to the sum of its rows; seed 000 Table 1), the outcomes of the
    running text, and the recorded ambiguities.
    """
    ev = evidence if evidence is not None else load_evidence()
    return [
        _figure_section(ev),
        _seed000_table1(ev),
        _seed004_table1(ev),
        _seed004_table2(ev),
        _seed004_table3(ev),
        _text_outcomes(ev),
        _ambiguities(ev),
    ]


def evidence_report(evidence: Evidence | None = None) -> str:
    """The evidence report as one self-contained HTML page."""
    ev = evidence if evidence is not None else load_evidence()
    return render_report(
        "infantall — the evidence base of infant ALL trials",
        evidence_sections(ev),
        subtitle=(
            f"{len(ev.records)} records, {len(ev.frame)} reported numbers, "
            f"{len(ev.trial_ids)} trials, curated from two review articles with provenance "
            "on every number."
        ),
    )
