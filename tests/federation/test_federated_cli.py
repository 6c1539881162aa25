"""``infantall federated run``: errors name the node, exit non-zero, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from infantall.cli import app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_names_the_node_that_is_down(tmp_path: Path) -> None:
    f = tmp_path / "nodes.yaml"
    f.write_text(
        "coordinator: stats\nnodes:\n"
        f"  - {{name: SYN-COG, url: 'http://127.0.0.1:{_closed_port()}', key: k}}\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(app, ["federated", "run", "cox", "--nodes", str(f), "--retries", "0"])
    assert res.exit_code != 0
    assert "node SYN-COG: unreachable" in res.output
    assert "Traceback" not in res.output


def test_run_refuses_an_unknown_analysis_and_a_bad_nodes_file(tmp_path: Path) -> None:
    f = tmp_path / "nodes.yaml"
    f.write_text("nodes: []\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["federated", "run", "sql", "--nodes", str(f)])
    assert res.exit_code != 0 and "bad_option" in res.output
    res = CliRunner().invoke(app, ["federated", "run", "cox", "--nodes", str(f)])
    assert res.exit_code != 0 and "bad_nodes_file" in res.output
