"""Subgroups and meta-regression of an evidence selection (shared by the CLI and the report)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from infantall.errors import InvalidInputError
from infantall.synthesis import meta_regression, subgroup_analysis
from infantall.synthesis.evidence_inputs import Selection, select_estimates
from infantall.synthesis.hsct import pool_hsct_outcomes
from infantall.synthesis.questions import selection_regression, selection_subgroups


@pytest.fixture(scope="module")
def everyone() -> Selection:
    return select_estimates(endpoint="efs", horizon=5.0)


@pytest.mark.parametrize("by", ["era", "protocol_type", "group"])
def test_subgroups_equal_the_former_presenter_call(everyone: Selection, by: str) -> None:
    before = subgroup_analysis(
        everyone.inputs(), everyone.table[by].astype(str).tolist(), by=by, order=everyone.levels(by)
    )
    now = selection_subgroups(everyone, by)
    pd.testing.assert_frame_equal(now.table, before.table)
    assert (now.q_between, now.df_between, now.p_between) == (
        before.q_between,
        before.df_between,
        before.p_between,
    )
    overlap = everyone.overlap_note(by)
    assert now.notes == (*before.notes, *([overlap] if overlap else []))
    doc = json.loads(json.dumps(now.to_dict(), allow_nan=False))
    assert [row[by] for row in doc["subgroups"]] == now.table[by].tolist()


def test_overlapping_subgroups_are_named() -> None:
    sel = select_estimates(endpoint="efs", population="all,kmt2a-r", horizon=5.0)
    sub = selection_subgroups(sel, "population")
    assert sel.overlap_note("population") is not None
    assert sub.notes[-1].startswith("WARNING")


def test_regression_equals_the_former_presenter_call(everyone: Selection) -> None:
    before = meta_regression(everyone.inputs(), everyone.table[["accrual_mid_year"]])
    now = selection_regression(everyone, ["accrual_mid_year"])
    pd.testing.assert_frame_equal(now.summary, before.coefficients)
    pd.testing.assert_frame_equal(now.used, everyone.table)
    doc = json.loads(json.dumps(now.to_dict(), allow_nan=False))
    assert doc["studies"] == everyone.table["study"].tolist()


def test_regression_leaves_out_unknown_moderators_and_says_so() -> None:
    everyone = select_estimates(endpoint="efs", population="any")
    known = everyone.table["hsct_share"].notna()
    assert not known.all(), "the test needs a trial without an HSCT share"
    now = selection_regression(everyone, ["hsct_share"])
    assert len(now.used) == int(known.sum())
    assert any("left out" in n and "hsct_share" in n for n in now.notes)
    before = meta_regression(
        everyone.inputs().subset(known.to_numpy()),
        everyone.table.loc[known, ["hsct_share"]].reset_index(drop=True),
    )
    np.testing.assert_allclose(now.regression.fit.beta, before.fit.beta)


def test_unknown_columns_are_refused(everyone: Selection) -> None:
    with pytest.raises(InvalidInputError) as err:
        selection_subgroups(everyone, "weather")
    assert err.value.code == "unknown_subgroup"
    with pytest.raises(InvalidInputError) as err:
        selection_regression(everyone, ["weather"])
    assert err.value.code == "unknown_moderator"


def test_hsct_synthesis_to_dict_is_json() -> None:
    syn = pool_hsct_outcomes()
    doc = json.loads(json.dumps(syn.to_dict(), allow_nan=False))
    assert len(doc["pooled"]) == len(syn.pooled)
    assert doc["notes"] == list(syn.notes)
