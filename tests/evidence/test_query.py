"""Queries by group, era, endpoint, population and protocol type."""

from __future__ import annotations

from infantall.evidence import Evidence


def test_query_by_group_is_case_insensitive(evidence: Evidence) -> None:
    cog = evidence.query(group="cog")
    assert len(cog) > 0
    assert {r.group for r in cog.records} == {"COG"}
    assert len(evidence.query(group=["COG", "POG"])) > len(cog)


def test_query_by_endpoint_keeps_only_that_endpoint(evidence: Evidence) -> None:
    efs = evidence.query(endpoint="efs")
    assert set(efs.frame["endpoint"]) == {"efs"}
    assert len(efs.frame) == int((evidence.frame["endpoint"] == "efs").sum())


def test_query_by_era_overlaps_accrual(evidence: Evidence) -> None:
    recent = evidence.query(era=(2010, None))
    assert all((r.accrual_end or r.accrual_start or 0) >= 2010 for r in recent.records)
    assert "s000-t1-jplsg-mll-10" in {r.record_id for r in recent.records}
    early = evidence.query(era=(None, 1990))
    assert all((r.accrual_start or 9999) <= 1990 for r in early.records)


def test_query_by_population_and_protocol_type(evidence: Evidence) -> None:
    kmt2a = evidence.query(population="kmt2a_r", protocol_type="infant-specific")
    assert {r.population for r in kmt2a.records} == {"kmt2a_r"}
    assert {r.protocol_type for r in kmt2a.records} == {"infant-specific"}


def test_trial_gathers_both_seeds(evidence: Evidence) -> None:
    ccg1953 = evidence.trial("ccg-1953")
    assert {r.source.seed for r in ccg1953.records} == {
        "000_2f48a84a65020b3f.txt",
        "004_1b9a3d5192e595c7.txt",
    }
    assert "interfant-99" in evidence.trial_ids
