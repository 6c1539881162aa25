"""Schema validation at load: a malformed file names the file, the record and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infantall.errors import DataFileError, InvalidInputError
from infantall.evidence import SEED_FILES, data_dir, load_evidence, read_data_file

GOOD = {
    "record_id": "x-1",
    "trial_id": "x",
    "study": "X",
    "group": "G",
    "population": "all",
    "protocol_type": "childhood",
    "accrual_start": 1990,
    "accrual_end": 1995,
    "n": 10,
    "results": [{"endpoint": "efs", "horizon_years": 5, "estimate_pct": 40.0}],
    "source": {"kind": "seed", "seed": "s.txt", "location": "Table 1", "quote": "X 1990"},
}


def _write(tmp_path: Path, records: list[dict[str, object]], name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"title": "t", "records": records}), encoding="utf-8")
    return path


def _with(**changes: object) -> dict[str, object]:
    rec = dict(GOOD)
    rec.update(changes)
    return rec


def test_a_good_record_loads(tmp_path: Path) -> None:
    title, records, totals = read_data_file(_write(tmp_path, [GOOD]))
    assert title == "t"
    assert records[0].results[0].estimate_pct == 40.0
    assert totals == []


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (_with(results=[{"endpoint": "efs", "estimate_pct": 140.0}]), "results[0].estimate_pct"),
        (_with(accrual_start=1995, accrual_end=1990), "<record>"),
        (_with(n=0), "n"),
        (_with(population="adults"), "population"),
        (_with(results=[{"endpoint": "survival", "estimate_pct": 40}]), "results[0].endpoint"),
        (_with(protocol_type="adult"), "protocol_type"),
        (_with(colour="red"), "colour"),
        (_with(source={"kind": "seed", "location": "T", "quote": "abc"}), "source"),
        (_with(results=[{"endpoint": "efs", "horizon_years": 5}]), "results[0]"),
    ],
)
def test_malformed_record_names_file_record_and_field(
    tmp_path: Path, record: dict[str, object], field: str
) -> None:
    path = _write(tmp_path, [GOOD | {"record_id": "ok-1"}, record])
    with pytest.raises(DataFileError) as info:
        read_data_file(path)
    err = info.value
    assert (err.file, err.record, err.field) == ("bad.yaml", "x-1", field)
    assert "bad.yaml" in str(err) and "x-1" in str(err)


def test_record_without_id_is_named_by_position(tmp_path: Path) -> None:
    rec = dict(GOOD)
    del rec["record_id"]
    with pytest.raises(DataFileError) as info:
        read_data_file(_write(tmp_path, [rec]))
    assert (info.value.record, info.value.field) == ("#1", "record_id")


def test_not_yaml_and_wrong_shape(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"broken\.yaml"):
        read_data_file(bad)
    bad.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="top level"):
        read_data_file(bad)
    bad.write_text("title: t\nrecords: []\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="records"):
        read_data_file(bad)


def test_a_broken_shipped_file_fails_the_loader(tmp_path: Path) -> None:
    for name in SEED_FILES:
        shutil.copy(data_dir() / name, tmp_path / name)
    target = tmp_path / SEED_FILES[0]
    doc = yaml.safe_load(target.read_text(encoding="utf-8"))
    doc["records"][2]["results"] = [{"endpoint": "efs", "estimate_pct": -3}]
    target.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_evidence(directory=tmp_path)
    assert info.value.file == SEED_FILES[0]
    assert info.value.record == doc["records"][2]["record_id"]
    assert info.value.field == "results[0].estimate_pct"


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    for name in SEED_FILES:
        shutil.copy(data_dir() / name, tmp_path / name)
    first = yaml.safe_load((tmp_path / SEED_FILES[0]).read_text(encoding="utf-8"))
    second_path = tmp_path / SEED_FILES[1]
    second = yaml.safe_load(second_path.read_text(encoding="utf-8"))
    second["records"][0]["record_id"] = first["records"][0]["record_id"]
    second_path.write_text(yaml.safe_dump(second, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataFileError, match="duplicate"):
        load_evidence(directory=tmp_path)


def test_unknown_query_values_are_rejected() -> None:
    ev = load_evidence()
    with pytest.raises(InvalidInputError) as info:
        ev.query(endpoint="survival")
    assert info.value.code == "bad_endpoint"
    with pytest.raises(InvalidInputError):
        ev.get("no-such-record")
