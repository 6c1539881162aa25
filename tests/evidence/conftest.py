"""Fixtures of the evidence tests: the loaded evidence base and the seed texts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infantall.evidence import Evidence, load_evidence


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space (PDF text breaks lines anywhere)."""
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="session")
def evidence() -> Evidence:
    return load_evidence()


@pytest.fixture(scope="session")
def evidence_all() -> Evidence:
    return load_evidence(enrichment=True)


@pytest.fixture(scope="session")
def seed_texts(seeds_dir: Path) -> dict[str, str]:
    """Seed file name -> whitespace-normalised text."""
    return {p.name: normalise(p.read_text(encoding="utf-8")) for p in seeds_dir.glob("*.txt")}
