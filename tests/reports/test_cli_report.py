"""``infantall report`` and ``infantall demo`` beyond the README examples.

The README examples (``report --out report.html`` and ``demo``) run in
``test_readme_examples.py``, which also checks what they write.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from infantall.cli import app

runner = CliRunner()


def test_report_into_a_directory_fails_cleanly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "is a directory" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_demo_into_an_unwritable_place_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = runner.invoke(app, ["demo", "--out-dir", str(blocker / "sub")])
    assert result.exit_code != 0
    assert "cannot write the demo outputs" in result.stderr
