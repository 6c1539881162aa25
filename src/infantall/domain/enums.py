"""Enumerations of the domain model.

Every enumeration that describes an observation has an explicit ``unknown`` member (not
``None``): "not tested" or "not recorded" is a value that the protocol engine and the
analyses treat on purpose. Members are lower-case strings so that they serialise to JSON and
CSV unchanged. Definitions follow ``shared/DESIGN.md`` (glossary) and
``shared/research/domain-facts.md`` §3 (NCI PDQ CNS status, marrow status, CR).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CD10Status",
    "CNSStatus",
    "Conditioning",
    "DeathCause",
    "DonorType",
    "FusionPartner",
    "Immunophenotype",
    "InductionResponse",
    "KMT2AStatus",
    "LateEffectType",
    "MRDMethod",
    "MRDTimePoint",
    "MarrowStatus",
    "PrednisoneResponse",
    "RelapseSite",
    "Sex",
]


class Sex(StrEnum):
    """Sex recorded at diagnosis."""

    female = "female"
    male = "male"
    unknown = "unknown"


class Immunophenotype(StrEnum):
    """Immunophenotype of the leukemia (EGIL classes; pro-B is CD10-negative B-precursor)."""

    pro_b = "pro_b"
    common_b = "common_b"
    pre_b = "pre_b"
    mature_b = "mature_b"
    t_cell = "t_cell"
    mixed_phenotype = "mixed_phenotype"
    unknown = "unknown"


class CD10Status(StrEnum):
    """CD10 (CALLA) expression on the blasts; negativity is adverse in infant ALL."""

    positive = "positive"
    negative = "negative"
    unknown = "unknown"


class KMT2AStatus(StrEnum):
    """KMT2A (MLL) gene status: rearranged (KMT2A-r), germline, or unknown (not tested)."""

    rearranged = "rearranged"
    germline = "germline"
    unknown = "unknown"


class FusionPartner(StrEnum):
    """KMT2A fusion partner. ``none`` for a germline KMT2A; AFF1 is t(4;11)."""

    AFF1 = "AFF1"
    MLLT1 = "MLLT1"
    MLLT3 = "MLLT3"
    MLLT10 = "MLLT10"
    other = "other"
    none = "none"
    unknown = "unknown"


class CNSStatus(StrEnum):
    """CNS status at diagnosis (NCI PDQ definitions, domain-facts.md §3).

    CNS1: no blasts in CSF; CNS2: blasts with CSF WBC < 5/µL; CNS3: blasts with CSF WBC
    ≥ 5/µL, or clinical signs of CNS involvement.
    """

    CNS1 = "CNS1"
    CNS2 = "CNS2"
    CNS3 = "CNS3"
    unknown = "unknown"


class PrednisoneResponse(StrEnum):
    """Day-8 response to the 7-day prednisone prophase: good (< 1,000 blasts/µL) or poor."""

    good = "good"
    poor = "poor"
    unknown = "unknown"


class MarrowStatus(StrEnum):
    """Bone-marrow blast class: M1 < 5%, M2 5 to < 25%, M3 ≥ 25%."""

    M1 = "M1"
    M2 = "M2"
    M3 = "M3"
    unknown = "unknown"


class InductionResponse(StrEnum):
    """Response at the end of induction: complete remission (CR) or not (induction failure)."""

    cr = "cr"
    no_cr = "no_cr"
    unknown = "unknown"


class MRDTimePoint(StrEnum):
    """Time points at which the infant protocols measure MRD (domain-facts.md §3).

    ``start_of_octadad`` is the Interfant-06 HSCT decision point for MR patients;
    ``end_of_early_consolidation`` the MLL-10 prognostic point; ``after_blinatumomab_1``
    the Interfant-21 decision point.
    """

    day_15 = "day_15"
    end_of_induction = "end_of_induction"
    end_of_early_consolidation = "end_of_early_consolidation"
    end_of_consolidation = "end_of_consolidation"
    start_of_octadad = "start_of_octadad"
    after_blinatumomab_1 = "after_blinatumomab_1"
    pre_hsct = "pre_hsct"
    other = "other"
    unknown = "unknown"


class MRDMethod(StrEnum):
    """How MRD was measured."""

    pcr_ig_tcr = "pcr_ig_tcr"
    pcr_kmt2a_fusion = "pcr_kmt2a_fusion"
    flow = "flow"
    ngs = "ngs"
    unknown = "unknown"


class RelapseSite(StrEnum):
    """Site of relapse."""

    isolated_marrow = "isolated_marrow"
    isolated_cns = "isolated_cns"
    combined = "combined"
    other_extramedullary = "other_extramedullary"
    unknown = "unknown"


class DeathCause(StrEnum):
    """Cause class of a death."""

    leukemia = "leukemia"
    infection_toxicity = "infection_toxicity"
    hsct_related = "hsct_related"
    other = "other"
    unknown = "unknown"


class DonorType(StrEnum):
    """Stem-cell donor."""

    matched_sibling = "matched_sibling"
    other_family = "other_family"
    haploidentical = "haploidentical"
    unrelated = "unrelated"
    cord_blood = "cord_blood"
    autologous = "autologous"
    unknown = "unknown"


class Conditioning(StrEnum):
    """Conditioning class before HSCT (busulfan-based or TBI-based myeloablative, RIC)."""

    myeloablative_busulfan = "myeloablative_busulfan"
    myeloablative_tbi = "myeloablative_tbi"
    myeloablative_other = "myeloablative_other"
    reduced_intensity = "reduced_intensity"
    unknown = "unknown"


class LateEffectType(StrEnum):
    """Late effect of therapy in survivors."""

    growth = "growth"
    endocrine = "endocrine"
    neurocognitive = "neurocognitive"
    cardiac = "cardiac"
    hearing = "hearing"
    dental = "dental"
    other = "other"
    unknown = "unknown"
