"""``infantall trials``: list and show the curated trial results of the evidence base."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail

__all__ = ["ORDER", "register"]

ORDER = 10

trials_app = typer.Typer(
    help="Published infant ALL trial results from the seed reviews, with provenance.",
    no_args_is_help=True,
)

LIST_COLUMNS = [
    "record_id",
    "study",
    "group",
    "accrual",
    "accrual_start",
    "accrual_end",
    "population",
    "arm",
    "n",
    "endpoint",
    "horizon_years",
    "estimate_pct",
    "events",
    "protocol_type",
    "source",
]

TABLE_COLUMNS = ["record_id", "population", "n", "endpoint", "years", "%", "count"]
"""The narrower columns of ``--format table`` (``trials show`` prints the rest)."""

SHOW_COLUMNS = ["endpoint", "horizon_years", "estimate_pct", "events", "n", "quote"]
SHOW_CSV_COLUMNS = ["record_id", *SHOW_COLUMNS, "ambiguity"]


def _parse_era(text: str) -> tuple[int | None, int | None]:
    first, sep, last = text.partition("-")
    try:
        lo = int(first) if first.strip() else None
        hi = int(last) if last.strip() else None
    except ValueError:
        fail(f"--era {text!r}: expected YEAR-YEAR, YEAR- or -YEAR (e.g. 1990-2005)")
    if not sep:
        hi = lo
    return lo, hi


def _accrual(start: Any, end: Any) -> str:
    import pandas as pd

    if pd.isna(start):
        return ""
    return f"{int(start)}–" + ("" if pd.isna(end) else f"{int(end)}")


@trials_app.command("list")
def list_command(
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="Study group, e.g. COG, Interfant (repeatable)."),
    ] = None,
    endpoint: Annotated[
        list[str] | None,
        typer.Option("--endpoint", "-e", help="cr, efs, os, dfs, relapse, ... (repeatable)."),
    ] = None,
    population: Annotated[
        list[str] | None,
        typer.Option("--population", "-p", help="all, kmt2a_r, kmt2a_g, ... (repeatable)."),
    ] = None,
    protocol_type: Annotated[
        str | None, typer.Option("--protocol-type", help="infant-specific, childhood or mixed.")
    ] = None,
    era: Annotated[
        str | None,
        typer.Option("--era", help="Accrual overlapping these years: 1990-2005, 2006- or -1989."),
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option("--seed", help="Only records of this seed file (prefix, e.g. 000 or 004)."),
    ] = None,
    enrichment: Annotated[
        bool, typer.Option("--enrichment", help="Include later publications (DOI / registry id).")
    ] = False,
    fmt: Format = FormatOption,
) -> None:
    """List reported numbers (one row each), filtered by group, endpoint, population, era."""
    from infantall.errors import InfantallError
    from infantall.evidence import load_evidence

    try:
        ev = load_evidence(enrichment=enrichment).query(
            group=group or None,
            endpoint=endpoint or None,
            population=population or None,
            protocol_type=protocol_type,
            era=_parse_era(era) if era else None,
            source_seed=seed,
        )
    except InfantallError as exc:
        fail(str(exc))
    if fmt is not Format.table:
        from infantall.evidence.export import EXPORT_COLUMNS

        # Every field of every record (HSCT, components, provenance; records without numbers).
        full = ev.export_rows()
        for row in full:
            row["source"] = _source_label(row)
            if fmt is Format.csv:  # lists as JSON text, so that a cell reads back exactly
                for key in ("countries", "components", "disagreements"):
                    row[key] = json.dumps(row[key], ensure_ascii=False)
        emit_records(
            full,
            fmt,
            columns=[*EXPORT_COLUMNS, "source"],
            meta={
                "numbers": sum(1 for r in full if r["result_index"] is not None),
                "records": len(ev.records),
                "disagreements": [d.model_dump(mode="json") for d in ev.disagreements],
            },
        )
        return
    rows: list[dict[str, Any]] = []
    for raw in ev.frame.to_dict(orient="records"):
        rec = {str(k): v for k, v in raw.items()}
        rec["accrual"] = _accrual(rec["accrual_start"], rec["accrual_end"])
        row = {k: (None if _is_missing(v) else v) for k, v in rec.items()}
        row.update(years=row["horizon_years"], count=row["events"])
        row["%"] = row["estimate_pct"]
        rows.append(row)
    emit_records(
        rows,
        fmt,
        title="Infant ALL trial results",
        columns=TABLE_COLUMNS,
        meta={"numbers": len(rows), "records": len(ev.records)},
    )


def _source_label(row: dict[str, Any]) -> str:
    if row["source_kind"] == "seed":
        return f"{row['source_seed']} {row['source_location']}"
    return f"{_first_id(row)} (enrichment)"


def _first_id(rec: dict[str, Any]) -> str:
    """The first persistent identifier of an enrichment source."""
    ids = [rec[k] for k in ("source_doi", "source_registry_id", "source_pmcid") if rec.get(k)]
    return str(ids[0]) if ids else ""


def _is_missing(value: Any) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, (str, list, tuple)) and bool(pd.isna(value)))


@trials_app.command("show")
def show_command(
    ident: Annotated[str, typer.Argument(metavar="ID", help="A trial id or a record id.")],
    enrichment: Annotated[
        bool, typer.Option("--enrichment", help="Include later publications (DOI / registry id).")
    ] = False,
    fmt: Format = FormatOption,
) -> None:
    """Show every record of a trial (or one record) with its numbers and provenance."""
    from infantall.errors import InfantallError
    from infantall.evidence import load_evidence

    ev = load_evidence(enrichment=enrichment)
    try:
        records = ev.trial(ident).records
    except InfantallError:
        try:
            records = (ev.get(ident),)
        except InfantallError:
            fail(f"no trial or record {ident!r}; `infantall trials list` shows the ids")
    if fmt is Format.json:
        typer.echo(
            json.dumps(
                [r.model_dump(mode="json", exclude_none=True) for r in records],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    csv_rows: list[dict[str, Any]] = []
    for rec in records:
        results = [
            {
                "record_id": rec.record_id,
                "endpoint": r.endpoint,
                "horizon_years": r.horizon_years,
                "estimate_pct": r.estimate_pct,
                "events": r.events,
                "n": r.n if r.n is not None else rec.n,
                "quote": r.quote or rec.source.quote,
                "ambiguity": r.ambiguity,
            }
            for r in rec.results
        ]
        meta = {
            "study": f"{rec.study} ({rec.group}; {', '.join(rec.countries) or 'n/a'})",
            "accrual": _accrual(rec.accrual_start, rec.accrual_end) or "not given",
            "population": rec.population_label or rec.population,
            "N": rec.n,
            "HSCT": rec.hsct.model_dump(exclude_none=True) if rec.hsct else None,
            "protocol": rec.protocol_type,
            "source": _source_text(rec.source.model_dump(exclude_none=True)),
            "quote": rec.source.quote,
            "note": rec.note,
            "ambiguity": rec.ambiguity,
        }
        meta = {k: v for k, v in meta.items() if v is not None}
        if fmt is Format.csv:
            csv_rows.extend(results)
        else:
            # The record's quote is printed once below the table; list only other quotes.
            for row in results:
                row["quote"] = None if row["quote"] == rec.source.quote else row["quote"]
            emit_records(results, fmt, title=f"{rec.record_id}", columns=SHOW_COLUMNS, meta=meta)
    if fmt is Format.csv:
        emit_records(csv_rows, fmt, columns=SHOW_CSV_COLUMNS)


def _source_text(src: dict[str, Any]) -> str:
    if src.get("kind") == "seed":
        return f"seed {src['seed']}, {src['location']}"
    ids = [str(src[k]) for k in ("doi", "registry_id", "pmcid") if src.get(k)]
    return f"{src.get('citation', '')} [{', '.join(ids)}]"


STATEMENT_TABLE_COLUMNS = ["statement_id", "quantity", "value", "range", "unit", "population"]


@trials_app.command("statements")
def statements_command(
    quantity: Annotated[
        list[str] | None,
        typer.Option("--quantity", "-q", help="enrolled, time_to_hsct, p_value, ... (repeatable)."),
    ] = None,
    trial: Annotated[str | None, typer.Option("--trial", help="Only this trial id.")] = None,
    seed: Annotated[
        str | None, typer.Option("--seed", help="Only this seed file (prefix, e.g. 000 or 004).")
    ] = None,
    fmt: Format = FormatOption,
) -> None:
    """List the numeric statements of the seeds' running text, one structured row each."""
    from infantall.evidence import load_evidence
    from infantall.evidence.schema import QUANTITIES, Statement

    bad = sorted(set(quantity or ()) - set(QUANTITIES))
    if bad:
        fail(f"--quantity {bad[0]!r}: choose from {', '.join(QUANTITIES)}")
    kept = [
        st
        for st in load_evidence().statements
        if (not quantity or st.quantity in quantity)
        and (trial is None or st.trial_id == trial)
        and (seed is None or st.seed.startswith(seed))
    ]
    columns = list(Statement.model_fields)
    rows = []
    for st in kept:
        row = st.model_dump(mode="json")
        if fmt is Format.csv:
            row["printed"] = json.dumps(row["printed"], ensure_ascii=False)
        if fmt is Format.table:
            row["range"] = _range_text(st.value_low, st.value_high)
        rows.append(row)
    emit_records(
        rows,
        fmt,
        title="Numeric statements of the seeds' running text",
        columns=STATEMENT_TABLE_COLUMNS if fmt is Format.table else columns,
        meta={"statements": len(rows)},
    )


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g}–{high:g}"
    return "" if low is None and high is None else f"{low if low is not None else high:g}"


class ExportFormat(StrEnum):
    """File formats of ``trials export``."""

    json = "json"
    csv = "csv"
    parquet = "parquet"


@trials_app.command("export")
def export_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="json (nested), csv or parquet (flat).")
    ] = ExportFormat.json,
    enrichment: Annotated[
        bool, typer.Option("--enrichment", help="Include later publications (DOI / registry id).")
    ] = False,
) -> None:
    """Write the whole evidence base with provenance (every field of every record).

    JSON: provenance (package version, seeds, SHA-256 of each data file), records, printed
    totals, flagged disagreements and the numeric statements of the running text.
    CSV / Parquet: one row per reported number plus one per record without numbers, every
    field (``infantall.evidence.export.EXPORT_COLUMNS``); provenance, disagreements and
    statements go to a ``<file>.provenance.json`` next to it. Stdout: what was written.
    """
    import json as _json

    import pandas as pd

    from infantall.commands._output import strict_json, write_text
    from infantall.evidence import load_evidence
    from infantall.evidence.export import EXPORT_COLUMNS

    ev = load_evidence(enrichment=enrichment)
    payload = ev.to_dict()
    if fmt is ExportFormat.json:
        write_text(strict_json(payload), output)
    else:
        rows = ev.export_rows()
        for row in rows:  # lists as JSON text, so that a CSV cell reads back exactly
            for key in ("countries", "components", "disagreements"):
                row[key] = _json.dumps(row[key], ensure_ascii=False)
        frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
        try:
            if fmt is ExportFormat.csv:
                frame.to_csv(output, index=False)
            else:
                frame.to_parquet(output, index=False)
        except OSError as exc:
            fail(f"--output {output}: cannot write ({exc.strerror or exc})")
        side = output.with_name(output.name + ".provenance.json")
        write_text(
            strict_json({k: payload[k] for k in ("provenance", "disagreements", "statements")}),
            side,
        )
    counts = payload["provenance"]["counts"]
    typer.echo(
        f"wrote {counts['records']} records ({counts['results']} numbers, "
        f"{counts['disagreements']} flagged disagreements) to {output}",
        err=True,
    )
    # stdout: what was written, as strict JSON (for scripts; the data are in the file)
    typer.echo(strict_json({"output": str(output), "format": fmt.value, **payload["provenance"]}))


def register(app: typer.Typer) -> None:
    """Add ``trials`` (list, show, statements, export) to the root command line."""
    app.add_typer(trials_app, name="trials")
