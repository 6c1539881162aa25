"""Risk stratification of infant ALL protocols as rules (data) run by one engine.

Each protocol (:data:`PROTOCOLS`) is a list of rules with a stable id, a condition over
the patient's features, the resulting group or flag and its sources (a verbatim quote from
a seed article, or a citation with its verification status). :func:`stratify` returns a
:class:`Decision` — the group, fired rules, explanation and sources — or
``"indeterminate"`` naming exactly the missing fields that would decide the group.
:func:`stratify_frame` does the same for a whole DataFrame with NumPy.
Conventions the sources leave open (what "6 months" is in days, ≥ or >, which CNS status
is "CNS disease") are named parameters with documented defaults, reported in
``Decision.conventions``.

Research use only: the groups reproduce published protocols; they are never a treatment
recommendation for a child.
"""

from infantall.protocols.api import stratify, stratify_all
from infantall.protocols.concordance import (
    CONCORDANCE_PROTOCOLS,
    HIGH_RISK_GROUPS,
    ConcordanceResult,
    protocol_concordance,
    stratify_histories,
)
from infantall.protocols.docs import rule_table_markdown
from infantall.protocols.features import encode_frame, features_of
from infantall.protocols.model import (
    INDETERMINATE,
    NOT_APPLICABLE,
    Decision,
    Parameter,
    Protocol,
    Rule,
    Source,
)
from infantall.protocols.registry import PROTOCOLS, get_protocol
from infantall.protocols.vectorised import FRAME_COLUMNS, stratify_frame, stratify_frame_all

__all__ = [
    "CONCORDANCE_PROTOCOLS",
    "FRAME_COLUMNS",
    "HIGH_RISK_GROUPS",
    "INDETERMINATE",
    "NOT_APPLICABLE",
    "PROTOCOLS",
    "ConcordanceResult",
    "Decision",
    "Parameter",
    "Protocol",
    "Rule",
    "Source",
    "encode_frame",
    "features_of",
    "get_protocol",
    "protocol_concordance",
    "rule_table_markdown",
    "stratify",
    "stratify_all",
    "stratify_frame",
    "stratify_frame_all",
    "stratify_histories",
]
