"""``infantall meta`` fixes named with issue 17: Egger's test never fails the command, and
error messages show plain numbers and name a missing cell as missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infantall.cli import app

runner = CliRunner()


def _csv(tmp_path: Path, rows: list[tuple[str, str, int]]) -> Path:
    path = tmp_path / "p.csv"
    path.write_text(
        "study,percent,n\n" + "".join(f"{s},{p},{n}\n" for s, p, n in rows), encoding="utf-8"
    )
    return path


@pytest.mark.parametrize("transform", ["arcsine", "freeman-tukey"])
def test_equal_n_on_variance_stabilising_scale_pools_without_egger(
    tmp_path: Path, transform: str
) -> None:
    path = _csv(tmp_path, [(f"S{i}", str(30 + 3 * i), 50) for i in range(5)])
    result = runner.invoke(
        app, ["meta", "--csv", str(path), "--transform", transform, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)["meta"]
    assert "same standard error" in meta["egger"]
    assert "egger_p" not in meta
    assert meta["k"] == 5


def test_egger_with_few_studies_says_low_power(tmp_path: Path) -> None:
    path = _csv(tmp_path, [(f"S{i}", str(30 + 3 * i), 40 + 9 * i) for i in range(4)])
    result = runner.invoke(app, ["meta", "--csv", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)["meta"]
    assert 0 <= meta["egger_p"] <= 1
    assert "low power" in meta["egger"]


@pytest.mark.parametrize(
    ("percent", "n", "expect", "code"),
    [
        ("", 40, "is missing", "missing_value"),
        ("130", 40, "got 130.0", "percent_out_of_range"),
        ("30", -4, "got -4.0", "n_not_positive"),
    ],
)
def test_error_messages_are_plain(
    tmp_path: Path, percent: str, n: int, expect: str, code: str
) -> None:
    path = _csv(tmp_path, [("A", "20", 50), ("B", percent, n), ("C", "12", 60)])
    result = runner.invoke(app, ["meta", "--csv", str(path)])
    assert result.exit_code != 0
    assert expect in result.output and f"[{code}]" in result.output
    assert "np.float64" not in result.output
