"""The evidence base: every trial result printed in the seed reviews, with provenance.

>>> from infantall.evidence import load_evidence
>>> ev = load_evidence()
>>> efs = ev.query(endpoint="efs", protocol_type="infant-specific").frame

``load_evidence()`` validates the curated YAML files shipped in ``infantall/evidence/data``
(see the README there for counts and citations) and returns an :class:`Evidence` with typed
``records`` and a tidy ``frame`` (one row per reported number), the numeric ``statements`` of
the seeds' running text and the flagged ``disagreements`` between the seeds;
``Evidence.to_dict()`` / ``export_rows()`` are the complete export.
"""

from infantall.evidence.collection import FRAME_COLUMNS, STUDY_COLUMNS, Evidence, load_evidence
from infantall.evidence.loader import ENRICHMENT_FILES, SEED_FILES, data_dir, read_data_file
from infantall.evidence.schema import (
    ENDPOINTS,
    POPULATIONS,
    PROTOCOL_TYPES,
    Component,
    Disagreement,
    Hsct,
    Result,
    Source,
    Statement,
    TableTotal,
    TrialRecord,
)

__all__ = [
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
]
