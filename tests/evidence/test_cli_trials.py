"""The README examples of ``infantall trials`` (each documented command is a test)."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from infantall.cli import app

runner = CliRunner()


def test_trials_list_cog_efs_table() -> None:
    result = runner.invoke(app, ["trials", "list", "--group", "COG", "--endpoint", "efs"])
    assert result.exit_code == 0, result.output
    assert "s000-t1-cog-aall0631" in result.output
    assert "34.7" in result.output  # AALL15P1 3-year EFS


def test_trials_list_kmt2a_efs_csv() -> None:
    result = runner.invoke(
        app, ["trials", "list", "--endpoint", "efs", "--population", "kmt2a_r", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert rows
    assert {r["endpoint"] for r in rows} == {"efs"}
    assert {r["population"] for r in rows} == {"kmt2a_r"}
    mll10 = [r for r in rows if r["record_id"] == "s000-t1-jplsg-mll-10"]
    assert [(r["estimate_pct"], r["horizon_years"]) for r in mll10] == [("66.2", "5")]


def test_trials_list_era_json() -> None:
    result = runner.invoke(app, ["trials", "list", "--era", "2006-", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    numbered = [r for r in payload["records"] if r["result_index"] is not None]
    assert payload["meta"]["numbers"] == len(numbered) > 0
    # rows without a number: the ongoing trials (MLL-17, Interfant-21, AALL2321)
    assert len(payload["records"]) > len(numbered)
    for r in payload["records"]:
        assert r["accrual_start"] is not None
        assert r["accrual_end"] is None or r["accrual_end"] >= 2006
    assert "s000-t1-interfant-06" in {r["record_id"] for r in payload["records"]}


def test_trials_show_trial_table() -> None:
    result = runner.invoke(app, ["trials", "show", "interfant-99"])
    assert result.exit_code == 0, result.output
    for rid in ("s000-t1-interfant-99", "s004-t2-interfant-99", "s004-t3-interfant-99"):
        assert rid in result.output
    assert "quote:" in result.output
    assert "004_1b9a3d5192e595c7.txt" in result.output


def test_trials_show_record_json() -> None:
    result = runner.invoke(app, ["trials", "show", "s004-t3-jilsg-mll96-98", "--format", "json"])
    assert result.exit_code == 0, result.output
    (rec,) = json.loads(result.output)
    assert rec["hsct"] == {"n": 47, "continued_cr1": 27, "death_in_cr": 8, "relapse": 12}
    assert rec["source"]["quote"] == "JILSG MLL96/98 1995–2001 47 27 8 12 37"


def test_trials_show_csv_has_one_header() -> None:
    result = runner.invoke(app, ["trials", "show", "jplsg-mll03", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.count("record_id,") == 1
    assert len(result.output.strip().splitlines()) == 1 + 2 + 4


def test_trials_enrichment_flag() -> None:
    result = runner.invoke(
        app, ["trials", "list", "--enrichment", "--group", "JPLSG", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    sources = {r["source"] for r in json.loads(result.output)["records"]}
    assert "UMIN000004801 (enrichment)" in sources


def test_errors_go_to_stderr_without_traceback() -> None:
    for args in (
        ["trials", "show", "no-such-trial"],
        ["trials", "list", "--endpoint", "survival"],
        ["trials", "list", "--era", "19x0"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        assert "error:" in result.stderr
        assert "Traceback" not in result.output + result.stderr
