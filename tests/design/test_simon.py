"""Simon two-stage designs against Simon (1989, Table 1) and an independent R enumeration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infantall.design.simon import simon_two_stage
from infantall.errors import InvalidInputError

R_REF = json.loads(
    (Path(__file__).parent / "reference" / "simon_reference.json").read_text(encoding="utf-8")
)["designs"]
#: Both sides sum the same binomial terms in a different order: rounding only.
ATOL = 1e-12

#: Simon R. Controlled Clinical Trials 1989;10:1-10, Table 1 (alpha 0.05, beta 0.20):
#: (p0, p1, kind) -> (r1, n1, r, n, EN(p0) to 1 decimal, PET(p0) to 2 decimals).
SIMON_1989 = {
    (0.05, 0.25, "optimal"): (0, 9, 2, 17, 12.0, 0.63),
    (0.05, 0.25, "minimax"): (0, 12, 2, 16, 13.8, 0.54),
    (0.10, 0.30, "optimal"): (1, 10, 5, 29, 15.0, 0.74),
    (0.10, 0.30, "minimax"): (1, 15, 5, 25, 19.5, 0.55),
    (0.20, 0.40, "optimal"): (3, 13, 12, 43, 20.6, 0.75),
    (0.20, 0.40, "minimax"): (4, 18, 10, 33, 22.3, 0.72),
}


@pytest.mark.parametrize("key", list(SIMON_1989), ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}")
def test_matches_simon_1989_table(key: tuple[float, float, str]) -> None:
    p0, p1, kind = key
    d = simon_two_stage(p0, p1, alpha=0.05, beta=0.2, kind=kind)  # type: ignore[arg-type]
    r1, n1, r, n, en0, pet0 = SIMON_1989[key]
    assert (d.r1, d.n1, d.r, d.n) == (r1, n1, r, n)
    assert round(d.expected_n0, 1) == en0
    assert round(d.pet0, 2) == pet0
    assert d.actual_alpha <= 0.05
    assert d.actual_power >= 0.8


@pytest.mark.parametrize("ref", R_REF, ids=lambda r: f"{r['p0']}-{r['p1']}-{r['kind']}")
def test_matches_r_enumeration(ref: dict[str, Any]) -> None:
    d = simon_two_stage(
        ref["p0"], ref["p1"], alpha=ref["alpha"], beta=ref["beta"], kind=ref["kind"],
        n_max=ref["n_max"],
    )  # fmt: skip
    assert (d.r1, d.n1, d.r, d.n) == (ref["r1"], ref["n1"], ref["r"], ref["n"])
    assert d.expected_n0 == pytest.approx(ref["en0"], abs=ATOL)
    assert d.pet0 == pytest.approx(ref["pet0"], abs=ATOL)
    assert d.actual_alpha == pytest.approx(ref["alpha.1"], abs=ATOL)
    assert d.actual_power == pytest.approx(ref["power"], abs=ATOL)
    assert json.dumps(d.to_dict(), allow_nan=False)


def test_minimax_is_never_larger_and_optimal_never_slower() -> None:
    opt = simon_two_stage(0.3, 0.5, kind="optimal")
    mm = simon_two_stage(0.3, 0.5, kind="minimax")
    assert mm.n <= opt.n
    assert opt.expected_n0 <= mm.expected_n0


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"p0": 0.0, "p1": 0.3}, "p0", "out_of_range"),
        ({"p0": 0.3, "p1": 0.2}, "p1", "out_of_range"),
        ({"p0": 0.1, "p1": 0.3, "alpha": 0.6}, "alpha", "out_of_range"),
        ({"p0": 0.1, "p1": 0.3, "kind": "best"}, "kind", "invalid_kind"),
        ({"p0": 0.1, "p1": 0.15, "n_max": 20}, "n_max", "no_design"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        simon_two_stage(**kwargs)
    assert (err.value.field, err.value.code) == (field, code)


def test_cli_simon_prints_the_table_design() -> None:
    from typer.testing import CliRunner

    from infantall.cli import app

    out = CliRunner().invoke(
        app,
        ["design", "simon", "--p0", "0.1", "--p1", "0.3", "--kind", "minimax", "--format", "json"],
    )
    assert out.exit_code == 0, out.output
    rec = json.loads(out.output)["records"][0]
    assert (rec["r1"], rec["n1"], rec["r"], rec["n"]) == SIMON_1989[(0.10, 0.30, "minimax")][:4]
    bad = CliRunner().invoke(app, ["design", "simon", "--p0", "0.5", "--p1", "0.3"])
    assert bad.exit_code != 0
    assert "p1" in bad.output
