"""The README's overview: its command-line examples run, and every Python entry point it
names exists (a newcomer copying a name must not meet an ImportError)."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infantall.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert match is not None, f"README lost its section {title!r}"
    return match.group(1)


def test_overview_names_the_two_commands_and_the_disclaimer() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
    assert "never recommends a treatment for a child" in text


def test_every_entry_point_in_the_parts_table_exists() -> None:
    table = _section("The parts, and where to start")
    names = re.findall(r"`(infantall(?:\.[a-z_]+)+)(?:\(|`)", table)
    assert len(names) >= 8
    for dotted in names:
        module, _, attr = dotted.rpartition(".")
        try:
            importlib.import_module(dotted)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), attr), dotted
    # the function names in parentheses after a module
    for row in table.splitlines():
        mod = re.search(r"`(infantall\.[a-z_.]+)` \(", row)
        if mod is None:
            continue
        funcs = re.findall(r"`([a-z_]+)`", row[mod.end() : row.index(")", mod.end())])
        module = importlib.import_module(mod.group(1))
        for name in funcs:
            assert hasattr(module, name), f"{mod.group(1)}.{name}"


def test_command_line_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    block = re.search(r"```bash\n(.*?)```", _section("Command line"), flags=re.S)
    assert block is not None
    runner = CliRunner()
    lines = [ln.split("#", 1)[0].strip() for ln in block.group(1).splitlines()]
    commands = [shlex.split(ln) for ln in lines if ln]
    assert len(commands) == 4
    for argv in commands:
        assert argv[0] == "infantall"
        args = argv[1:]
        if args[:1] == ["demo"]:
            args += ["--n", "40", "--sites", "2"]  # the README's demo, on a smaller cohort
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (argv, result.output)
    assert (tmp_path / "demo-output" / "report.html").is_file()
    assert (tmp_path / "report.html").is_file()
