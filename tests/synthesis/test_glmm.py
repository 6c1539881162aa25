"""Binomial-normal GLMM meta-analysis against metafor ``rma.glmm(measure="PLO")``.

Reference: ``reference/glmm_metafor.R`` (R 4.2.2, metafor 3.8-1, lme4 1.1-31) on metafor's
``dat.pritz1997`` and a rare-event set.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infantall.errors import InvalidInputError
from infantall.synthesis.glmm import glmm_proportions

REF = json.loads(
    (Path(__file__).parent / "reference" / "glmm_metafor.json").read_text(encoding="utf-8")
)
#: The issue's bound; lme4's optimiser (bobyqa) stops at about 1e-6 on these data.
METAFOR_TOL = 1e-4


@pytest.mark.parametrize("name", ["pritz1997", "rare"])
def test_matches_metafor_rma_glmm(name: str) -> None:
    ref = REF[name]
    fit = glmm_proportions(ref["xi"], ref["ni"])
    assert fit.mu == pytest.approx(ref["beta"], abs=METAFOR_TOL)
    assert fit.se == pytest.approx(ref["se"], abs=METAFOR_TOL)
    assert fit.tau2 == pytest.approx(ref["tau2"], abs=METAFOR_TOL)
    assert fit.estimate_pct == pytest.approx(ref["pct"], abs=100 * METAFOR_TOL)


def test_pritz_glmm_is_the_published_79_8_percent() -> None:
    """The issue: pritz1997 pooled 79.8 % with the GLMM (75.7 % with logit REML)."""
    ref = REF["pritz1997"]
    assert round(glmm_proportions(ref["xi"], ref["ni"]).estimate_pct, 1) == 79.8


def test_log_likelihood_at_tau_zero_matches_metafor() -> None:
    ref = REF["rare"]
    assert glmm_proportions(ref["xi"], ref["ni"]).loglik == pytest.approx(ref["loglik"], abs=1e-6)


def test_more_nodes_converge() -> None:
    ref = REF["pritz1997"]
    exact = glmm_proportions(ref["xi"], ref["ni"], nodes=30)
    assert glmm_proportions(ref["xi"], ref["ni"], nodes=20).mu == pytest.approx(exact.mu, abs=1e-7)


@pytest.mark.parametrize(
    ("events", "n", "code"),
    [([5, 12], [10, 10], "events_exceed_n"), ([-1, 2], [10, 10], "negative_count"),
     ([1], [10], "too_few_studies")],
)  # fmt: skip
def test_bad_input(events: list[int], n: list[int], code: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        glmm_proportions(events, n)
    assert err.value.code == code
