"""Japanese protocols: JILSG MLL96/98, JPLSG MLL03 and JPLSG MLL-10."""

from __future__ import annotations

from infantall.protocols.conditions import Cmp, In, Param
from infantall.protocols.definitions._common import (
    CNS_DISEASE,
    CNS_DISEASE_PARAM,
    GERMLINE,
    REARRANGED,
    all_,
    any_,
    cite,
    not_,
    seed000,
    seed004,
)
from infantall.protocols.features import CR_TO_HSCT_DAYS
from infantall.protocols.model import Parameter, Protocol, Rule

__all__ = ["JILSG_MLL96_98", "JPLSG_MLL03", "JPLSG_MLL10"]

_MLL96_98 = cite(
    "Tomizawa et al., Leukemia 2007;21:2258 (MLL96/98 final report): stratified by MLL "
    "status only; MLL-r intensive chemotherapy then HSCT, MLL-g chemotherapy alone",
    "https://ashpublications.org/blood/article/108/11/148/126759/"
    "Risk-Stratification-by-MLL-Gene-Status-and-Outcome",
    "V",
)

JILSG_MLL96_98 = Protocol(
    id="jilsg-mll96-98",
    name="JILSG MLL96/MLL98",
    version="1.0.0",
    groups=("KMT2A-g", "KMT2A-r"),
    description="Risk by KMT2A (MLL) status alone; KMT2A-r: chemotherapy then HSCT in CR1.",
    notes=(
        "MLL96 dosed by weight, MLL98 by body surface area (seed 004).",
        "Donor criteria are stated by the seed; whether a donor was available is not a "
        "patient feature, so the HSCT flag names the criteria rather than checking them.",
    ),
    rules=(
        Rule(
            id="jilsg-mll96-98.KMT2A-g",
            label="KMT2A germline: intensive chemotherapy over 83–85 weeks, no HSCT",
            condition=GERMLINE,
            group="KMT2A-g",
            sources=(
                seed004(
                    "Infants with germline MLL received intensive chemotherapy administered "
                    "over 83–85 weeks."
                ),
                _MLL96_98,
            ),
        ),
        Rule(
            id="jilsg-mll96-98.KMT2A-r",
            label="KMT2A-r: induction and three postremission intensification courses, then HSCT",
            condition=REARRANGED,
            group="KMT2A-r",
            sources=(
                seed004(
                    "MLL-rearranged infants received induction and three courses of "
                    "postremission intensification followed by HSCT"
                ),
                _MLL96_98,
            ),
        ),
        Rule(
            id="jilsg-mll96-98.hsct_in_cr1",
            label="HSCT in CR1 if a 5–6/6 HLA-matched related, 6/6-matched unrelated or "
            "4–6/6-matched cord blood donor was available (TBI or busulfan, etoposide, "
            "cyclophosphamide conditioning)",
            condition=REARRANGED,
            flag="hsct_in_cr1",
            sources=(
                seed004(
                    "if a 5–6/6 human leukocyte antigen-matched related, 6/6-matched … "
                    "unrelated or 4–6/6-matched cord blood donor was available."
                ),
                seed000("Intensive chemotherapy followed by HCT in CR1 may be beneficial"),
            ),
        ),
    ),
)

_EARLY_HSCT_QUOTE = seed004(
    "early phase (p4 months after first CR) HSCT to prevent early relapse for "
    "MLL-rearranged infants"
)

JPLSG_MLL03 = Protocol(
    id="jplsg-mll03",
    name="JPLSG MLL03",
    version="1.1.0",
    groups=("not_eligible", "KMT2A-r"),
    description="KMT2A-r infants: short intensive chemotherapy then early HSCT in CR1.",
    parameters=(
        Parameter(
            "early_hsct_days",
            121.75,
            "Days after first CR within which HSCT is 'early phase' (seed 004 '≤ 4 months'; "
            "4 × 30.4375 = 121.75: ≤ 121 days is within 4 months).",
        ),
    ),
    notes=(
        "The ≤ 4-month timing is a rule: hsct_within_4_months_of_cr1 reads the days from the "
        "end-of-induction CR to the first HSCT (cr_to_hsct_days, from the history).",
    ),
    rules=(
        Rule(
            id="jplsg-mll03.not_eligible",
            label="KMT2A germline (MLL03 treated KMT2A-r infants)",
            condition=GERMLINE,
            group="not_eligible",
            sources=(
                cite(
                    "Koh et al., Leukemia 2015;29:290 (MLL03): early allogeneic HSCT for "
                    "MLL-r infants",
                    "https://www.nature.com/articles/leu2014172",
                    "V",
                ),
            ),
        ),
        Rule(
            id="jplsg-mll03.KMT2A-r",
            label="KMT2A-r: early-phase HSCT (≤ 4 months after first CR)",
            condition=REARRANGED,
            group="KMT2A-r",
            sources=(_EARLY_HSCT_QUOTE,),
        ),
        Rule(
            id="jplsg-mll03.early_hsct_in_cr1",
            label="CR reached: HSCT ≤ 4 months after first CR if a ≥ 5/6-matched related or "
            "≥ 4/6-matched unrelated cord blood donor (busulfan, etoposide, cyclophosphamide)",
            condition=all_(REARRANGED, In("induction_response", ("cr",))),
            flag="early_hsct_in_cr1",
            sources=(
                seed004(
                    "If CR was achieved and a X5/6-matched related or X4/6-matched unrelated "
                    "cord blood donor was available, HSCT was performed using a busulphan, "
                    "etoposide and cyclophosphamide protocol-specified conditioning."
                ),
            ),
        ),
        Rule(
            id="jplsg-mll03.hsct_within_4_months_of_cr1",
            label="KMT2A-r in CR with HSCT done ≤ 4 months after first CR (the protocol's "
            "early-phase timing)",
            condition=all_(
                REARRANGED,
                In("induction_response", ("cr",)),
                Cmp(CR_TO_HSCT_DAYS, "<=", Param("early_hsct_days")),
            ),
            flag="hsct_within_4_months_of_cr1",
            sources=(_EARLY_HSCT_QUOTE,),
        ),
    ),
)

_MLL10_ABSTRACT = cite(
    "Tomizawa et al., Blood 2020;136:1813 and ASH 2019 abstract 2626 (MLL-10): LR germline; "
    "IR KMT2A-r, ≥ 180 days, no CNS disease; HR KMT2A-r and (< 180 days or CNS disease); "
    "HSCT in CR1 for HR only",
    "https://ashpublications.org/blood/article/134/Supplement_1/2626/423364/"
    "Intensive-Chemotherapy-Along-with-Aggressive",
    "V",
)
_YOUNG_OR_CNS = any_(Cmp("age_days", "<", 180.0), CNS_DISEASE)

JPLSG_MLL10 = Protocol(
    id="jplsg-mll-10",
    name="JPLSG MLL-10",
    version="1.0.0",
    groups=("LR", "IR", "HR"),
    description="Low/intermediate/high risk by KMT2A status, age 180 days and CNS disease.",
    parameters=(CNS_DISEASE_PARAM,),
    rules=(
        Rule(
            id="jplsg-mll-10.LR",
            label="KMT2A germline",
            condition=GERMLINE,
            group="LR",
            sources=(seed004("MLL germline infants are classified low risk"), _MLL10_ABSTRACT),
        ),
        Rule(
            id="jplsg-mll-10.IR",
            label="KMT2A-r, age ≥ 180 days and no CNS disease",
            condition=all_(REARRANGED, Cmp("age_days", ">=", 180.0), not_(CNS_DISEASE)),
            group="IR",
            sources=(
                seed004(
                    "MLL-rearranged infants X180 days of age with no CNS disease are "
                    "intermediate risk and treated with intensive combination therapy "
                    "without HSCT in first CR."
                ),
                _MLL10_ABSTRACT,
            ),
        ),
        Rule(
            id="jplsg-mll-10.HR",
            label="KMT2A-r and (age < 180 days or CNS disease)",
            condition=all_(REARRANGED, _YOUNG_OR_CNS),
            group="HR",
            sources=(
                seed004(
                    "MLL-rearranged infants o180 days of age or with CNS disease are deemed "
                    "high risk"
                ),
                _MLL10_ABSTRACT,
            ),
        ),
        Rule(
            id="jplsg-mll-10.hsct_in_cr1",
            label="high risk: HSCT in first CR",
            condition=all_(REARRANGED, _YOUNG_OR_CNS),
            flag="hsct_in_cr1",
            sources=(
                seed004(
                    "are deemed high risk and treated with intensive combination therapy with "
                    "HSCT in first CR."
                ),
                _MLL10_ABSTRACT,
            ),
        ),
    ),
)
