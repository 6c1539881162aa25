"""The documented ``infantall cohort`` examples (README), run under Typer's CliRunner."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infantall.cli import app

runner = CliRunner()


def test_generate_json_file(tmp_path: Path) -> None:
    out = tmp_path / "cohort.json"
    result = runner.invoke(
        app, ["cohort", "generate", "--n", "600", "--sites", "18", "--seed", "1", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["metadata"]["synthetic"] is True
    assert len(doc["patients"]) == 600


def test_generate_csv_with_json_summary(tmp_path: Path) -> None:
    out = tmp_path / "cohort.csv"
    result = runner.invoke(
        app,
        ["cohort", "generate", "--n", "600", "--sites", "18", "--seed", "1", "-o", str(out),
         "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["meta"]["synthetic"] is True
    assert sum(r["patients"] for r in payload["records"]) == 600
    assert {r["risk_group"] for r in payload["records"]} == {"LR", "MR", "HR"}
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("record_id,redcap_repeat_instrument,redcap_repeat_instance")


def test_generate_mll10_csv_summary_to_stdout() -> None:
    result = runner.invoke(
        app, ["cohort", "generate", "--n", "300", "--calibration", "mll-10", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0]
    assert header.startswith("risk_group,patients")
    assert "IR" in result.output


def test_check_passes_and_targets_list_sources() -> None:
    result = runner.invoke(app, ["cohort", "check", "--n", "5000", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["records"]
    assert all(r["within"] for r in rows)
    args = ["cohort", "targets", "--calibration", "mll-10", "--format", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output, parse_constant=_no_nan)
    assert all("Blood 2020" in r["source"] for r in rows)


def _no_nan(token: str) -> None:
    raise AssertionError(f"invalid JSON constant {token}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cohort", "generate", "--n", "10", "-o", "cohort.txt"], "expected a .json or .csv"),
        (["cohort", "generate", "--n", "5", "--sites", "9"], "sites"),
        (["cohort", "generate", "--calibration", "cog"], "interfant-06"),
        (["cohort", "targets", "--calibration", "cog"], "interfant-06"),
    ],
)
def test_errors_are_reported_without_traceback(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def _readme_examples() -> list[str]:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    return [
        line.strip()
        for line in readme.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("infantall cohort ")
    ]


def test_every_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = _readme_examples()
    assert len(examples) >= 5
    monkeypatch.chdir(tmp_path)
    for line in examples:
        result = runner.invoke(app, shlex.split(line)[1:])
        assert result.exit_code == 0, (line, result.output)
    assert (tmp_path / "cohort.json").exists()
    assert (tmp_path / "cohort.csv").exists()
