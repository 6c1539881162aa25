"""Interfant-99, Interfant-06 and Interfant-21 (partial)."""

from __future__ import annotations

from infantall.protocols.conditions import Cmp, Param
from infantall.protocols.definitions._common import (
    AGE_LT_6_MONTHS,
    GERMLINE,
    MRD_THRESHOLD_PARAM,
    PGR,
    PPR,
    REARRANGED,
    SIX_MONTHS_PARAM,
    WBC_300,
    WBC_OPERATOR_PARAM,
    all_,
    any_,
    cite,
    not_,
    seed004,
)
from infantall.protocols.features import MRD_AFTER_CONSOLIDATION
from infantall.protocols.model import Protocol, Rule

__all__ = ["I06_HR_FEATURES", "INTERFANT_06", "INTERFANT_99"]

_PREDNISONE_DEFINITION = cite(
    "Dördelmann et al., Blood 1999;94:1209 (BFM): PGR < 1,000 blasts/µL on day 8, "
    "PPR ≥ 1,000/µL (domain-facts.md §1.1, §3)",
    "http://ashpublications.net/blood/article/94/4/1209/249670/"
    "Prednisone-Response-Is-the-Strongest-Predictor-of",
    "V",
)
_MANN_2010 = cite(
    "Mann et al., Blood 2010;116:2644: HSCT benefit confined to MLL+ and age < 6 months and "
    "(poor steroid response at day 8 or WBC ≥ 300 × 10^9/L); HR 0.36 (0.15–0.86)",
    "http://ashpublications.com/blood/article/116/15/2644/27654/"
    "Improved-outcome-with-hematopoietic-stem-cell",
    "V",
)
_ASH_2018 = cite(
    "Pieters et al., ASH 2018 abstract 655 (Interfant-06): LR KMT2A germline; HR "
    "KMT2A-r + age < 6 months + WBC > 300 or PPR; MR all other KMT2A-r; SCT for HR and for "
    "MR with MRD ≥ 10^-4 at the start of OCTADAD",
    "https://ashpublications.org/blood/article/132/Supplement%201/655/266098/"
    "Outcome-of-Infants-Younger-Than-1-Year-with-Acute",
    "D",
    "JCO 2019 abstract mirrors say 'older than 6 months' and 'WBC 300 or more'; 'younger' "
    "(as in Interfant-99's HSCT subgroup) is taken, WBC operator is a parameter",
)

_HSCT_SUBGROUP = all_(REARRANGED, AGE_LT_6_MONTHS, any_(PPR, WBC_300))

INTERFANT_99 = Protocol(
    id="interfant-99",
    name="Interfant-99",
    version="1.0.0",
    groups=("SR", "HR"),
    description="Standard vs high risk by the day-8 response to a 7-day prednisone prophase.",
    parameters=(SIX_MONTHS_PARAM, WBC_OPERATOR_PARAM),
    rules=(
        Rule(
            id="interfant-99.SR",
            label="prednisone good response (day-8 blasts < 1,000/µL)",
            condition=PGR,
            group="SR",
            sources=(
                seed004(
                    "all infants received a 7-day prednisone prophase with stratification into "
                    "standard- and high-risk groups determined by day 8 peripheral blood blast "
                    "count (o/X1000 cells/ml, respectively)"
                ),
                _PREDNISONE_DEFINITION,
            ),
        ),
        Rule(
            id="interfant-99.HR",
            label="prednisone poor response (day-8 blasts ≥ 1,000/µL)",
            condition=PPR,
            group="HR",
            sources=(
                seed004(
                    "stratification into standard- and high-risk groups determined by day 8 "
                    "peripheral blood blast count (o/X1000 cells/ml, respectively)"
                ),
                _PREDNISONE_DEFINITION,
            ),
        ),
        Rule(
            id="interfant-99.hsct_option",
            label="high risk: option of HSCT at the end of reinduction if a suitable donor",
            condition=PPR,
            flag="hsct_option",
            sources=(
                seed004(
                    "High-risk infants had the option of receiving HSCT at the end of "
                    "reinduction if a suitable donor was available"
                ),
            ),
        ),
        Rule(
            id="interfant-99.hsct_benefit_subgroup",
            label="KMT2A-r and age < 6 months and (PPR or WBC ≥ 300 × 10^9/L): the subgroup "
            "where HSCT in CR1 significantly improved DFS and OS (seed 004; Mann 2010)",
            condition=_HSCT_SUBGROUP,
            flag="hsct_benefit_subgroup",
            sources=(
                seed004(
                    "there was significantly improved DFS and OS for a subgroup of high-risk "
                    "MLL-rearranged infants with unfavorable prognostic "
                    "features, including age o6 months and either poor day 8 prednisone "
                    "response or WBC X300 g/l at diagnosis"
                ),
                _MANN_2010,
            ),
        ),
    ),
)

I06_HR_FEATURES = all_(AGE_LT_6_MONTHS, any_(WBC_300, PPR))
_I06_HR = all_(REARRANGED, I06_HR_FEATURES)
_I06_MR = all_(REARRANGED, not_(I06_HR_FEATURES))
_MRD_OCTADAD = Cmp(MRD_AFTER_CONSOLIDATION, ">=", Param("mrd_threshold"))

INTERFANT_06 = Protocol(
    id="interfant-06",
    name="Interfant-06",
    version="1.1.0",
    groups=("LR", "MR", "HR"),
    description="Low/medium/high risk by KMT2A status, age, WBC and prednisone response.",
    parameters=(SIX_MONTHS_PARAM, WBC_OPERATOR_PARAM, MRD_THRESHOLD_PARAM),
    notes=(
        "'MRD following consolidation' (seed 004) is read as everywhere in infantall: "
        "mrd_after_consolidation = the end-of-consolidation result, else the start-of-OCTADAD "
        "result (the time point ASH 2018 names for the HSCT rule).",
        "Decisions are exact: an MR/HR-undetermined KMT2A-r infant with MRD ≥ 10^-4 after "
        "consolidation is HSCT-eligible in either group, so hsct_eligible is raised.",
    ),
    rules=(
        Rule(
            id="interfant-06.LR",
            label="KMT2A germline",
            condition=GERMLINE,
            group="LR",
            sources=(
                seed004("stratifies infants into low risk (MLL germ- line)"),
                _ASH_2018,
            ),
        ),
        Rule(
            id="interfant-06.HR",
            label="KMT2A-r and age < 6 months and (WBC ≥ 300 × 10^9/L or PPR)",
            condition=_I06_HR,
            group="HR",
            sources=(
                seed004(
                    "high risk (MLL-rearranged and age o6 months and WBC X300� 109/l at "
                    "diagnosis and/or poor day 8 prednisone response)"
                ),
                _ASH_2018,
            ),
        ),
        Rule(
            id="interfant-06.MR",
            label="all other KMT2A-r",
            condition=_I06_MR,
            group="MR",
            sources=(seed004("and medium risk (all other cases)"), _ASH_2018),
        ),
        Rule(
            id="interfant-06.hsct_eligible",
            label="HSCT eligible: all HR, and MR with MRD ≥ 10^-4 after consolidation",
            condition=any_(_I06_HR, all_(_I06_MR, _MRD_OCTADAD)),
            flag="hsct_eligible",
            sources=(
                seed004(
                    "with medium-risk infants with MRD X10� 4 following consolidation and all "
                    "high-risk infants also eligible for HSCT after consolidation"
                ),
                _ASH_2018,
            ),
        ),
    ),
)
