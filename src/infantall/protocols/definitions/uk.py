"""UK MRC Childhood Leukaemia Working Party Infant 87 and Infant 92 (seed 004)."""

from __future__ import annotations

from infantall.protocols.conditions import In
from infantall.protocols.definitions._common import REARRANGED, all_, seed004
from infantall.protocols.model import Protocol, Rule

__all__ = ["UK_INFANT_87_92"]

_CR = In("induction_response", ("cr",))

UK_INFANT_87_92 = Protocol(
    id="uk-infant-87-92",
    name="UK CLWP Infant 87 / Infant 92",
    version="1.0.0",
    groups=(),
    description="HSCT rules of the two UK infant studies (no risk groups: flags only).",
    notes=(
        "Flags only: neither study stratified by risk; every patient gets 'not_applicable'.",
        "Donor availability is not a patient feature: the flags name the donor criterion "
        "rather than checking it.",
        "Post-remission options need a first CR: Infant 87's flag reads the end-of-induction "
        "response.",
        "UK CLWP studies included 9 patients aged 12–18 months (seed 004, Table 2 note); "
        "infantall's domain takes ages 0–365 days only.",
    ),
    rules=(
        Rule(
            id="uk-infant-87-92.infant87_hsct_matched_sibling",
            label="Infant 87: post-remission therapy not standardised; options included HSCT "
            "with a matched sibling donor, high-dose chemotherapy with autologous rescue, or "
            "standard continuation",
            condition=_CR,
            flag="infant87_hsct_matched_sibling",
            sources=(
                seed004(
                    "Subsequent therapy was not standardized and options included HSCT for "
                    "infants with a matched sibling donor, high-dose chemotherapy and "
                    "autologous stem cell rescue or standard continuation."
                ),
            ),
        ),
        Rule(
            id="uk-infant-87-92.infant92_hsct_permitted",
            label="Infant 92: HSCT permitted for KMT2A-r infants with a matched donor",
            condition=all_(REARRANGED, _CR),
            flag="infant92_hsct_permitted",
            sources=(
                seed004("HSCT was permitted for MLL-rearranged infants with a matched donor."),
            ),
        ),
    ),
)
