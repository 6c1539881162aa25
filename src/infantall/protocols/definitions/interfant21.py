"""Interfant-21 (NCT05327894), as far as its rules are public.

Sources: the GPOH childhood-cancer trials portal entry (German and English pages) states the
risk groups; the NCT05327894 registry record states the blinatumomab and HSCT logic
(``shared/research/anchors-next.md`` finding 6, ``domain-facts.md`` §1.3).

Where the sources disagree:

- WBC for high risk: the German page says "WBC über 300" (over 300), the registry-based
  summary and Interfant-06 say ≥ 300; the English page prints "WBC under 300" for HR, which
  contradicts its own MR definition (age < 6 months AND WBC under 300 AND prednisone good
  response) and is read as a translation error. Reading chosen: ≥ 300 as in Interfant-06,
  the operator a parameter (``wbc_operator``: '>' reproduces the German wording).
- Re-allocation of MR to HR: the GPOH pages say MRD "> 0.01 %" after the first
  blinatumomab course; the registry says "insufficient MRD response" with MRD-negative
  defined as < 0.01 %, i.e. ≥ 0.01 % is insufficient. Reading chosen: '>' (the source that
  states the rule); parameter ``reallocation_operator``.
"""

from __future__ import annotations

from infantall.protocols.conditions import Cmp, In, Param
from infantall.protocols.definitions._common import (
    GERMLINE,
    MRD_THRESHOLD_PARAM,
    REARRANGED,
    SIX_MONTHS_PARAM,
    WBC_OPERATOR_PARAM,
    all_,
    any_,
    cite,
    not_,
)
from infantall.protocols.definitions.interfant import I06_HR_FEATURES
from infantall.protocols.model import Parameter, Protocol, Rule

__all__ = ["INTERFANT_21"]

_GPOH = cite(
    "GPOH trials portal, Interfant-21 (German page): HR = KMT2A-r and age < 6 months and "
    "(WBC über 300 × 10^9/L and/or prednisone poor response); MR = all other KMT2A-r, split "
    "into MR-low / MR-high by MRD at the end of induction (0.05 %); MR moved to HR treatment "
    "when not in CR at the end of induction or MRD > 0.01 % after blinatumomab cycle 1",
    "https://gpoh.de/kinderkrebsinfo/content/fachinformationen/studienportal/"
    "onkologische_studien_und_register/interfant_21/index_ger.html",
    "P",
    "read through shared/research/anchors-next.md finding 6; the English page "
    "(.../health_professionals/clinical_trials/therapy_trials_and_registries/interfant_21/"
    "index_eng.html) prints 'WBC under 300' for HR, contradicting its MR rule: taken as a "
    "translation error",
)
_REGISTRY = cite(
    "Interfant-21, NCT05327894 registry record: one blinatumomab cycle for all after "
    "induction; HR eligible for allo-SCT after cycle 1 if MRD-negative (< 0.01%); MR with "
    "insufficient MRD response after induction or cycle 1 re-allocated to HR (allo-SCT "
    "eligible); MR responding well: a second blinatumomab cycle",
    "https://trials.cancervic.org.au/details/vctl_nct05327894",
    "V",
)
_POPULATION = cite(
    "Interfant-21, NCT05327894: newly diagnosed KMT2A-r B-precursor ALL or B-MPAL "
    "≤ 365 days; KMT2A-germline excluded",
    "https://www.clinicaltrialexchange.com/clinical-trials/Interfant-21-Treatment-Protocol-"
    "for-Infants-Under-1-Year-With-KMT2A-rearranged-ALL-or-Mixed-Phenotype-Acute-Leukemia/"
    "NCT05327894",
    "V",
)

_NO_CR = In("induction_response", ("no_cr",))
_CR = In("induction_response", ("cr",))
_MRD_BLIN = "mrd_after_blinatumomab_1"
_INSUFFICIENT = any_(
    _NO_CR, Cmp(_MRD_BLIN, Param("reallocation_operator"), Param("reallocation_mrd"))
)
_MR = all_(REARRANGED, not_(I06_HR_FEATURES))
_MR_STAYS = all_(
    _MR, _CR, not_(Cmp(_MRD_BLIN, Param("reallocation_operator"), Param("reallocation_mrd")))
)
_EOI_HIGH = Cmp("mrd_end_of_induction", ">=", Param("mr_split_mrd"))

INTERFANT_21 = Protocol(
    id="interfant-21",
    name="Interfant-21",
    version="0.2.0",
    groups=("not_eligible", "MR-low", "MR-high", "HR"),
    partial=True,
    description="Blinatumomab-based protocol for KMT2A-r infants; rules as far as public.",
    parameters=(
        SIX_MONTHS_PARAM,
        WBC_OPERATOR_PARAM,
        MRD_THRESHOLD_PARAM,
        Parameter(
            "reallocation_mrd",
            1e-4,
            "MRD fraction after blinatumomab cycle 1 beyond which MR moves to HR (GPOH: "
            "'> 0.01 %').",
        ),
        Parameter(
            "reallocation_operator",
            ">",
            "'>' (GPOH '> 0.01 %', chosen) or '>=' (registry: MRD-negative is < 0.01 %, so "
            "≥ 0.01 % is an insufficient response).",
            (">", ">="),
        ),
        Parameter(
            "mr_split_mrd",
            5e-4,
            "End-of-induction MRD fraction at and above which MR is MR-high (GPOH: split at "
            "0.05 %; which side 0.05 % itself falls on is not stated: MR-high chosen).",
        ),
    ),
    notes=(
        "Partial: the MR-low/MR-high treatment difference, the exact MRD time points and "
        "methods, and the statistical design are not public.",
        "HR when not in CR at the end of induction or MRD above 0.01 % after blinatumomab "
        "cycle 1 (MR re-allocated to HR); the MR groups need both to be known.",
        "Patients excluded from blinatumomab (CD19-negative, CNS2/3 at the end of induction) "
        "have no MRD after cycle 1: their MR groups stay indeterminate.",
        "Sources disagree on the WBC wording (German 'über 300', English 'under 300', "
        "registry/Interfant-06 '≥ 300'): ≥ 300 is used, '>' is the parameter value for the "
        "German wording; the English wording is read as a translation error.",
    ),
    rules=(
        Rule(
            id="interfant-21.not_eligible",
            label="KMT2A germline (excluded from Interfant-21)",
            condition=GERMLINE,
            group="not_eligible",
            sources=(_POPULATION,),
        ),
        Rule(
            id="interfant-21.HR",
            label="KMT2A-r and (age < 6 months and (WBC ≥ 300 × 10^9/L and/or PPR); or no CR at "
            "the end of induction; or MRD > 0.01 % after blinatumomab cycle 1: MR re-allocated)",
            condition=all_(REARRANGED, any_(I06_HR_FEATURES, _INSUFFICIENT)),
            group="HR",
            sources=(_GPOH, _REGISTRY),
        ),
        Rule(
            id="interfant-21.MR-high",
            label="other KMT2A-r, CR, MRD ≤ 0.01 % after blinatumomab cycle 1, end-of-induction "
            "MRD ≥ 0.05 %",
            condition=all_(_MR_STAYS, _EOI_HIGH),
            group="MR-high",
            sources=(_GPOH,),
        ),
        Rule(
            id="interfant-21.MR-low",
            label="other KMT2A-r, CR, MRD ≤ 0.01 % after blinatumomab cycle 1, end-of-induction "
            "MRD < 0.05 %",
            condition=all_(_MR_STAYS, not_(_EOI_HIGH)),
            group="MR-low",
            sources=(_GPOH,),
        ),
        Rule(
            id="interfant-21.hsct_eligible",
            label="allo-SCT eligible: HR by baseline criteria and MRD-negative (< 0.01 %) after "
            "blinatumomab cycle 1, or MR re-allocated to HR",
            condition=any_(
                all_(REARRANGED, I06_HR_FEATURES, Cmp(_MRD_BLIN, "<", Param("mrd_threshold"))),
                all_(_MR, _INSUFFICIENT),
            ),
            flag="hsct_eligible",
            sources=(_REGISTRY, _GPOH),
        ),
        Rule(
            id="interfant-21.second_blinatumomab_cycle",
            label="MR responding well to cycle 1: a second blinatumomab cycle",
            condition=_MR_STAYS,
            flag="second_blinatumomab_cycle",
            sources=(_REGISTRY,),
        ),
    ),
)
