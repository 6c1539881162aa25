"""The curated records: provenance, value ranges and counts pinned against the seeds."""

from __future__ import annotations

import re

import pytest

from infantall.evidence import FRAME_COLUMNS, SEED_FILES, Evidence, TrialRecord

SEED_000 = "000_2f48a84a65020b3f.txt"
SEED_004 = "004_1b9a3d5192e595c7.txt"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _quotes(rec: TrialRecord) -> list[str]:
    return [rec.source.quote] + [r.quote for r in rec.results if r.quote]


def test_every_seed_record_names_a_seed_file(
    evidence: Evidence, seed_texts: dict[str, str]
) -> None:
    for rec in evidence.records:
        assert rec.source.kind == "seed"
        assert rec.source.seed in seed_texts, rec.record_id


def test_every_quote_appears_verbatim_in_its_seed(
    evidence: Evidence, seed_texts: dict[str, str]
) -> None:
    missing = []
    for rec in evidence.records:
        assert rec.source.seed is not None
        text = seed_texts[rec.source.seed]
        missing += [(rec.record_id, q) for q in _quotes(rec) if _norm(q) not in text]
    assert missing == []


def test_record_ids_are_unique(evidence: Evidence) -> None:
    ids = [r.record_id for r in evidence.records]
    assert len(ids) == len(set(ids))


def test_value_ranges(evidence: Evidence) -> None:
    df = evidence.frame
    for col in ("estimate_pct", "se_pct", "ci_low_pct", "ci_high_pct"):
        values = df[col].dropna()
        assert ((values >= 0) & (values <= 100)).all(), col
    assert (df["n"].dropna() > 0).all()
    spans = evidence.studies.dropna(subset=["accrual_start", "accrual_end"])
    assert (spans["accrual_end"] >= spans["accrual_start"]).all()
    for rec in evidence.records:
        for comp in rec.components:
            if comp.accrual_start is not None and comp.accrual_end is not None:
                assert comp.accrual_end >= comp.accrual_start


def test_frame_has_the_documented_columns(evidence: Evidence) -> None:
    assert tuple(evidence.frame.columns) == FRAME_COLUMNS
    assert len(evidence.frame) == sum(len(r.results) for r in evidence.records)


def test_shipped_files(evidence: Evidence) -> None:
    assert SEED_FILES[0] == "seed000_table1.yaml"
    assert len(evidence.records) > 0


# --- seed 000 Table 1 (13 printed rows; the CCG1953/POG9407 row holds two studies) -------


def _table(evidence: Evidence, seed: str, location: str) -> list[TrialRecord]:
    return [r for r in evidence.records if r.source.seed == seed and r.source.location == location]


def test_seed000_table1_counts(evidence: Evidence) -> None:
    rows = _table(evidence, SEED_000, "Table 1")
    assert len(rows) == 14  # 13 printed rows, one of them split into CCG1953 and POG9407
    assert len({r.source.quote for r in rows}) == 13
    assert all(r.population == "kmt2a_r" for r in rows)
    assert sum(r.n or 0 for r in rows) == 80 + 79 + 53 + 308 + 100 + 62 + 476 + 146 + 75 + 53 + 30


@pytest.mark.parametrize(
    ("record_id", "endpoint", "horizon", "estimate"),
    [
        ("s000-t1-jilsg-mll96-98", "efs", 5, 38.6),
        ("s000-t1-interfant-99", "efs", 4, 36.9),
        ("s000-t1-interfant-06", "os", 6, 48.0),
        ("s000-t1-jplsg-mll-10", "efs", 5, 66.2),
        ("s000-t1-cog-aall15p1", "efs", 3, 34.7),
        ("s000-t1-interfant-blinatumomab-pilot", "dfs", 2, 81.6),  # asterisk = DFS
    ],
)
def test_seed000_table1_values(
    evidence: Evidence, record_id: str, endpoint: str, horizon: float, estimate: float
) -> None:
    rec = evidence.get(record_id)
    (res,) = [r for r in rec.results if r.endpoint == endpoint]
    assert res.horizon_years == horizon
    assert res.estimate_pct == estimate


def test_seed000_ongoing_trials_have_no_numbers(evidence: Evidence) -> None:
    for rid in ("s000-t1-jccg-mll-17", "s000-t1-interfant-21", "s000-t1-cog-aall2321"):
        rec = evidence.get(rid)
        assert rec.results == ()
        assert rec.n is None


# --- seed 004 Table 2 (12 printed rows; MLL96 and MLL98 share one set of values) ------------


def test_seed004_table2_counts(evidence: Evidence) -> None:
    rows = _table(evidence, SEED_004, "Table 2")
    # 12 printed rows; the MLL96 and MLL98 rows share one set of values: one record.
    assert len(rows) == 11
    printed_n = (98, 135, 115, 84, 47, 68, 141, 55, 47, 40, 86, 483)
    assert sum(r.n or 0 for r in rows) == sum(printed_n)
    crs = [x for r in rows for x in r.results if x.endpoint == "cr"]
    assert len(crs) == 9  # POG 9407 cohorts 1+2 and P9407 cohort 3 print "—"


def test_seed004_table2_combined_row_sums(evidence: Evidence) -> None:
    rec = evidence.get("s004-t2-jilsg-mll96-98")
    assert rec.n == sum(c.n or 0 for c in rec.components) == 102
    rec = evidence.get("s004-t2-pog-9407-cohorts-1-2")
    assert rec.n == sum(c.n or 0 for c in rec.components) == 68


def test_seed004_table2_footnote_a_is_six_years(evidence: Evidence) -> None:
    for rid in ("s004-t2-ukclwp-infant-87", "s004-t2-ukclwp-infant-92"):
        horizons = {r.horizon_years for r in evidence.get(rid).results if r.endpoint != "cr"}
        assert horizons == {6}
