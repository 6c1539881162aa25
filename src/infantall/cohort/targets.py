"""The published results the synthetic outcomes are calibrated to, with their provenance.

:data:`CALIBRATION_TARGETS` lists, per protocol, the survival estimates by risk group (and
pooled populations) that :func:`infantall.cohort.calibration.calibrate` solves for and that
:func:`infantall.cohort.check.calibration_check` compares the synthetic cohort with.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["CALIBRATION_TARGETS", "CalibrationTarget", "targets_frame"]


@dataclass(frozen=True, slots=True)
class CalibrationTarget:
    """One published survival estimate the synthetic cohort is calibrated to.

    ``se_pct`` is the published standard error unless ``se_derived`` is true; then it is a
    binomial SE at the size named in ``note`` (a published SE was not found).
    """

    protocol: str
    population: str
    groups: tuple[str, ...]
    endpoint: str
    horizon_years: float
    estimate_pct: float
    se_pct: float
    se_derived: bool
    n: int | None
    source: str
    location: str
    note: str = ""


_JCO19 = "Pieters et al., J Clin Oncol 2019;37:2246 (Interfant-06), doi 10.1200/JCO.19.00261"
_JCO19_MIRROR = "https://suppr.wilddata.cn/browses/detail/pubmed/31283407 (abstract)"
_STUTTERHEIM = (
    "Stutterheim et al. (Interfant-06 KMT2A-germline), https://research.regionh.dk (abstract)"
)
_COMMENTARY = "Blood 2020;136:1797 commentary table (http://ashpublications.net/blood/...464227)"
_SEED000 = "seed 000 (Tomizawa, Haematologica 2024, doi 10.3324/haematol.2024.285975) Table 1"
_MLL10 = "Tomizawa et al., Blood 2020;136:1813 (JPLSG MLL-10) abstract"

#: The published targets, with provenance (domain-facts.md §4.2, §4.3 and seed 000).
CALIBRATION_TARGETS: tuple[CalibrationTarget, ...] = (
    CalibrationTarget(
        "interfant-06", "LR", ("LR",), "EFS", 6, 73.9, 3.6, False, 167,
        _STUTTERHEIM, "domain-facts.md §4.2 (KMT2A-germline row)",
    ),
    CalibrationTarget(
        "interfant-06", "LR", ("LR",), "OS", 6, 87.2, 2.7, False, 167,
        _STUTTERHEIM, "domain-facts.md §4.2 (KMT2A-germline row)",
    ),
    CalibrationTarget(
        "interfant-06", "HR", ("HR",), "EFS", 6, 20.9, 3.4, False, None,
        f"{_JCO19}; {_JCO19_MIRROR}", "domain-facts.md §4.2 (HR row); SE from the abstract",
    ),
    CalibrationTarget(
        "interfant-06", "HR", ("HR",), "OS", 6, 29.9, 3.8, True, None,
        "Clesham, Blood 2020;135:1501", "domain-facts.md §4.2 (HR row)",
        "SE derived: binomial at the effective size 143 implied by the HR EFS SE 3.4",
    ),
    CalibrationTarget(
        "interfant-06", "KMT2A-r", ("MR", "HR"), "EFS", 6, 36.4, 2.3, False, 476,
        f"{_COMMENTARY}; {_SEED000}", "domain-facts.md §4.2 (KMT2A-r row)",
    ),
    CalibrationTarget(
        "interfant-06", "KMT2A-r", ("MR", "HR"), "OS", 6, 48.0, 2.3, True, 476,
        _SEED000, "seed 000 Table 1, Interfant-06 row",
        "SE derived: binomial at n = 476",
    ),
    CalibrationTarget(
        "interfant-06", "all", ("LR", "MR", "HR"), "EFS", 6, 46.1, 2.1, False, 651,
        _JCO19, "domain-facts.md §4.2 (All row)", "check only (implied by the group targets)",
    ),
    CalibrationTarget(
        "interfant-06", "all", ("LR", "MR", "HR"), "OS", 6, 58.2, 2.0, False, 651,
        _JCO19, "domain-facts.md §4.2 (All row)", "check only (implied by the group targets)",
    ),
    CalibrationTarget(
        "mll-10", "LR", ("LR",), "EFS", 3, 93.3, 6.4, False, 15, _MLL10,
        "domain-facts.md §4.3 (LR row)",
    ),
    CalibrationTarget(
        "mll-10", "IR", ("IR",), "EFS", 3, 94.4, 5.4, False, 19, _MLL10,
        "domain-facts.md §4.3 (IR row)",
    ),
    CalibrationTarget(
        "mll-10", "HR", ("HR",), "EFS", 3, 56.6, 6.8, False, 56, _MLL10,
        "domain-facts.md §4.3 (HR row)",
    ),
    CalibrationTarget(
        "mll-10", "KMT2A-r", ("IR", "HR"), "EFS", 3, 66.2, 5.6, False, 75, _MLL10,
        "domain-facts.md §4.3 (KMT2A-r row)", "check only (implied by the IR and HR targets)",
    ),
    CalibrationTarget(
        "mll-10", "KMT2A-r", ("IR", "HR"), "OS", 3, 83.9, 4.3, False, 75, _MLL10,
        "domain-facts.md §4.3 (KMT2A-r row)",
        "seed 000 Table 1 prints EFS 66.2 / OS 82.0 labelled 5-year; the paper reports 3-year",
    ),
)  # fmt: skip


def targets_frame(protocol: str | None = None) -> pd.DataFrame:
    """:data:`CALIBRATION_TARGETS` as a DataFrame (optionally for one protocol)."""
    rows = [
        {
            "protocol": t.protocol,
            "population": t.population,
            "groups": "+".join(t.groups),
            "endpoint": t.endpoint,
            "horizon_years": t.horizon_years,
            "estimate_pct": t.estimate_pct,
            "se_pct": t.se_pct,
            "se_derived": t.se_derived,
            "n": t.n,
            "source": t.source,
            "location": t.location,
            "note": t.note,
        }
        for t in CALIBRATION_TARGETS
        if protocol is None or t.protocol == protocol
    ]
    return pd.DataFrame(rows)
