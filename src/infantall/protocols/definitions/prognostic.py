"""Prognostic-factor flags named in the seeds (no groups: one flag per adverse factor)."""

from __future__ import annotations

from infantall.protocols.conditions import Cmp, In, Param
from infantall.protocols.definitions._common import (
    AGE_LT_6_MONTHS,
    CNS_DISEASE,
    CNS_DISEASE_PARAM,
    MRD_THRESHOLD_PARAM,
    PPR,
    REARRANGED,
    SIX_MONTHS_PARAM,
    WBC_300,
    WBC_OPERATOR_PARAM,
    cite,
    seed000,
    seed004,
)
from infantall.protocols.features import MRD_AFTER_CONSOLIDATION
from infantall.protocols.model import Parameter, Protocol, Rule

__all__ = ["PROGNOSTIC_FACTORS"]

_INDEPENDENT = seed004(
    "Presence of a mixed lineage leukemia (MLL) rearrangement,9 hyperleukocytosis at "
    "presentation,10 absence of CD10 antigen,10 age o6 months at diagnosis11 and poor "
    "response to initial prednisone therapy11 were independently associated with an "
    "inferior outcome."
)
_CCG = seed004(
    "identified several prognostic factors associated with poor outcome, including age o6 "
    "months at diagnosis, with the most inferior outcome in those o3 months, CD10 negativity, "
    "failure of morphological remission on day 14 marrow, WBC 450� 109/l at diagnosis and "
    "presence of the t(4;11) MLL rearrangement."
)

_CONGENITAL = cite(
    "van der Linden et al., Blood 2009;114:3764 (Interfant-99): congenital ALL = diagnosed "
    "in the first month of life; 30 patients, 2-year EFS 20% (SE 9.1), 2-year CIR 60.0% vs "
    "34.2% in older infants",
    "http://ashpublications.com/blood/article/114/18/3764/26561/"
    "Outcome-of-congenital-acute-lymphoblastic-leukemia",
    "V",
    "'first month of life' read as the neonatal period, < 28 days (parameter congenital_days)",
)


def _flag(name: str, label: str, condition: object, *sources: object) -> Rule:
    return Rule(
        id=f"prognostic-factors.{name}",
        label=label,
        condition=condition,  # type: ignore[arg-type]
        flag=name,
        sources=sources,  # type: ignore[arg-type]
    )


PROGNOSTIC_FACTORS = Protocol(
    id="prognostic-factors",
    name="Prognostic factors",
    version="1.1.0",
    groups=(),
    description="Adverse prognostic factors named in the seeds, as flags (no risk group).",
    parameters=(
        SIX_MONTHS_PARAM,
        Parameter(
            "three_months_days",
            91.3125,
            "Days that make '3 months' (3 × 30.4375 = 91.3125: ≤ 91 days is < 3 months).",
        ),
        Parameter(
            "age_90_days_operator",
            "<",
            "'<' (AALL0631 HR 'o90 days', i.e. < 90) or '<=' (P9407 'aged ≤ 90 days').",
            ("<", "<="),
        ),
        WBC_OPERATOR_PARAM,
        CNS_DISEASE_PARAM,
        Parameter(
            "day15_marrow_adverse",
            ("M3",),
            "Day-14/15 marrow classes counted as adverse: ('M3',) or, for 'failure of "
            "morphological remission', ('M2', 'M3').",
            (("M3",), ("M2", "M3")),
        ),
        MRD_THRESHOLD_PARAM,
        Parameter(
            "congenital_days",
            28.0,
            "Congenital ALL is ALL diagnosed in the first month of life (van der Linden, "
            "Blood 2009;114:3764); read as the neonatal period, age < 28 days (days 0–27).",
        ),
    ),
    notes=(
        "Flags only: every patient gets the group 'not_applicable'.",
        "'MRD following consolidation' is mrd_after_consolidation (the end-of-consolidation "
        "result, else start of OCTADAD), the reading shared with Interfant-06.",
    ),
    rules=(
        _flag("kmt2a_rearranged", "KMT2A (MLL) rearrangement", REARRANGED, _INDEPENDENT),
        _flag("age_lt_6_months", "age < 6 months at diagnosis", AGE_LT_6_MONTHS, _INDEPENDENT),
        _flag(
            "age_lt_3_months",
            "age < 3 months at diagnosis",
            Cmp("age_days", "<", Param("three_months_days")),
            _CCG,
        ),
        _flag(
            "age_lt_90_days",
            "age < 90 days at diagnosis",
            Cmp("age_days", Param("age_90_days_operator"), 90.0),
            seed004("high risk (MLL-rearranged, o90 days at diagnosis)"),
            seed000("Poor prognosis of infants aged ≤ 90 days"),
        ),
        _flag(
            "wbc_ge_300",
            "WBC ≥ 300 × 10^9/L (Interfant)",
            WBC_300,
            seed004(
                "with CD10 negativity and WBC X300� 109/l at diagnosis also identified on "
                "univariate analysis"
            ),
        ),
        _flag("wbc_gt_50", "WBC > 50 × 10^9/L (CCG)", Cmp("wbc", ">", 50.0), _CCG),
        _flag("cd10_negative", "CD10 negative", In("cd10", ("negative",)), _INDEPENDENT),
        _flag("poor_prednisone_response", "day-8 prednisone poor response", PPR, _INDEPENDENT),
        _flag(
            "cns_disease",
            "CNS disease at diagnosis",
            CNS_DISEASE,
            seed004(
                "Age o6 months, presence of CNS disease and hyperleukocytosis at diagnosis "
                "identified as independent adverse prognostic factors"
            ),
        ),
        _flag(
            "day15_m3_marrow",
            "day-14/15 marrow not in remission (M3)",
            In("day15_marrow", Param("day15_marrow_adverse")),
            _CCG,
        ),
        _flag(
            "mrd_ge_1e-4_after_consolidation",
            "MRD ≥ 10^-4 after consolidation",
            Cmp(MRD_AFTER_CONSOLIDATION, ">=", Param("mrd_threshold")),
            seed004("All infants who had MRD X10� 4 following consolidation relapsed"),
        ),
        _flag(
            "congenital",
            "congenital ALL: diagnosed in the first month of life (age < 28 days)",
            Cmp("age_days", "<", Param("congenital_days")),
            seed004("Risk of relapse significantly higher for congenital ALL"),
            _CONGENITAL,
        ),
        _flag("t_4_11", "t(4;11) (KMT2A::AFF1)", In("fusion_partner", ("AFF1",)), _CCG),
    ),
)
