"""Fixtures of the report tests: the evidence base and the rendered evidence report."""

from __future__ import annotations

import pytest

from infantall.evidence import Evidence, load_evidence
from infantall.reports import evidence_report


@pytest.fixture(scope="session")
def evidence() -> Evidence:
    return load_evidence()


@pytest.fixture(scope="session")
def report_html(evidence: Evidence) -> str:
    # Rendering the figure takes about a second: build the page once for the session.
    return evidence_report(evidence)
