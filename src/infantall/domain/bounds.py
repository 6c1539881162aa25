"""The bounds of the domain: one constant per bound, and the checks that use them.

Only the impossible is refused; values that are implausible but possible are kept with an
:class:`~infantall.domain.errors.ImplausibleValueWarning` (DESIGN.md). Every channel (the
Python API, ``infantall stratify`` and its CSV, the registry's API, pages and CSV import)
refuses a value through these checks, so the same value is refused everywhere with the same
code. The checks raise :class:`~infantall.errors.InvalidInputError` with an empty field: the
caller (a pydantic validator) knows where the value sits.
"""

from __future__ import annotations

from infantall.errors import InvalidInputError

__all__ = [
    "GRADE_MAX",
    "GRADE_MIN",
    "IMPLAUSIBLE_WBC",
    "INFANT_MAX_AGE_DAYS",
    "MAX_BLASTS_PER_UL",
    "MAX_WBC",
    "MRD_MAX",
    "MRD_MIN",
    "PPR_THRESHOLD_PER_UL",
    "check_age_days",
    "check_blasts",
    "check_wbc",
]

#: Infant ALL is ALL diagnosed at 0–365 days of age (DESIGN.md glossary; Interfant-06
#: eligibility "≤ 365 days", domain-facts.md §1.2). Above it: ``not_an_infant``.
INFANT_MAX_AGE_DAYS = 365
#: WBC (10^9/L) above which a value is implausible but possible: accepted with a warning.
IMPLAUSIBLE_WBC = 1000.0
#: Largest possible WBC (10^9/L); above it ``wbc_too_high``. The published extreme in infant
#: ALL is about 1,100 × 10^9/L in a 4-week-old (Blood 2019;133:205), and a leukocrit near
#: 100% caps the count at a few thousand; 100,000 is far above anything measured and far
#: below a value typed in cells/µL (10^6 times the count in 10^9/L), the error it catches.
MAX_WBC = 100_000.0
#: Largest possible day-8 peripheral blast count per µL: the WBC bound in the same unit
#: (100,000 × 10^9/L = 10^8/µL); blasts cannot outnumber the leukocytes.
MAX_BLASTS_PER_UL = MAX_WBC * 1000.0
#: Day-8 peripheral blasts/µL at and above which the prednisone response is poor (PPR):
#: "PGR < 1,000/µL, PPR ≥ 1,000/µL" (domain-facts.md §3, BFM definition, Blood 1999;94:1209).
PPR_THRESHOLD_PER_UL = 1000.0
#: MRD is a fraction of cells (1e-4 = 0.01%): from 0 (not detected) to 1.
MRD_MIN = 0.0
MRD_MAX = 1.0
#: Late-effect grades are CTCAE grades 1 (mild) to 5 (death).
GRADE_MIN = 1
GRADE_MAX = 5


def check_age_days(age: int, field: str = "") -> int:
    """``age`` (days at diagnosis) if it is 0–365; else ``negative_age`` or ``not_an_infant``."""
    if age < 0:
        raise InvalidInputError(field, f"age {age} days is negative", "negative_age")
    if age > INFANT_MAX_AGE_DAYS:
        raise InvalidInputError(
            field,
            f"age at diagnosis {age} days is above {INFANT_MAX_AGE_DAYS}: not an infant",
            "not_an_infant",
        )
    return age


def check_wbc(wbc: float) -> float:
    """``wbc`` (10^9/L) if it is possible; else ``negative_wbc`` or ``wbc_too_high``."""
    if wbc < 0:
        raise InvalidInputError("", f"WBC {wbc} is negative", "negative_wbc")
    if wbc > MAX_WBC:
        raise InvalidInputError(
            "",
            f"WBC {wbc:g} x 10^9/L is above {MAX_WBC:,.0f}: impossible (typed in cells/µL?)",
            "wbc_too_high",
        )
    return wbc


def check_blasts(blasts: float) -> float:
    """``blasts`` (/µL) if possible; else ``negative_blast_count`` or ``blast_count_too_high``."""
    if blasts < 0:
        raise InvalidInputError("", f"blast count {blasts} is negative", "negative_blast_count")
    if blasts > MAX_BLASTS_PER_UL:
        raise InvalidInputError(
            "",
            f"blast count {blasts:g}/µL is above {MAX_BLASTS_PER_UL:,.0f}: impossible",
            "blast_count_too_high",
        )
    return blasts
