"""The public API of the evidence and reports packages is explicit and importable."""

from __future__ import annotations

import infantall.evidence
import infantall.reports


def test_evidence_public_api() -> None:
    assert set(infantall.evidence.__all__) == {
        "ENDPOINTS",
        "ENRICHMENT_FILES",
        "FRAME_COLUMNS",
        "POPULATIONS",
        "PROTOCOL_TYPES",
        "SEED_FILES",
        "STUDY_COLUMNS",
        "Component",
        "Disagreement",
        "Evidence",
        "Hsct",
        "Result",
        "Source",
        "Statement",
        "TableTotal",
        "TrialRecord",
        "data_dir",
        "load_evidence",
        "read_data_file",
    }
    for name in infantall.evidence.__all__:
        assert hasattr(infantall.evidence, name)


def test_reports_public_api() -> None:
    assert set(infantall.reports.__all__) == {
        "ReportSection",
        "evidence_figure",
        "evidence_report",
        "evidence_sections",
        "figure_points",
        "figure_to_data_uri",
        "html_table",
        "render_report",
    }
    for name in infantall.reports.__all__:
        assert hasattr(infantall.reports, name)


def test_interface_columns_are_in_the_frame() -> None:
    # INTERFACES.md promises at least these columns of Evidence.frame.
    promised = [
        "record_id",
        "trial_id",
        "study",
        "group",
        "countries",
        "accrual_start",
        "accrual_end",
        "population",
        "arm",
        "n",
        "endpoint",
        "horizon_years",
        "estimate_pct",
        "se_pct",
        "ci_low_pct",
        "ci_high_pct",
        "hsct_n",
        "protocol_type",
        "source_seed",
        "source_location",
        "quote",
        "ambiguity",
    ]
    assert set(promised) <= set(infantall.evidence.FRAME_COLUMNS)
    assert {"infant-specific", "childhood"} <= set(infantall.evidence.PROTOCOL_TYPES)
