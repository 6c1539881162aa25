"""The README section of the synthesis: its shell and Python examples run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infantall.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Meta-analysis .*?(?=^## )", text, flags=re.S | re.M)
    assert match is not None, "README lost its synthesis section"
    return match.group(0)


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section(), flags=re.S)


def test_every_shell_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the figures land in the temporary folder
    runner = CliRunner()
    commands = [shlex.split(line) for block in _blocks("bash") for line in block.splitlines()]
    assert len(commands) == 6
    for argv in commands:
        assert argv[0] == "infantall"
        result = runner.invoke(app, argv[1:])
        assert result.exit_code == 0, (argv, result.output)
    for name in ("forest.png", "funnel.png", "bubble.png", "efs_time.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC


def test_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = _blocks("python")
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert "Variance from effective counts" in capsys.readouterr().out
    claims = namespace["claims"]
    assert isinstance(claims, list) and len(claims) == 3
