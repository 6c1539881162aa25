"""Synthesis inputs drawn from the evidence base, and seed 004 Table 3 pooled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from infantall.errors import InvalidInputError
from infantall.synthesis import pool_proportions
from infantall.synthesis.evidence_inputs import era_label, evidence_frame, select_estimates
from infantall.synthesis.hsct import hsct_counts_from_evidence, pool_hsct_outcomes

REFERENCE = Path(__file__).parent / "reference"
RTOL = 1e-6
"""Same tolerance as the metafor comparison (tests/synthesis/test_meta_metafor.py)."""


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return evidence_frame()


def test_table2_efs_from_the_evidence_base_equals_the_hand_typed_reference(
    frame: pd.DataFrame,
) -> None:
    # The evidence rows of seed 004 Table 2 and the CSV typed for the metafor reference agree,
    # so the pooled 5-year EFS of infant-specific protocols there is metafor's value.
    sel = select_estimates(frame, endpoint="efs", protocol_type="infant-specific", horizon=5)
    table2 = sel.table[sel.table["source_location"] == "Table 2"]
    ref = pd.read_csv(REFERENCE / "seed004_table2_efs.csv")
    assert table2["n"].tolist() == ref["n"].astype(float).tolist()
    assert table2["percent"].tolist() == ref["percent"].tolist()
    assert table2["accrual_start"].tolist() == ref["accrual_start"].astype(float).tolist()


def test_selection_keeps_one_estimate_per_trial_and_says_what_it_dropped(
    frame: pd.DataFrame,
) -> None:
    sel = select_estimates(frame, endpoint="efs", protocol_type="infant-specific")
    assert not sel.table.duplicated(["trial_id", "population", "arm"]).any()
    assert sel.table["study"].is_unique
    assert any("Repeated reports" in n for n in sel.notes)
    assert set(sel.table["horizon_years"]) == {5.0}
    assert any("most frequent" in n for n in sel.notes)


def test_population_filter_accepts_the_cli_spelling(frame: pd.DataFrame) -> None:
    sel = select_estimates(frame, endpoint="efs", population="kmt2a-r")
    assert set(sel.table["population"]) == {"kmt2a_r"}
    assert sel.k >= 3


def test_mixed_horizons_from_the_evidence_need_consent(frame: pd.DataFrame) -> None:
    sel = select_estimates(frame, endpoint="efs", population="kmt2a-r", allow_mixed_horizons=True)
    assert sel.table["horizon_years"].nunique() > 1
    with pytest.raises(InvalidInputError) as exc:
        sel.inputs()
    assert exc.value.code == "mixed_horizons"
    res = pool_proportions(sel.inputs(allow_mixed_horizons=True))
    assert any("pooled together at the user's request" in n for n in res.notes)


def test_unknown_endpoint_and_empty_selection_are_errors(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError) as exc:
        select_estimates(frame, endpoint="pfs")
    assert exc.value.code == "no_estimates"
    with pytest.raises(InvalidInputError) as exc:
        select_estimates(frame, endpoint="efs", groups="no-such-group")
    assert exc.value.code == "no_estimates"


def test_era_labels() -> None:
    assert era_label(1986.0) == "before 1990"
    assert era_label(1990.0) == "1990-1999"
    assert era_label(2002.5) == "2000 and later"


def test_hsct_counts_match_the_printed_table_and_its_total_row(frame: pd.DataFrame) -> None:
    counts = hsct_counts_from_evidence(frame)
    ref = pd.read_csv(REFERENCE / "seed004_table3_hsct.csv")
    for col in ("n_hsct", "continued_cr1", "death_in_cr", "relapse"):
        assert counts[col].tolist() == ref[col].astype(float).tolist()
    # The printed Total row of seed 004 Table 3: 170 transplanted, 85 / 38 / 47.
    assert counts[["n_hsct", "continued_cr1", "death_in_cr", "relapse"]].sum().tolist() == [
        170.0,
        85.0,
        38.0,
        47.0,
    ]


def test_hsct_pooling_reproduces_metafor_and_states_its_limits() -> None:
    import json

    ref = json.loads((REFERENCE / "metafor_reference.json").read_text())["hsct"]
    syn = pool_hsct_outcomes()
    pooled = syn.pooled.set_index("outcome")
    for key, label in [
        ("continued_cr1", "Continued first CR"),
        ("death_in_cr", "Death in CR"),
        ("relapse", "Relapse"),
    ]:
        row = pooled.loc[label]
        np.testing.assert_allclose(row["estimate_pct"], 100 * ref[key]["pred_bt"], rtol=RTOL)
        np.testing.assert_allclose(row["ci_low_pct"], 100 * ref[key]["ci_lb_bt"], rtol=RTOL)
    assert pooled.loc["Continued first CR", "crude_pct"] == pytest.approx(50.0)
    assert any("no non-transplanted comparator" in n for n in syn.notes)
    assert any("AIEOP-ALL 91/95" in n and "Continuity" in n for n in syn.notes)
    assert len(syn.by_study) == 6


def test_hsct_counts_larger_than_n_are_refused() -> None:
    bad = pd.DataFrame(
        {
            "study": ["X", "Y"],
            "n_hsct": [5, 5],
            "continued_cr1": [4, 1],
            "death_in_cr": [2, 1],
            "relapse": [0, 1],
        }
    )
    with pytest.raises(InvalidInputError) as exc:
        pool_hsct_outcomes(bad)
    assert exc.value.code == "hsct_counts_exceed_n"
