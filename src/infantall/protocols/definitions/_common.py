"""Building blocks shared by the protocol definitions: seed sources, parameters, conditions."""

from __future__ import annotations

from infantall.protocols.conditions import All, Any_, Cmp, Condition, In, Not, Param
from infantall.protocols.model import OCR_NOTE, Parameter, Source

__all__ = [
    "AGE_LT_6_MONTHS",
    "CNS_DISEASE",
    "CNS_DISEASE_PARAM",
    "GERMLINE",
    "MRD_THRESHOLD_PARAM",
    "PGR",
    "PPR",
    "REARRANGED",
    "SEED_000",
    "SEED_004",
    "SIX_MONTHS_PARAM",
    "WBC_300",
    "WBC_OPERATOR_PARAM",
    "all_",
    "any_",
    "cite",
    "not_",
    "seed000",
    "seed004",
]

SEED_000 = "000_2f48a84a65020b3f.txt"
SEED_004 = "004_1b9a3d5192e595c7.txt"


def seed004(quote: str) -> Source:
    """A verbatim quote from seed 004 (Kotecha et al. review of infant ALL trials)."""
    return Source(seed=SEED_004, quote=quote, note=OCR_NOTE)


def seed000(quote: str) -> Source:
    """A verbatim quote from seed 000 (Tomizawa, Haematologica 2024 editorial, Table 1)."""
    return Source(seed=SEED_000, quote=quote)


def cite(citation: str, url: str, status: str, note: str = "") -> Source:
    """A public source with its verification status from ``domain-facts.md``."""
    if status not in ("V", "P", "U", "D"):
        raise ValueError(f"unknown verification status {status!r}")
    return Source(citation=citation, url=url, status=status, note=note)  # type: ignore[arg-type]


def all_(*parts: Condition) -> All:
    """Kleene ``and`` of ``parts``."""
    return All(tuple(parts))


def any_(*parts: Condition) -> Any_:
    """Kleene ``or`` of ``parts``."""
    return Any_(tuple(parts))


def not_(part: Condition) -> Not:
    """Kleene ``not``."""
    return Not(part)


SIX_MONTHS_PARAM = Parameter(
    "six_months_days",
    182.625,
    "Days that make '6 months' in 'age < 6 months' (no source gives a day cut-off). "
    "Default 6 × 30.4375 = 182.625: age ≤ 182 days is < 6 months, 183 days is not. "
    "180 reproduces MLL-10's day rule.",
)
WBC_OPERATOR_PARAM = Parameter(
    "wbc_operator",
    ">=",
    "Comparison in the WBC 300 × 10^9/L rule: '>=' (seed 004 'X300' i.e. ≥; JCO 2019; "
    "Mann 2010 '≥ 300') or '>' (ASH 2018 abstract '>300').",
    (">=", ">"),
)
CNS_DISEASE_PARAM = Parameter(
    "cns_disease",
    ("CNS3",),
    "CNS statuses counted as 'CNS disease' (DESIGN.md glossary: CNS3 unless a protocol "
    "says otherwise); ('CNS2', 'CNS3') counts any CSF blasts.",
    (("CNS3",), ("CNS2", "CNS3")),
)
MRD_THRESHOLD_PARAM = Parameter(
    "mrd_threshold",
    1e-4,
    "MRD fraction at and above which MRD is 'positive' (10^-4 = 0.01%, the common "
    "threshold, domain-facts.md §3).",
)

REARRANGED = In("kmt2a", ("rearranged",))
GERMLINE = In("kmt2a", ("germline",))
PPR = In("prednisone_response", ("poor",))
PGR = In("prednisone_response", ("good",))
AGE_LT_6_MONTHS = Cmp("age_days", "<", Param("six_months_days"))
WBC_300 = Cmp("wbc", Param("wbc_operator"), 300.0)
CNS_DISEASE = In("cns", Param("cns_disease"))
