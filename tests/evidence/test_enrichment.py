"""The enrichment set: later publications, kept apart from the seeds, each citable."""

from __future__ import annotations

import re
from pathlib import Path

from infantall.evidence import Evidence


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_enrichment_is_off_by_default(evidence: Evidence, evidence_all: Evidence) -> None:
    assert all(r.source.kind == "seed" for r in evidence.records)
    extra = [r for r in evidence_all.records if r.source.kind == "enrichment"]
    assert len(extra) == 12
    assert len(evidence_all) == len(evidence) + len(extra)


def test_every_enrichment_record_is_citable(evidence_all: Evidence) -> None:
    for rec in evidence_all.query(source_seed="").records:
        if rec.source.kind == "enrichment":
            assert rec.source.doi or rec.source.registry_id or rec.source.pmcid
            assert rec.source.citation


def test_enrichment_quotes_are_in_the_verified_notes(
    evidence_all: Evidence, research_dir: Path
) -> None:
    notes_path = research_dir / "domain-facts.md"
    notes = _norm(notes_path.read_text(encoding="utf-8"))
    for rec in evidence_all.records:
        if rec.source.kind == "enrichment":
            assert _norm(rec.source.quote) in notes, rec.record_id


def test_mll10_enrichment_resolves_the_horizon_question(evidence_all: Evidence) -> None:
    frame = evidence_all.trial("jplsg-mll-10").query(endpoint="efs").frame
    published = frame[frame["source_kind"] == "enrichment"]
    assert list(published["horizon_years"]) == [3.0, 3.0]
    assert 66.2 in set(published["estimate_pct"])
