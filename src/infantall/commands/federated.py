"""``infantall federated run|demo``: one analysis across registries without pooling patients.

``run`` sends an analysis to the nodes of a ``nodes.yaml`` file (see
:mod:`infantall.services.federation.transport`) and prints the federated result;
``demo`` starts three SYNTHETIC registries as nodes on loopback ports, runs every analysis,
and writes an HTML report comparing each federated result with the pooled one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from infantall.commands._output import Format, FormatOption, emit_json, emit_records, fail

__all__ = ["ORDER", "register"]

ORDER = 96
ANALYSES = ("check", "km", "cif", "logrank", "cox", "two-stage", "table")

app = typer.Typer(help="Federated analyses: aggregates leave the nodes, never patients.")


@contextmanager
def _serving(web_app: Any) -> Iterator[int]:
    """Serve ``web_app`` with uvicorn on a free loopback port (a daemon thread)."""
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@app.command("demo")
def demo_command(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Folder for registries and report.")
    ] = Path("federated-demo"),
    n: Annotated[int, typer.Option("--n", min=150, help="SYNTHETIC patients in all.")] = 1200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic cohort.")] = 21,
    fmt: Format = FormatOption,
) -> None:
    """Three SYNTHETIC registries as nodes; every analysis federated and pooled; a report."""
    from contextlib import ExitStack

    from rich.console import Console

    from infantall.errors import InfantallError
    from infantall.reports.federation_section import federation_report
    from infantall.services.federation.comparison import compare
    from infantall.services.federation.demo import COORDINATOR, audit_trails, build_demo_nodes
    from infantall.services.federation.node import NodePolicy
    from infantall.services.federation.transport import HttpNode
    from infantall.web.app import create_app

    console = Console(stderr=True)
    start = time.monotonic()
    nodes = []
    try:
        nodes = build_demo_nodes(
            out_dir, n=n, seed=seed, progress=lambda m: console.print(f"[dim]{m}[/]")
        )
        built = time.monotonic() - start
        with ExitStack() as stack:
            clients = []
            for node in nodes:
                web = create_app(node.settings, database=node.database)
                web.state.federation_settings = node.federation
                web.state.federation_policy = NodePolicy()
                web.state.federation_data = node.data
                port = stack.enter_context(_serving(web))
                key = node.federation.node_key.get_secret_value()
                clients.append(HttpNode(node.name, f"http://127.0.0.1:{port}", key, COORDINATOR))
            console.print("[dim]running the federated analyses over HTTP; pooled in-process[/]")
            analysed = time.monotonic()
            cmp = compare(clients, [node.data for node in nodes])
            analysed = time.monotonic() - analysed
        audit = audit_trails(nodes)
        seconds = time.monotonic() - start
        report = out_dir / "federated-report.html"
        report.write_text(federation_report(cmp, audit, seconds), encoding="utf-8")
    except OSError as exc:
        fail(f"{out_dir}: cannot write the demo outputs ({exc.strerror or exc})")
    except InfantallError as exc:
        fail(str(exc))
    finally:
        for node in nodes:
            node.database.dispose()
    if fmt is Format.json:
        timing = {"seconds": seconds, "building_nodes": built, "analyses": analysed}
        emit_json({**cmp.to_dict(), **timing, "report": str(report.resolve())})
    else:
        emit_records([dict(r) for r in cmp.rows], fmt)
        typer.echo(f"audit rows per node: {', '.join(f'{k} {len(v)}' for k, v in audit.items())}")
        typer.echo(
            f"all agree: {cmp.all_agree}; {seconds:.1f} s ({built:.1f} s building the three "
            f"registries, {analysed:.1f} s federated + pooled analyses); report: {report.resolve()}"
        )
    if not cmp.all_agree:
        raise typer.Exit(1)


@app.command("run")
def run_command(
    analysis: Annotated[str, typer.Argument(help=f"One of {', '.join(ANALYSES)}.")],
    nodes_file: Annotated[Path, typer.Option("--nodes", help="nodes.yaml")],
    endpoint: Annotated[str, typer.Option("--endpoint")] = "EFS",
    group: Annotated[str, typer.Option("--group", help="Grouping column.")] = "RISKGRP",
    levels: Annotated[str, typer.Option("--levels", help="Comma-separated levels.")] = "LR,MR,HR",
    covariates: Annotated[str, typer.Option("--covariates", help="Comma-separated.")] = "KMT2A_R",
    table_spec: Annotated[
        str,
        typer.Option(
            "--variables",
            help='table: JSON {"KMT2A": {"levels": [...]}, "WBC": {"bins": [0, 50, 300, 1e6]}}',
        ),
    ] = '{"KMT2A": {"levels": ["rearranged", "germline", "unknown"]}}',
    timeout: Annotated[float, typer.Option("--timeout", min=0.1)] = 10.0,
    retries: Annotated[int, typer.Option("--retries", min=0, max=10)] = 2,
    fmt: Format = FormatOption,
) -> None:
    """Run ANALYSIS over the nodes of --nodes and print the federated result."""
    from infantall.errors import InfantallError
    from infantall.services import federation as fed
    from infantall.services.federation.transport import load_nodes

    if analysis not in ANALYSES:
        fail(f"analysis: {analysis!r}; use one of {', '.join(ANALYSES)} [bad_option]")
    lv = [x for x in levels.split(",") if x]
    cov = [x for x in covariates.split(",") if x]
    try:
        nodes = load_nodes(nodes_file, timeout=timeout, retries=retries)
        result: Any
        if analysis == "check":
            emit_records(fed.check_nodes(nodes), fmt)
            return
        if analysis == "km":
            result = fed.federated_km(nodes, endpoint, group=group, levels=lv)
        elif analysis == "cif":
            result = fed.federated_cif(nodes, endpoint)
        elif analysis == "logrank":
            result = fed.federated_logrank(nodes, endpoint, group, lv)
        elif analysis == "cox":
            result = fed.federated_cox(nodes, endpoint, cov)
        elif analysis == "two-stage":
            result = fed.two_stage(nodes, endpoint, cov[0])
        else:
            result = fed.federated_table(
                nodes, endpoint, _variables(table_spec), group=group, levels=lv
            )
    except InfantallError as exc:
        fail(str(exc))
    if fmt is Format.json:
        emit_json(result.to_dict())
    else:
        emit_records(result.summary.to_dict("records"), fmt)


def _variables(text: str) -> dict[str, Any]:
    import json

    try:
        spec = json.loads(text)
    except ValueError as exc:
        fail(f"--variables: not JSON ({exc}) [bad_option]")
    if not isinstance(spec, dict) or not all(isinstance(v, dict) for v in spec.values()):
        fail("--variables: a JSON object of {name: {levels: [...]} or {bins: [...]}} [bad_option]")
    return spec


def register(root: typer.Typer) -> None:
    """Add ``federated`` to the root command line."""
    root.add_typer(app, name="federated")
