"""Self-contained HTML reports: sections, embedded figures and tables.

Every part of infantall builds :class:`ReportSection` objects in its own module; the report
is one HTML file with inline CSS and figures embedded as ``data:`` URIs, so it opens in any
browser without network access or companion files.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from infantall import RESEARCH_DISCLAIMER, __version__
from infantall.reports.figures.style import DPI_PRINT

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ReportSection",
    "figure_html",
    "figure_to_data_uri",
    "html_table",
    "not_estimable",
    "render_report",
]

_MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
#: What a table prints for a value that cannot be estimated (JSON has ``null``).
NOT_ESTIMABLE = "n/e"


@dataclass(frozen=True, slots=True)
class ReportSection:
    """One section of a report.

    Parameters
    ----------
    id
        The HTML anchor (letters, digits, ``-`` and ``_``); unique within a report.
    title
        The heading, as plain text (escaped when rendered).
    html
        The body as trusted HTML (build it with :func:`html_table`, :func:`figure_to_data_uri`
        and :func:`html.escape` for any text that comes from data).
    """

    id: str
    title: str
    html: str

    def __post_init__(self) -> None:
        if not self.id or not all(c.isalnum() or c in "-_" for c in self.id):
            raise ValueError(f"section id {self.id!r} must be letters, digits, '-' or '_'")


def _figure_bytes(fig: Figure, fmt: str, dpi: int) -> bytes:
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fmt not in _MIME:
        raise ValueError(f"fmt must be one of {sorted(_MIME)}, not {fmt!r}")
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    # A fixed salt makes SVG element ids, hence the bytes, the same on every run; text stays
    # text in SVG (selectable) and TrueType in PDF.
    rc = {"svg.hashsalt": "infantall", "svg.fonttype": "none", "pdf.fonttype": 42}
    with rc_context(rc):  # type: ignore[arg-type]
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=_metadata(fmt))
    return buf.getvalue()


def figure_to_data_uri(
    fig: Figure, *, fmt: Literal["png", "svg", "pdf"] = "png", dpi: int = 150
) -> str:
    """Render a matplotlib figure to a ``data:`` URI (base64) for an ``<img src=...>``.

    The figure is drawn with the Agg canvas (no display needed) and is not closed: the caller
    owns it.
    """
    data = _figure_bytes(fig, fmt, dpi)
    return f"data:{_MIME[fmt]};base64,{base64.b64encode(data).decode('ascii')}"


_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')


def _inline_svg(svg: bytes, prefix: str, alt: str) -> str:
    """The ``<svg>`` element of a matplotlib SVG file, ready to sit inside HTML: no XML
    prolog, ids made unique with ``prefix`` (several figures share one page), scaled to the
    column's width and labelled for screen readers."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    width = re.search(r'<svg[^>]*\bwidth="([0-9.]+)pt"', text)
    cap = f"max-width:{width.group(1)}pt;" if width else ""
    label = html.escape(alt, quote=True)
    return text.replace(
        "<svg", f'<svg role="img" aria-label="{label}" style="{cap}" class="figure-svg"', 1
    )


def figure_html(fig: Figure, *, alt: str, name: str, caption: str | None = None) -> str:
    """A figure for a report: inline SVG (vector, selectable text) with download links as SVG,
    PDF and 300-dpi PNG (``data:`` URIs, so the report stays one self-contained file).

    ``name`` is the file name of the downloads (without suffix); ``caption`` (trusted HTML)
    goes before the links.
    """
    svg = _figure_bytes(fig, "svg", DPI_PRINT)
    # ids unique per figure and the same on every run (reproducible reports)
    prefix = "f" + hashlib.sha256(svg + name.encode()).hexdigest()[:10]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "figure"
    links = " · ".join(
        f'<a download="{stem}.{ext}" href="data:{_MIME[ext]};base64,'
        f'{base64.b64encode(data).decode("ascii")}">{label}</a>'
        for ext, label, data in (
            ("svg", "SVG", svg),
            ("pdf", "PDF", _figure_bytes(fig, "pdf", DPI_PRINT)),
            ("png", f"PNG ({DPI_PRINT} dpi)", _figure_bytes(fig, "png", DPI_PRINT)),
        )
    )
    cap = f"{caption} " if caption else ""
    return (
        f'<figure class="report-figure">{_inline_svg(svg, prefix, alt)}'
        f'<figcaption>{cap}<span class="downloads">Download: {links}</span></figcaption>'
        "</figure>"
    )


def not_estimable(value: object, fmt: str = "{:.1f}") -> str:
    """``value`` formatted, or :data:`NOT_ESTIMABLE` (``n/e``) when it is ``None`` or NaN."""
    if value is None:
        return NOT_ESTIMABLE
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    return NOT_ESTIMABLE if math.isnan(v) else fmt.format(v)


def _metadata(fmt: str) -> dict[str, str | None]:
    # Drop the creation date so the same figure gives the same bytes (reproducible reports).
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"Creator": f"infantall {__version__}", "CreationDate": None}
    return {"Software": f"infantall {__version__}"}


def html_table(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    *,
    headers: Mapping[str, str] | None = None,
    caption: str | None = None,
    row_titles: Sequence[str | None] | None = None,
    footer: Sequence[Mapping[str, object]] = (),
    numeric: Sequence[str] = (),
    nowrap: Sequence[str] = (),
) -> str:
    """An escaped HTML ``<table>``; ``row_titles`` become hover text (e.g. the source quote).

    ``numeric`` columns are right-aligned with tabular figures; ``nowrap`` columns never wrap
    (year spans such as 1995–2001).
    """
    heads = headers or {}
    parts = ['<table class="data">']
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append(
        "<thead><tr>"
        + "".join(f"<th>{html.escape(heads.get(c, c))}</th>" for c in columns)
        + "</tr></thead><tbody>"
    )

    def cells(row: Mapping[str, object]) -> str:
        out = []
        for c in columns:
            value = row.get(c)
            text = "" if value is None else str(value)
            cls = ' class="num"' if c in numeric else (' class="nowrap"' if c in nowrap else "")
            out.append(f"<td{cls}>{html.escape(text)}</td>")
        return "".join(out)

    for i, row in enumerate(rows):
        tip = row_titles[i] if row_titles is not None else None
        attr = f' title="{html.escape(tip, quote=True)}"' if tip else ""
        parts.append(f"<tr{attr}>{cells(row)}</tr>")
    parts.append("</tbody>")
    if footer:
        parts.append("<tfoot>" + "".join(f"<tr>{cells(r)}</tr>" for r in footer) + "</tfoot>")
    parts.append("</table>")
    return "".join(parts)


_CSS = """
:root { --ink: #1d2733; --muted: #5b6875; --line: #d5dbe1; --accent: #1f5f8b; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: var(--ink); margin: 0; line-height: 1.45; background: #fff; }
header { background: #f3f6f9; border-bottom: 1px solid var(--line); padding: 1.2rem 2rem; }
header h1 { margin: 0 0 .3rem; font-size: 1.6rem; }
header p { margin: .2rem 0; color: var(--muted); }
.disclaimer { background: #fff4e5; border: 1px solid #f0b45b; border-radius: 4px;
  padding: .6rem .9rem; margin: .8rem 0 0; color: #6b4100; font-weight: 600; }
.warning { background: #fdecea; border-left: 4px solid #c0392b; padding: .4rem .9rem;
  margin: .8rem 0; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 2rem 3rem; }
nav ol { columns: 2; color: var(--accent); }
nav a, a { color: var(--accent); }
section { margin-top: 2.2rem; }
h2 { border-bottom: 2px solid var(--accent); padding-bottom: .2rem; font-size: 1.3rem; }
figure { margin: 1rem 0; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
img { max-width: 100%; height: auto; }
svg.figure-svg { display: block; width: 100%; height: auto; border: 1px solid var(--line); }
.downloads { white-space: nowrap; }
main > section, table.data { max-width: 100%; }
table.data { table-layout: auto; overflow-wrap: anywhere; }
figcaption { color: var(--muted); font-size: .92rem; margin-top: .4rem; }
table.data { border-collapse: collapse; width: 100%; font-size: .86rem; margin: .8rem 0 1.4rem; }
table.data caption { text-align: left; font-weight: 600; padding: .3rem 0; }
table.data th { background: #eef2f6; text-align: left; position: sticky; top: 0; }
table.data th, table.data td { border: 1px solid var(--line); padding: .25rem .45rem;
  vertical-align: top; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data td.nowrap { white-space: nowrap; }
table.data tbody tr:nth-child(even) { background: #fafbfc; }
table.data tfoot td { font-weight: 600; background: #eef2f6; }
.note { color: var(--muted); font-size: .9rem; }
footer { color: var(--muted); font-size: .85rem; border-top: 1px solid var(--line);
  padding: 1rem 2rem; }
"""


def render_report(
    title: str,
    sections: Sequence[ReportSection],
    *,
    subtitle: str | None = None,
    generated: datetime | None = None,
) -> str:
    """Assemble a self-contained HTML page: inline CSS, a research-only disclaimer banner,
    a table of contents and the sections in order.

    Raises
    ------
    ValueError
        Two sections share an id.
    """
    ids = [s.id for s in sections]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate section ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{s.html}</section>' for s in sections
    )
    sub = f"<p>{html.escape(subtitle)}</p>" if subtitle else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>{sub}"
        f'<p class="disclaimer" role="note">{html.escape(RESEARCH_DISCLAIMER)}</p></header>'
        f'<main><nav aria-label="Contents"><ol>{toc}</ol></nav>{body}</main>'
        f"<footer>Generated by infantall {html.escape(__version__)} on {when}. "
        "Every number carries its source; see each table's notes.</footer></body></html>"
    )
