"""The README examples of ``infantall report`` and ``infantall demo``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from infantall import RESEARCH_DISCLAIMER
from infantall.cli import app
from infantall.commands.demo import run_demo

runner = CliRunner()


def test_report_writes_a_self_contained_page(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    result = runner.invoke(app, ["report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    assert RESEARCH_DISCLAIMER in page
    assert 'src="data:image/png;base64,' in page


def test_run_demo_returns_the_files_it_wrote(tmp_path: Path) -> None:
    written = run_demo(tmp_path / "demo-output")
    assert written == [tmp_path / "demo-output" / "report.html"]
    assert written[0].stat().st_size > 100_000  # the embedded figure alone is larger


def test_demo_command_prints_where_the_outputs_are(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert f"wrote {(tmp_path / 'd' / 'report.html').resolve()}" in result.output


def test_report_into_a_directory_fails_cleanly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "is a directory" in result.stderr
