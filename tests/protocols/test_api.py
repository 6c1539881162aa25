"""The Python API: inputs accepted, parameters, conventions, JSON form of a decision."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from infantall.domain import Patient, PatientHistory
from infantall.errors import InvalidInputError
from infantall.protocols import (
    FRAME_COLUMNS,
    INDETERMINATE,
    PROTOCOLS,
    stratify,
    stratify_all,
    stratify_frame,
)

P = {"patient_id": "A", "age_days": 120, "wbc": 350, "kmt2a": "rearranged"}


def test_accepts_patient_history_and_mappings() -> None:
    p = Patient.from_dict(P)
    h = PatientHistory(patient=p)
    assert stratify(p).group == stratify(h).group == stratify(P).group == "HR"
    assert stratify({"patient": P, "events": []}).group == "HR"


def test_invalid_subject() -> None:
    with pytest.raises(InvalidInputError) as info:
        stratify({"patient_id": "A", "age_days": 999})
    assert info.value.code == "not_an_infant"
    with pytest.raises(InvalidInputError) as info:
        stratify(42)  # type: ignore[arg-type]
    assert info.value.code == "invalid_type"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"six_months": 180}, "unknown_parameter"),
        ({"wbc_operator": "=="}, "invalid_parameter"),
        ({"six_months_days": "six"}, "invalid_parameter"),
        ({"mrd_threshold": "x"}, "invalid_parameter"),
    ],
)
def test_bad_parameters(params: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        stratify(P, "interfant-06", params)
    assert info.value.code == code
    assert info.value.field.startswith("params.")


def test_cns_disease_parameter_rejects_other_sets() -> None:
    with pytest.raises(InvalidInputError) as info:
        stratify(P, "jplsg-mll-10", {"cns_disease": ["CNS1"]})
    assert info.value.code == "invalid_parameter"


def test_conventions_are_reported() -> None:
    d = stratify(P, "interfant-06", {"six_months_days": "180"})
    assert d.conventions == {"six_months_days": 180.0, "wbc_operator": ">=", "mrd_threshold": 1e-4}
    assert "180" in d.explanation
    assert stratify(P, "cog-aall0631").conventions == {}


def test_decision_json() -> None:
    d = stratify(P, "interfant-21")
    payload = json.loads(json.dumps(d.to_dict()))
    assert payload["partial"] is True
    assert payload["version"] == PROTOCOLS["interfant-21"].version
    assert payload["group"] == "HR"
    assert all("citation" in s or "quote" in s for s in payload["sources"])


def test_stratify_all_keys_and_subset() -> None:
    assert list(stratify_all(P)) == list(PROTOCOLS)
    assert list(stratify_all(P, ["cog-aall0631"])) == ["cog-aall0631"]
    d = stratify_all(P, params={"interfant-06": {"wbc_operator": ">"}})["interfant-06"]
    assert d.conventions["wbc_operator"] == ">"


def test_frame_columns_and_index() -> None:
    df = pd.DataFrame([P, {"patient_id": "B", "age_days": 100}], index=["x", "y"])
    out = stratify_frame(df, "interfant-06")
    assert tuple(out.columns) == FRAME_COLUMNS
    assert list(out.index) == ["x", "y"]
    assert list(out["group"]) == ["HR", INDETERMINATE]
    assert out.loc["y", "missing_fields"] == "kmt2a;wbc;prednisone_response"


def test_frame_without_columns_is_all_unknown() -> None:
    out = stratify_frame(pd.DataFrame({"patient_id": ["a", "b"]}), "cog-aall0631")
    assert list(out["group"]) == [INDETERMINATE, INDETERMINATE]
    assert list(out["missing_fields"]) == ["kmt2a;age_days"] * 2


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [("kmt2a", "maybe", "invalid_choice"), ("wbc", "lots", "invalid_type")],
)
def test_frame_rejects_bad_values(column: str, value: str, code: str) -> None:
    df = pd.DataFrame([{**P, column: value}])
    with pytest.raises(InvalidInputError) as info:
        stratify_frame(df)
    assert info.value.code == code
    assert info.value.field == f"{column}[0]"


def test_frame_accepts_categorical_and_enum_values() -> None:
    from infantall.domain import KMT2AStatus

    df = pd.DataFrame(
        {
            "age_days": [10, 200],
            "kmt2a": pd.Categorical(["rearranged", "germline"]),
            "cns": [None, "CNS1"],
        }
    )
    assert list(stratify_frame(df, "jplsg-mll-10")["group"]) == ["HR", "LR"]
    df["kmt2a"] = [KMT2AStatus.rearranged, KMT2AStatus.rearranged]
    assert list(stratify_frame(df, "jplsg-mll-10")["group"]) == ["HR", "IR"]


def test_readme_python_example_runs() -> None:
    """The Python block of the README section, executed."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("## Domain model (`infantall.domain`)")[1].split("\n## ")[0]
    code = section.split("```python\n")[1].split("```")[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # documented example, trusted text
    d = namespace["d"]
    assert d.group == "HR"
