"""The README section of the evidence base: its shell and Python examples run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infantall import RESEARCH_DISCLAIMER
from infantall.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Evidence base.*?(?=^## )", text, flags=re.S | re.M)
    assert match is not None, "README lost its evidence section"
    return match.group(0)


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section(), flags=re.S)


def test_every_shell_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # report.html lands in the temporary folder
    runner = CliRunner()
    commands = [
        shlex.split(line.split("#", 1)[0])
        for block in _blocks("bash")
        for line in block.splitlines()
        if line.strip()
    ]
    assert len(commands) == 6
    outputs = {}
    for argv in commands:
        assert argv[0] == "infantall"
        result = runner.invoke(app, argv[1:])
        assert result.exit_code == 0, (argv, result.output)
        outputs[argv[1]] = result.output
    # `report` prints the file it wrote (the demo has its own README example test).
    assert outputs["report"].strip() == "report.html"
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert RESEARCH_DISCLAIMER in html
    assert '<svg role="img"' in html  # figures inline as SVG (with their downloads)
    assert 'href="data:image/png;base64,' in html


def test_python_example_runs() -> None:
    (code,) = _blocks("python")
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert str(namespace["html"]).startswith("<!DOCTYPE html>")
    assert set(namespace["efs"]["endpoint"]) == {"efs"}  # type: ignore[index]
