"""North American protocols: CCG-1953 / POG 9407 and COG AALL0631."""

from __future__ import annotations

from infantall.protocols.conditions import Cmp
from infantall.protocols.definitions._common import (
    GERMLINE,
    REARRANGED,
    all_,
    cite,
    seed000,
    seed004,
)
from infantall.protocols.model import Protocol, Rule

__all__ = ["CCG_1953_POG_9407", "COG_AALL0631"]

_DREYER_2011 = cite(
    "Dreyer et al., JCO 2011;29:214: MLL-r infants with an appropriate donor; HSCT preferred "
    "on CCG 1953, investigator option on POG 9407; 53 of 189 infants transplanted",
    "http://pubmedcentralcanada.ca/pmcc/articles/PMC3058277/?lang=en-ca",
    "V",
)

CCG_1953_POG_9407 = Protocol(
    id="ccg-1953-pog-9407",
    name="CCG-1953 / POG 9407",
    version="1.0.0",
    groups=("KMT2A-g", "KMT2A-r"),
    description="Chemotherapy for all; HSCT in CR1 for KMT2A-r infants with a matched donor.",
    notes=(
        "Donor availability and HSCT scheduling are not patient features: the HSCT flags "
        "name the criteria rather than checking them.",
    ),
    rules=(
        Rule(
            id="ccg-1953-pog-9407.KMT2A-g",
            label="KMT2A germline: chemotherapy only",
            condition=GERMLINE,
            group="KMT2A-g",
            sources=(_DREYER_2011,),
        ),
        Rule(
            id="ccg-1953-pog-9407.KMT2A-r",
            label="KMT2A-r: HSCT candidate",
            condition=REARRANGED,
            group="KMT2A-r",
            sources=(
                seed004(
                    "HSCT was the preferred treatment for infants with MLL rearrangements on "
                    "CCG-1953, whereas on POG 9407 transplantation was an investigator option."
                ),
                _DREYER_2011,
            ),
        ),
        Rule(
            id="ccg-1953-pog-9407.hsct_preferred_ccg1953",
            label="CCG-1953: HSCT preferred if schedulable by 4 months of study entry with a "
            "5–6/6 HLA related or unrelated matched donor",
            condition=REARRANGED,
            flag="hsct_preferred_ccg1953",
            sources=(
                seed004(
                    "(HSCT) was examined for MLL-rearranged infants for whom HSCT could be "
                    "scheduled by 4 months of study entry and a 5–6/6 human leukocyte antigen "
                    "related or unrelated matched donor was available."
                ),
            ),
        ),
        Rule(
            id="ccg-1953-pog-9407.hsct_option_pog9407",
            label="POG 9407: HSCT at the investigator's option",
            condition=REARRANGED,
            flag="hsct_option_pog9407",
            sources=(
                seed004("whereas on POG 9407 transplantation was an investigator option"),
                seed000("No benefit of HCT"),
            ),
        ),
        Rule(
            id="ccg-1953-pog-9407.high_early_death_risk",
            label="age ≤ 90 days: early-death rate 58.8% vs 13.7% on POG 9407 cohorts 1–2",
            condition=Cmp("age_days", "<=", 90.0),
            flag="high_early_death_risk",
            sources=(
                seed004(
                    "there was a high early death rate (25%), defined as within 90 days of "
                    "enrollment, particularly among infantsp90 days of age (58.8% vs 13.7%)"
                ),
            ),
        ),
    ),
)

_UTSW = cite(
    "COG AALL0631 study record (UT Southwestern): SR KMT2A germline; IR KMT2A-r and age "
    "≥ 90 days; HR KMT2A-r and age < 90 days; indeterminate MLL status off study",
    "http://www.utswmedicine.org/conditions-specialties/cancer/clinical-trials/"
    "fact-detail.html?primarypurpose=10&studyId=STU%20092010-221",
    "V",
)

COG_AALL0631 = Protocol(
    id="cog-aall0631",
    name="COG AALL0631",
    version="1.0.0",
    groups=("SR", "IR", "HR"),
    description="Standard/intermediate/high risk by KMT2A status and age 90 days.",
    notes=(
        "The protocol takes patients with indeterminate KMT2A status off study; here an "
        "unknown KMT2A status gives 'indeterminate' (missing kmt2a).",
        "The 25% dose reduction for infants < 7 days came with the amendment to induction "
        "(after excessive toxicity, all infants moved to an Interfant-99-based induction); "
        "stated by seed 004 only (domain-facts.md §1.6: not found elsewhere).",
    ),
    rules=(
        Rule(
            id="cog-aall0631.SR",
            label="KMT2A germline",
            condition=GERMLINE,
            group="SR",
            sources=(
                seed004("Infants are classified as standard risk (MLL-nonrearranged)"),
                _UTSW,
            ),
        ),
        Rule(
            id="cog-aall0631.IR",
            label="KMT2A-r and age ≥ 90 days at diagnosis",
            condition=all_(REARRANGED, Cmp("age_days", ">=", 90.0)),
            group="IR",
            sources=(seed004("intermediate risk (MLL-rearranged, X90 days at diagnosis)"), _UTSW),
        ),
        Rule(
            id="cog-aall0631.HR",
            label="KMT2A-r and age < 90 days at diagnosis",
            condition=all_(REARRANGED, Cmp("age_days", "<", 90.0)),
            group="HR",
            sources=(seed004("risk (MLL-rearranged, o90 days at diagnosis)"), _UTSW),
        ),
        Rule(
            id="cog-aall0631.dose_reduction_25pct",
            label="age < 7 days at diagnosis: all non-intrathecal chemotherapy doses reduced "
            "by 25% (from the amendment that moved all infants to an Interfant-99-based "
            "induction)",
            condition=Cmp("age_days", "<", 7.0),
            flag="dose_reduction_25pct",
            sources=(
                seed004(
                    "the study was amended for all infants to receive an Interfant-99-based "
                    "induction, modified to eliminate the steroid taper, reduce all "
                    "nonintrathecal chemotherapy doses by 25% for infants o7 days old at "
                    "diagnosis"
                ),
            ),
        ),
    ),
)
