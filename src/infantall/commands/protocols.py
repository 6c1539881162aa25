"""``infantall protocols list|show`` and ``infantall stratify`` (risk stratification).

Only Typer and the standard library are imported here; infantall's protocol engine,
pydantic and pandas are imported inside the commands so that ``infantall --help`` stays fast.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from infantall.commands._output import Format, FormatOption, emit_records, fail

__all__ = ["ORDER", "register"]

ORDER = 20

protocols_app = typer.Typer(
    help="Protocol risk-stratification rules with their sources (research use only).",
    no_args_is_help=True,
)


@protocols_app.command("list")
def list_protocols(fmt: Format = FormatOption) -> None:
    """List the protocols with their version, groups and number of rules."""
    from infantall.protocols import PROTOCOLS

    records = [
        {
            "id": p.id,
            "name": p.name,
            "version": p.version,
            "groups": ", ".join(p.groups) or "(flags only)",
            "rules": len(p.rules),
            "partial": p.partial,
            "description": p.description,
        }
        for p in PROTOCOLS.values()
    ]
    emit_records(records, fmt, title="Protocols")


@protocols_app.command("show")
def show_protocol(
    protocol_id: Annotated[
        str, typer.Argument(metavar="ID", help="Protocol id, e.g. interfant-06.")
    ],
    fmt: Format = FormatOption,
) -> None:
    """Print the rule table of one protocol: conditions, results and sources."""
    from infantall.errors import InvalidInputError
    from infantall.protocols import get_protocol
    from infantall.protocols.conditions import describe

    try:
        proto = get_protocol(protocol_id)
    except InvalidInputError as exc:
        fail(exc.reason)
    params = proto.defaults
    records = [
        {
            "rule": r.id,
            "result": f"group {r.group}" if r.group else f"flag {r.flag}",
            "label": r.label,
            "condition": describe(r.condition, params),
            "sources": " | ".join(s.text() for s in r.sources),
        }
        for r in proto.rules
    ]
    meta = {
        "protocol": proto.id,
        "name": proto.name,
        "version": proto.version,
        "partial": proto.partial,
        "parameters": {p.name: _jsonable(p.default) for p in proto.parameters},
        "notes": list(proto.notes),
    }
    emit_records(records, fmt, title=f"{proto.name} (version {proto.version})", meta=meta)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def stratify_command(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="A patient or history as JSON (object or list), or a cohort CSV (one row each).",
        ),
    ],
    protocol: Annotated[
        str, typer.Option("--protocol", "-p", help="Protocol id, or 'all' for every protocol.")
    ] = "all",
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Add the explanation and the sources of each decision."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the groups as CSV to this file (cohort CSV)."),
    ] = None,
    errors_path: Annotated[
        Path | None,
        typer.Option("--errors", help="Also write the row-level error report as CSV here."),
    ] = None,
    fmt: Format = FormatOption,
) -> None:
    """Stratify patients under one protocol or all of them (research use only).

    A JSON file holds one patient or history (or a list). A CSV file holds one patient per
    row (Patient fields, plus optional induction_response and mrd_<time point> columns);
    invalid rows are listed on stderr with field, reason and code, valid rows are still
    stratified, and the exit code is 1 when any row failed.
    """
    from infantall.errors import InvalidInputError
    from infantall.protocols import PROTOCOLS, get_protocol

    try:
        ids = list(PROTOCOLS) if protocol == "all" else [get_protocol(protocol).id]
    except InvalidInputError as exc:
        fail(exc.reason)
    if not path.is_file():
        fail(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        _stratify_csv(path, ids, explain, output, errors_path, fmt)
    else:
        if output is not None:
            fail("--output writes a cohort CSV; give a .csv input file")
        _stratify_json(path, ids, explain, fmt)


def _decision_record(patient_id: str, d: Any, explain: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "patient_id": patient_id,
        "protocol": d.protocol,
        "version": d.version,
        "group": d.group,
        "flags": ";".join(d.flags),
        "missing_fields": ";".join(d.missing_fields),
    }
    if explain:
        record["fired_rules"] = ";".join(d.fired_rules)
        record["undetermined_flags"] = ";".join(d.undetermined_flags)
        record["explanation"] = d.explanation
        record["sources"] = " | ".join(s.text() for s in d.sources)
        record["conventions"] = json.dumps({k: _jsonable(v) for k, v in d.conventions.items()})
    return record


def _stratify_json(path: Path, ids: list[str], explain: bool, fmt: Format) -> None:
    from infantall import RESEARCH_DISCLAIMER
    from infantall.domain import InvalidRecordError
    from infantall.errors import InvalidInputError
    from infantall.protocols import stratify_all
    from infantall.protocols.engine import as_subject

    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"{path}: not readable JSON ({exc})")
    items = payload if isinstance(payload, list) else [payload]
    records: list[dict[str, Any]] = []
    failed = 0
    for i, item in enumerate(items):
        try:
            subject = as_subject(item)
        except InvalidRecordError as exc:
            failed += 1
            for e in exc.errors:
                typer.echo(f"error: record {i}: {e.field}: {e.reason} [{e.code}]", err=True)
            continue
        except InvalidInputError as exc:
            failed += 1
            typer.echo(f"error: record {i}: {exc.field}: {exc.reason} [{exc.code}]", err=True)
            continue
        pid = subject.patient.patient_id if hasattr(subject, "patient") else subject.patient_id
        for d in stratify_all(subject, ids).values():
            records.append(_decision_record(pid, d, explain))
    if records:
        emit_records(records, fmt, title="Risk groups", meta={"disclaimer": RESEARCH_DISCLAIMER})
    if failed:
        raise typer.Exit(1)


def _stratify_csv(
    path: Path,
    ids: list[str],
    explain: bool,
    output: Path | None,
    errors_path: Path | None,
    fmt: Format,
) -> None:
    from infantall import RESEARCH_DISCLAIMER
    from infantall.protocols.cohort_csv import read_cohort_csv, stratify_cohort

    try:
        cohort = read_cohort_csv(path)
    except ValueError as exc:
        fail(str(exc))
    for w in cohort.warnings:
        typer.echo(
            f"warning: row {w['row']} (patient_id {w['patient_id']}): {w['warning']}", err=True
        )
    for e in cohort.errors:
        typer.echo(
            f"error: row {e['row']} (patient_id {e['patient_id'] or '?'}): {e['field']}: "
            f"{e['reason']} [{e['code']}]",
            err=True,
        )
    if errors_path is not None:
        _write_csv(errors_path, cohort.errors, ["row", "patient_id", "field", "reason", "code"])
    records = stratify_cohort(cohort, ids, explain=explain)
    if output is not None:
        columns = list(records[0]) if records else ["patient_id", "protocol", "group"]
        _write_csv(output, records, columns)
        summary = _summary(records)
        meta = {
            "written": f"{len(records)} decisions for {len(cohort.frame)} valid rows to {output}",
            "invalid_rows": len({e["row"] for e in cohort.errors}),
            "disclaimer": RESEARCH_DISCLAIMER,
        }
        emit_records(summary, fmt, title="Patients per group", meta=meta)
    elif records:
        emit_records(records, fmt, title="Risk groups", meta={"disclaimer": RESEARCH_DISCLAIMER})
    if cohort.errors:
        typer.echo(
            f"error: {len({e['row'] for e in cohort.errors})} invalid row(s) not stratified",
            err=True,
        )
        raise typer.Exit(1)


def _summary(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        key = (r["protocol"], r["group"])
        counts[key] = counts.get(key, 0) + 1
    return [{"protocol": p, "group": g, "patients": n} for (p, g), n in counts.items()]


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        fail(f"{path}: cannot write ({exc})")


def register(app: typer.Typer) -> None:
    """Add ``protocols`` (list, show) and ``stratify`` to the root command line."""
    app.add_typer(protocols_app, name="protocols")
    app.command("stratify")(stratify_command)
