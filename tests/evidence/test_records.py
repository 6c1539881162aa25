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


# --- seed 004 Table 1 (49 printed rows, 53 studies, 22 groups; footnotes a–e) --------------


def test_seed004_table1_counts(evidence: Evidence) -> None:
    rows = _table(evidence, SEED_004, "Table 1")
    assert len(rows) == 49
    assert sum(max(1, len(r.components)) for r in rows) == 53
    assert len({r.group for r in rows}) == 22
    assert all(r.protocol_type == "childhood" for r in rows)
    # "Number of infants" column, tallied by hand per group from the printed table.
    per_group = {
        "AIEOP": 84, "BFM": 149, "CCG": 27, "EORTC-CLG": 83, "CoALL": 36, "CPH": 27,
        "DCOG": 16, "DFCI": 39, "FRALLE": 72, "INS": 22, "JACLS": 19, "JCCLSG": 16,
        "KYCCSG": 7, "Ma-Spore": 21, "NOPHO": 86, "PETHEMA": 12, "PINDA": 15, "POG": 33,
        "SJCRH": 39, "TCCSG": 62, "TPOG": 51, "UK CLWP": 46,
    }  # fmt: skip
    for group, total in per_group.items():
        assert sum(r.n or 0 for r in rows if r.group == group) == total, group
    assert sum(r.n or 0 for r in rows) == 962


@pytest.mark.parametrize(
    ("record_id", "endpoint", "horizon", "estimate"),
    [
        ("s004-t1-ccg-192p", "efs", 4, 36.0),  # footnote a
        ("s004-t1-eortc-58831-58832", "efs", 10, 39.0),  # footnote b
        ("s004-t1-all-ins-98", "os", 10, 58.3),  # footnote b (EFS and OS)
        ("s004-t1-jacls-retrospective-1991-1995", "efs", 3, 28.7),  # footnote c
        ("s004-t1-pethema-all-93", "dfs", 5, 50.0),  # footnote d
        ("s004-t1-sjcrh-total-therapy-10", "efs", 9, 20.0),  # footnote e
        ("s004-t1-all-bfm-81", "os", 5, 100.0),
        ("s004-t1-tccsg-retrospective-1977-1995", "efs", 5, 13.1),
    ],
)
def test_seed004_table1_footnotes(
    evidence: Evidence, record_id: str, endpoint: str, horizon: float, estimate: float
) -> None:
    (res,) = [r for r in evidence.get(record_id).results if r.endpoint == endpoint]
    assert (res.horizon_years, res.estimate_pct) == (horizon, estimate)


def test_seed004_table1_dash_cells_are_absent(evidence: Evidence) -> None:
    for rid in ("s004-t1-cph-all-bfm-83", "s004-t1-fralle-83-87", "s004-t1-kyccsg-al851-alhr88"):
        assert evidence.get(rid).results == ()
    assert {r.endpoint for r in evidence.get("s004-t1-coall-92").results} == {"efs"}


def test_efs_above_os_is_flagged(evidence: Evidence) -> None:
    # EFS cannot exceed OS in the same patients; such printed rows must carry an ambiguity.
    df = evidence.frame
    pairs = df[df["endpoint"].isin(["efs", "os"])].pivot_table(
        index=["record_id", "horizon_years"], columns="endpoint", values="estimate_pct"
    )
    pairs = pairs.dropna()
    bad = pairs[pairs["efs"] > pairs["os"]].index.get_level_values(0)
    assert set(bad) == {"s004-t1-dclsg-all-7", "s004-t1-tpog-all-2002"}
    for rid in bad:
        assert evidence.get(rid).ambiguity


# --- seed 004 Table 3 (6 rows and a Total row) ---------------------------------------------


def test_seed004_table3_rows_sum_to_total(evidence: Evidence) -> None:
    rows = _table(evidence, SEED_004, "Table 3")
    assert len(rows) == 6
    (total,) = [t for t in evidence.totals if t.table == "Table 3"]
    assert total.values == {"hsct_n": 170, "continued_cr1": 85, "death_in_cr": 38, "relapse": 47}
    hs = [r.hsct for r in rows]
    assert all(h is not None for h in hs)
    assert sum(h.n for h in hs if h) == total.values["hsct_n"]
    assert sum(h.continued_cr1 or 0 for h in hs if h) == total.values["continued_cr1"]
    assert sum(h.death_in_cr or 0 for h in hs if h) == total.values["death_in_cr"]
    assert sum(h.relapse or 0 for h in hs if h) == total.values["relapse"]
    assert min(r.accrual_start or 0 for r in rows) == total.accrual_start
    assert max(r.accrual_end or 0 for r in rows) == total.accrual_end


def test_seed004_table3_each_row_accounts_for_every_patient(evidence: Evidence) -> None:
    for rec in _table(evidence, SEED_004, "Table 3"):
        h = rec.hsct
        assert h is not None
        assert (h.continued_cr1 or 0) + (h.death_in_cr or 0) + (h.relapse or 0) == h.n
        counts = {r.endpoint: r.events for r in rec.results}
        assert counts == {
            "continued_cr": h.continued_cr1,
            "death_in_cr": h.death_in_cr,
            "relapse": h.relapse,
        }


def test_table3_total_quote_is_in_the_seed(evidence: Evidence, seed_texts: dict[str, str]) -> None:
    for total in evidence.totals:
        assert total.source.seed is not None
        assert _norm(total.source.quote) in seed_texts[total.source.seed]


# --- running text of both seeds --------------------------------------------------------------


def test_text_record_counts(evidence: Evidence) -> None:
    text4 = [
        r
        for r in evidence.records
        if r.source.seed == SEED_004 and r.source.location.startswith("Text")
    ]
    text0 = [
        r for r in evidence.records if r.source.seed == SEED_000 and r.source.location == "Text"
    ]
    assert len(text4) == 46
    assert len(text0) == 6


@pytest.mark.parametrize(
    ("record_id", "endpoint", "estimate"),
    [
        ("s004-x-ccg-192p", "cr", 92.6),
        ("s004-x-jilsg-mll96-98-kmt2a-g", "efs", 95.5),
        ("s004-x-jilsg-mll96-98-kmt2a-r-lt6m", "efs", 27.8),
        ("s004-x-pog-9407-cohorts-1-2", "early_death", 25.0),
        ("s004-x-pog-9407-le90d", "early_death", 58.8),
        ("s004-x-cog-p9407-cohort-3", "early_death", 5.7),
        ("s004-x-ukclwp-infant-92", "relapse_cns_isolated", 11.6),
        ("s004-x-interfant-99", "relapse_marrow_isolated", 25.7),
        ("s004-x-interfant-99-mrd-low", "relapse", 13.0),
        ("s000-x-cog-aall0631-lestaurtinib", "efs", 36.0),
        ("s000-x-cog-aall0631-chemotherapy", "efs", 39.0),
        ("s000-x-cog-aall0631-biomarker", "efs", 88.0),
        ("s000-x-cog-aall15p1", "efs", 34.7),
        ("s000-x-interfant-blinatumomab-pilot", "dfs", 81.6),
        ("s000-x-jplsg-mll-10", "efs", 66.0),
    ],
)
def test_text_values(evidence: Evidence, record_id: str, endpoint: str, estimate: float) -> None:
    (res,) = [r for r in evidence.get(record_id).results if r.endpoint == endpoint]
    assert res.estimate_pct == estimate


def test_seed_disagreements_are_kept_with_both_sources(evidence: Evidence) -> None:
    # Interfant-99 KMT2A-r 4-year EFS: 36.9% (seed 000, N 308) vs 36.8% (seed 004 summary).
    kmt2a = evidence.trial("interfant-99").query(population="kmt2a_r", endpoint="efs").frame
    assert sorted(zip(kmt2a["estimate_pct"], kmt2a["source_seed"], strict=True)) == [
        (36.8, SEED_004),
        (36.9, SEED_000),
    ]
    # MLL03: 62 (seed 000) vs 63 recruited (seed 004).
    mll03 = evidence.trial("jplsg-mll03").studies
    assert set(mll03["n"]) == {62, 63}


def test_seed004_table2_and_running_text_agree(evidence: Evidence) -> None:
    # Every number Table 2 shares with the running text of the same seed is the same number
    # (the text is the independent second reading of each cell).
    f = evidence.frame
    keys = ["trial_id", "population", "endpoint", "horizon_years"]
    table = f[(f["source_seed"] == SEED_004) & (f["source_location"] == "Table 2")]
    text = f[(f["source_seed"] == SEED_004) & f["source_location"].str.startswith("Text")]
    both = table.merge(text, on=keys, suffixes=("_table", "_text"))
    assert len(both) == 31  # 9 CR + 11 EFS + 11 OS cells of Table 2
    assert (both["estimate_pct_table"] == both["estimate_pct_text"]).all()
    assert (both["n_table"] == both["n_text"]).all()


def test_seed004_table1_and_running_text_agree(evidence: Evidence) -> None:
    for trial, endpoint, horizon, value in (
        ("ccg-192p", "efs", 4, 36.0),
        ("pog-8398", "efs", 5, 17.7),
        ("pog-8398", "os", 5, 36.4),
    ):
        found = evidence.trial(trial).query(endpoint=endpoint).frame
        assert set(found["source_location"].str[:5]) == {"Table", "Text:"}
        assert set(found["horizon_years"]) == {horizon}
        assert set(found["estimate_pct"]) == {value}
