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


#: Above this many decisions, the table format prints the patients per group instead.
TABLE_LIMIT = 200


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
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="A documented convention NAME=VALUE (e.g. six_months_days=180, "
            "wbc_operator='>', cns_disease=CNS2,CNS3); repeatable; applied to every chosen "
            "protocol that has it. See `infantall protocols show ID`.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the decisions as CSV to this file."),
    ] = None,
    errors_path: Annotated[
        Path | None,
        typer.Option("--errors", help="Also write the row-level error report as CSV here."),
    ] = None,
    fmt: Format = FormatOption,
) -> None:
    """Stratify patients under one protocol or all of them (research use only).

    A JSON file holds one patient or history (or a list). A CSV file holds one patient per
    row (Patient fields, plus optional induction_response, mrd_<time point> and
    cr_to_hsct_days columns), read and written in chunks; invalid rows are listed on stderr
    with field, reason and code, valid rows are still stratified, and the exit code is 1
    when any row failed. Columns a protocol needs but the file lacks are named in a warning.
    Above 200 decisions the table format prints the patients per group (use -f csv/json
    or -o for every decision).
    """
    from infantall.errors import InvalidInputError
    from infantall.protocols import PROTOCOLS, get_protocol

    try:
        ids = list(PROTOCOLS) if protocol == "all" else [get_protocol(protocol).id]
        params = _params(param or [], ids)
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.reason} [{exc.code}]")
    if not path.is_file():
        fail(f"{path.name}: no such file")
    if path.suffix.lower() == ".csv":
        _stratify_csv(path, ids, params, explain, output, errors_path, fmt)
    else:
        _stratify_json(path, ids, params, explain, output, fmt)


def _params(given: list[str], ids: list[str]) -> dict[str, dict[str, Any]]:
    """``NAME=VALUE`` options -> overrides per protocol (checked by the engine)."""
    from infantall.errors import InvalidInputError
    from infantall.protocols import get_protocol
    from infantall.protocols.engine import resolve_params

    out: dict[str, dict[str, Any]] = {pid: {} for pid in ids}
    for item in given:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidInputError("--param", f"{item!r} is not NAME=VALUE", "invalid_parameter")
        users = [pid for pid in ids if name in get_protocol(pid).defaults]
        if not users:
            known = sorted({p for pid in ids for p in get_protocol(pid).defaults})
            raise InvalidInputError(
                f"params.{name}",
                f"no chosen protocol has the parameter {name!r} (parameters: {', '.join(known)})",
                "unknown_parameter",
            )
        for pid in users:
            default = get_protocol(pid).defaults[name]
            parsed: Any = value.strip()
            if isinstance(default, tuple):
                parsed = [v.strip() for v in parsed.split(",") if v.strip()]
            out[pid][name] = parsed
    for pid in ids:
        resolve_params(get_protocol(pid), out[pid])  # raises invalid_parameter early
    return {pid: v for pid, v in out.items() if v}


def _decision_record(patient_id: str, d: Any, explain: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "patient_id": patient_id,
        "protocol": d.protocol,
        "version": d.version,
        "group": d.group,
        "flags": ";".join(d.flags),
        "missing_fields": ";".join(d.missing_fields),
        "reachable_groups": ";".join(d.reachable_groups),
        "undetermined_flags": ";".join(d.undetermined_flags),
        "flag_missing_fields": ";".join(
            f"{k}:{','.join(v)}" for k, v in d.flag_missing_fields.items()
        ),
    }
    if explain:
        record["fired_rules"] = ";".join(d.fired_rules)
        record["explanation"] = d.explanation
        record["sources"] = " | ".join(s.text() for s in d.sources)
        record["conventions"] = json.dumps({k: _jsonable(v) for k, v in d.conventions.items()})
    return record


def _stratify_json(
    path: Path,
    ids: list[str],
    params: dict[str, dict[str, Any]],
    explain: bool,
    output: Path | None,
    fmt: Format,
) -> None:
    import warnings

    from infantall import RESEARCH_DISCLAIMER
    from infantall.domain import InvalidRecordError
    from infantall.errors import InvalidInputError
    from infantall.protocols import stratify_all
    from infantall.protocols.cohort_csv import DECISION_COLUMNS, EXPLAIN_COLUMNS
    from infantall.protocols.engine import as_subject

    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"{path.name}: not readable JSON ({exc})")
    items = payload if isinstance(payload, list) else [payload]
    records: list[dict[str, Any]] = []
    failed = 0
    for i, item in enumerate(items):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                subject = as_subject(_normalised(item))
        except InvalidRecordError as exc:
            failed += 1
            for e in exc.errors:
                typer.echo(f"error: record {i}: {e.field}: {e.reason} [{e.code}]", err=True)
            continue
        except InvalidInputError as exc:
            failed += 1
            typer.echo(f"error: record {i}: {exc.field}: {exc.reason} [{exc.code}]", err=True)
            continue
        for w in caught:
            typer.echo(f"warning: record {i}: {w.message}", err=True)
        pid = subject.patient.patient_id if hasattr(subject, "patient") else subject.patient_id
        for d in stratify_all(subject, ids, params).values():
            records.append(_decision_record(pid, d, explain))
    columns = list(DECISION_COLUMNS) + (list(EXPLAIN_COLUMNS) if explain else [])
    meta = {"disclaimer": RESEARCH_DISCLAIMER}
    if output is not None:
        _write_csv(output, records, columns)
        emit_records(_summary(records), fmt, title="Patients per group", meta=meta)
    else:
        _emit_decisions(records, columns, fmt, meta)
    if failed:
        raise typer.Exit(1)


def _normalised(item: Any) -> Any:
    """Choice values in canonical case ("Rearranged" -> "rearranged")."""
    from infantall.protocols.cohort_csv import normalise_choices

    if not isinstance(item, dict):
        return item
    if isinstance(item.get("patient"), dict):
        return {**item, "patient": normalise_choices(item["patient"])}
    return normalise_choices(item)


#: Columns of the table format; explanations and sources follow it as text.
_TABLE_COLUMNS = ["patient_id", "protocol", "group", "flags", "missing_fields", "reachable_groups"]


def _emit_decisions(
    records: list[dict[str, Any]], columns: list[str], fmt: Format, meta: dict[str, Any]
) -> None:
    if fmt is Format.table and len(records) > TABLE_LIMIT:
        note = f"{len(records)} decisions: patients per group shown (-f csv/json or -o for all)"
        emit_records(
            _summary(records), fmt, title="Patients per group", meta={**meta, "note": note}
        )
        return
    if fmt is not Format.table:
        emit_records(records, fmt, title="Risk groups", columns=columns, meta=meta)
        return
    emit_records(records, fmt, title="Risk groups", columns=_TABLE_COLUMNS, meta=meta)
    for r in records:
        if "explanation" in r:
            typer.echo(f"\n{r['patient_id']} / {r['protocol']}: {r['explanation']}")
            typer.echo(f"  sources: {r['sources']}")
            typer.echo(f"  conventions: {r['conventions']}")


def _stratify_csv(
    path: Path,
    ids: list[str],
    params: dict[str, dict[str, Any]],
    explain: bool,
    output: Path | None,
    errors_path: Path | None,
    fmt: Format,
) -> None:
    from infantall import RESEARCH_DISCLAIMER
    from infantall.protocols.cohort_csv import (
        DECISION_COLUMNS,
        EXPLAIN_COLUMNS,
        absent_column_warnings,
        cohort_header,
        decision_frames,
        iter_cohort_csv,
    )

    try:
        header = cohort_header(path)
    except ValueError as exc:
        fail(str(exc))
    for column, pids in absent_column_warnings(header, ids):
        typer.echo(
            f"warning: no column {column}: unknown for every patient, which can leave "
            f"{', '.join(pids)} indeterminate",
            err=True,
        )
    columns = list(DECISION_COLUMNS) + (list(EXPLAIN_COLUMNS) if explain else [])
    sink = _Sink(columns, fmt, output, {"disclaimer": RESEARCH_DISCLAIMER})
    invalid_rows: set[int] = set()
    error_file = _open_errors(errors_path)
    try:
        for cohort in iter_cohort_csv(path):
            _report_rows(cohort, invalid_rows, error_file)
            for frame in decision_frames(cohort, ids, params, explain):
                sink.add(frame)
    except ValueError as exc:
        sink.abort()
        fail(str(exc))
    finally:
        if error_file is not None:
            error_file.close()
    sink.close(len(invalid_rows))
    if invalid_rows:
        typer.echo(f"error: {len(invalid_rows)} invalid row(s) not stratified", err=True)
        raise typer.Exit(1)


def _open_errors(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        fh = path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        fail(f"{path.name}: cannot write ({exc.strerror})")
    writer = csv.DictWriter(fh, fieldnames=["row", "patient_id", "field", "reason", "code"])
    writer.writeheader()
    return _ErrorFile(fh, writer)


class _ErrorFile:
    def __init__(self, fh: Any, writer: Any) -> None:
        self.fh, self.writer = fh, writer

    def close(self) -> None:
        self.fh.close()


def _report_rows(cohort: Any, invalid_rows: set[int], error_file: Any) -> None:
    for w in cohort.warnings:
        message = " ".join(str(w["warning"]).split())
        typer.echo(f"warning: row {w['row']} (patient_id {w['patient_id']}): {message}", err=True)
    for e in cohort.errors:
        invalid_rows.add(e["row"])
        typer.echo(
            f"error: row {e['row']} (patient_id {e['patient_id'] or '?'}): {e['field']}: "
            f"{e['reason']} [{e['code']}]",
            err=True,
        )
    if error_file is not None:
        error_file.writer.writerows(cohort.errors)


class _Sink:
    """Where decisions go, chunk by chunk: a CSV file, or stdout as csv/json (streamed) or
    a table (the decisions up to TABLE_LIMIT, else the patients per group)."""

    def __init__(
        self, columns: list[str], fmt: Format, output: Path | None, meta: dict[str, Any]
    ) -> None:
        self.columns, self.fmt, self.output, self.meta = columns, fmt, output, meta
        self.counts: dict[tuple[str, str], int] = {}
        self.kept: list[dict[str, Any]] = []
        self.n = 0
        self.fh: Any = None
        if output is not None:
            try:
                self.fh = output.open("w", newline="", encoding="utf-8")
            except OSError as exc:
                fail(f"{output.name}: cannot write ({exc.strerror})")
            self.fh.write(",".join(columns) + "\n")
        elif fmt is Format.csv:
            typer.echo(",".join(columns))
        elif fmt is Format.json:
            typer.echo('{"meta": ' + json.dumps(meta, ensure_ascii=False) + ', "records": [')

    def add(self, frame: Any) -> None:
        from infantall.protocols.cohort_csv import decisions_csv

        if frame.empty:
            return
        counts = frame.groupby(["protocol", "group"], observed=True, sort=False).size()
        for key, n in counts.items():
            self.counts[key] = self.counts.get(key, 0) + int(n)
        if self.fh is not None:
            self.fh.write(decisions_csv(frame))
        elif self.fmt is Format.csv:
            typer.echo(decisions_csv(frame), nl=False)
        elif self.fmt is Format.json:
            text = frame.astype(str).to_json(orient="records", force_ascii=False)[1:-1]
            typer.echo(("," if self.n else "") + text)
        elif len(self.kept) <= TABLE_LIMIT:
            self.kept.extend(frame.head(TABLE_LIMIT + 1).astype(str).to_dict("records"))
        self.n += len(frame)

    def abort(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def close(self, invalid: int) -> None:
        if self.fh is not None:
            self.fh.close()
            meta = {
                "written": f"{self.n} decisions to {self.output.name if self.output else ''}",
                "invalid_rows": invalid,
                **self.meta,
            }
            emit_records(self._summary(), self.fmt, title="Patients per group", meta=meta)
        elif self.fmt is Format.json:
            typer.echo("]}")
        elif self.fmt is Format.table:
            if self.n > TABLE_LIMIT:
                note = f"{self.n} decisions: patients per group shown (-f csv/json or -o for all)"
                emit_records(
                    self._summary(),
                    self.fmt,
                    title="Patients per group",
                    meta={**self.meta, "note": note},
                )
            else:
                _emit_decisions(self.kept, self.columns, self.fmt, self.meta)

    def _summary(self) -> list[dict[str, Any]]:
        return [{"protocol": p, "group": g, "patients": n} for (p, g), n in self.counts.items()]


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
        fail(f"{path.name}: cannot write ({exc.strerror})")


def register(app: typer.Typer) -> None:
    """Add ``protocols`` (list, show) and ``stratify`` to the root command line."""
    app.add_typer(protocols_app, name="protocols")
    app.command("stratify")(stratify_command)
