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
    "Choice",
    "Conditioning",
    "DeathCause",
    "DiseaseStatus",
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
    "RefractoryPhase",
    "RelapseSite",
    "Sex",
]


class Choice(StrEnum):
    """A domain enumeration whose members carry a human label (:attr:`label`).

    The stored value (``"cr"``) never changes; the label (``"Complete remission (CR)"``) is
    what forms, the data dictionary and tables show. Labels are in :data:`_LABELS`, keyed
    by enumeration name and value; a value without an entry reads as itself, capitalised,
    with underscores as spaces.
    """

    @property
    def label(self) -> str:
        """The human label of the value."""
        own = _LABELS.get(type(self).__name__, {}).get(self.value)
        return own if own is not None else self.value.replace("_", " ").capitalize()


class Sex(Choice):
    """Sex recorded at diagnosis."""

    female = "female"
    male = "male"
    unknown = "unknown"


class Immunophenotype(Choice):
    """Immunophenotype of the leukemia (EGIL classes; pro-B is CD10-negative B-precursor)."""

    pro_b = "pro_b"
    common_b = "common_b"
    pre_b = "pre_b"
    mature_b = "mature_b"
    t_cell = "t_cell"
    mixed_phenotype = "mixed_phenotype"
    unknown = "unknown"


class CD10Status(Choice):
    """CD10 (CALLA) expression on the blasts; negativity is adverse in infant ALL."""

    positive = "positive"
    negative = "negative"
    unknown = "unknown"


class KMT2AStatus(Choice):
    """KMT2A (MLL) gene status: rearranged (KMT2A-r), germline, or unknown (not tested)."""

    rearranged = "rearranged"
    germline = "germline"
    unknown = "unknown"


class FusionPartner(Choice):
    """KMT2A fusion partner. ``none`` for a germline KMT2A; AFF1 is t(4;11)."""

    AFF1 = "AFF1"
    MLLT1 = "MLLT1"
    MLLT3 = "MLLT3"
    MLLT10 = "MLLT10"
    other = "other"
    none = "none"
    unknown = "unknown"


class CNSStatus(Choice):
    """CNS status at diagnosis (NCI PDQ definitions, domain-facts.md §3).

    CNS1: no blasts in CSF; CNS2: blasts with CSF WBC < 5/µL; CNS3: blasts with CSF WBC
    ≥ 5/µL, or clinical signs of CNS involvement.
    """

    CNS1 = "CNS1"
    CNS2 = "CNS2"
    CNS3 = "CNS3"
    unknown = "unknown"


class PrednisoneResponse(Choice):
    """Day-8 response to the 7-day prednisone prophase: good (< 1,000 blasts/µL) or poor."""

    good = "good"
    poor = "poor"
    unknown = "unknown"


class MarrowStatus(Choice):
    """Bone-marrow blast class: M1 < 5%, M2 5 to < 25%, M3 ≥ 25%."""

    M1 = "M1"
    M2 = "M2"
    M3 = "M3"
    unknown = "unknown"


class InductionResponse(Choice):
    """Response at the end of induction: complete remission (CR) or not (induction failure)."""

    cr = "cr"
    no_cr = "no_cr"
    unknown = "unknown"


class MRDTimePoint(Choice):
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


class MRDMethod(Choice):
    """How MRD was measured."""

    pcr_ig_tcr = "pcr_ig_tcr"
    pcr_kmt2a_fusion = "pcr_kmt2a_fusion"
    flow = "flow"
    ngs = "ngs"
    unknown = "unknown"


class RelapseSite(Choice):
    """Site of relapse."""

    isolated_marrow = "isolated_marrow"
    isolated_cns = "isolated_cns"
    combined = "combined"
    other_extramedullary = "other_extramedullary"
    unknown = "unknown"


class DeathCause(Choice):
    """Cause class of a death."""

    leukemia = "leukemia"
    infection_toxicity = "infection_toxicity"
    hsct_related = "hsct_related"
    other = "other"
    unknown = "unknown"


class DonorType(Choice):
    """Stem-cell donor."""

    matched_sibling = "matched_sibling"
    other_family = "other_family"
    haploidentical = "haploidentical"
    unrelated = "unrelated"
    cord_blood = "cord_blood"
    autologous = "autologous"
    unknown = "unknown"


class Conditioning(Choice):
    """Conditioning class before HSCT (busulfan-based or TBI-based myeloablative, RIC)."""

    myeloablative_busulfan = "myeloablative_busulfan"
    myeloablative_tbi = "myeloablative_tbi"
    myeloablative_other = "myeloablative_other"
    reduced_intensity = "reduced_intensity"
    unknown = "unknown"


class LateEffectType(Choice):
    """Late effect of therapy in survivors."""

    growth = "growth"
    endocrine = "endocrine"
    neurocognitive = "neurocognitive"
    cardiac = "cardiac"
    hearing = "hearing"
    dental = "dental"
    other = "other"
    unknown = "unknown"


class DiseaseStatus(Choice):
    """Disease status at an HSCT: first or second complete remission, or active disease
    (not in remission: refractory or relapsed leukemia at transplant; JILSG compares HSCT in
    CR2 with HSCT in active disease)."""

    cr1 = "cr1"
    cr2 = "cr2"
    active_disease = "active_disease"
    unknown = "unknown"


class RefractoryPhase(Choice):
    """After which therapy the disease was refractory (no CR): induction or a salvage line."""

    induction = "induction"
    salvage = "salvage"
    unknown = "unknown"


#: Human labels of the enumeration values that do not read well as themselves (enumeration
#: name -> value -> label); ``unknown`` and plain words (``female``, ``growth``) need none.
_LABELS: dict[str, dict[str, str]] = {
    "Immunophenotype": {
        "pro_b": "Pro-B (CD10-negative)",
        "common_b": "Common B",
        "pre_b": "Pre-B",
        "mature_b": "Mature B",
        "t_cell": "T-cell",
        "mixed_phenotype": "Mixed phenotype",
    },
    "CD10Status": {"positive": "Positive (CD10+)", "negative": "Negative (CD10-)"},
    "KMT2AStatus": {"rearranged": "Rearranged (KMT2A-r)", "germline": "Germline"},
    "FusionPartner": {
        "AFF1": "AFF1 (AF4), t(4;11)",
        "MLLT1": "MLLT1 (ENL), t(11;19)",
        "MLLT3": "MLLT3 (AF9), t(9;11)",
        "MLLT10": "MLLT10 (AF10), t(10;11)",
        "none": "None (germline KMT2A)",
    },
    "CNSStatus": {
        "CNS1": "CNS1 (no blasts in CSF)",
        "CNS2": "CNS2 (blasts, CSF WBC < 5/µL)",
        "CNS3": "CNS3 (blasts, CSF WBC ≥ 5/µL, or clinical signs)",
    },
    "PrednisoneResponse": {
        "good": "Good (< 1,000 blasts/µL)",
        "poor": "Poor (≥ 1,000 blasts/µL)",
    },
    "MarrowStatus": {
        "M1": "M1 (< 5% blasts)",
        "M2": "M2 (5 to < 25% blasts)",
        "M3": "M3 (≥ 25% blasts)",
    },
    "InductionResponse": {
        "cr": "Complete remission (CR)",
        "no_cr": "No CR (induction failure)",
    },
    "MRDTimePoint": {
        "day_15": "Day 15",
        "end_of_induction": "End of induction",
        "end_of_early_consolidation": "End of early consolidation",
        "end_of_consolidation": "End of consolidation",
        "start_of_octadad": "Start of OCTADAD",
        "after_blinatumomab_1": "After the first blinatumomab course",
        "pre_hsct": "Before HSCT",
    },
    "MRDMethod": {
        "pcr_ig_tcr": "PCR (Ig/TCR)",
        "pcr_kmt2a_fusion": "PCR (KMT2A fusion)",
        "flow": "Flow cytometry",
        "ngs": "Next-generation sequencing (NGS)",
    },
    "RelapseSite": {
        "isolated_marrow": "Isolated marrow",
        "isolated_cns": "Isolated CNS",
        "combined": "Combined",
        "other_extramedullary": "Other extramedullary",
    },
    "DeathCause": {
        "leukemia": "Leukemia",
        "infection_toxicity": "Infection or toxicity",
        "hsct_related": "HSCT-related",
    },
    "DonorType": {
        "matched_sibling": "Matched sibling",
        "other_family": "Other family member",
        "haploidentical": "Haploidentical",
        "unrelated": "Unrelated",
        "cord_blood": "Cord blood",
        "autologous": "Autologous",
    },
    "DiseaseStatus": {
        "cr1": "First complete remission (CR1)",
        "cr2": "Second complete remission (CR2)",
        "active_disease": "Active disease (not in remission)",
    },
    "RefractoryPhase": {
        "induction": "After induction",
        "salvage": "After salvage therapy",
    },
    "Conditioning": {
        "myeloablative_busulfan": "Myeloablative with busulfan",
        "myeloablative_tbi": "Myeloablative with TBI",
        "myeloablative_other": "Other myeloablative",
        "reduced_intensity": "Reduced intensity (RIC)",
    },
}
