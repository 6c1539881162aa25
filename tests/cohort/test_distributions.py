"""Diagnosis features: shares and correlations within Monte-Carlo tolerance of the model.

Targets are the model's published inputs (infantall.cohort.features.FeatureModel, with
sources: Interfant-06 KMT2A-r 74%, fusion partners from Interfant-99 / COG P9407, PPR ~25%
in BFM infants). Each share is checked within :data:`Z` binomial standard errors of its
expected value at the cohort's size.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from infantall.cohort import FeatureModel, SyntheticCohort
from infantall.cohort.features import age_pmf, kmt2a_r_probability, prob_high_wbc
from infantall.cohort.risk import expected_group_shares

#: Tolerance in binomial SEs: a correct generator fails a single check with probability
#: below 1e-4, and a real error (a share off by 2 points) is still caught at n = 20,000.
Z = 4.0

MODEL = FeatureModel()


def _close(observed: float, expected: float, n: int) -> bool:
    se = math.sqrt(expected * (1.0 - expected) / n)
    return abs(observed - expected) <= Z * se


def test_kmt2a_r_share_and_more_frequent_under_six_months(large_i06: SyntheticCohort) -> None:
    p = large_i06.patients
    r = (p["kmt2a"] == "rearranged").to_numpy()
    assert _close(r.mean(), 0.74, len(p))  # Interfant-06: 476/643 = 74%
    young = p["age_days"].to_numpy() < 183
    assert r[young].mean() > r[~young].mean() + 0.15
    assert _close(r[young].mean(), MODEL.kmt2a_r_under_6m, int(young.sum()))


def test_fusion_partner_shares_and_mllt3_older(large_i06: SyntheticCohort) -> None:
    p = large_i06.patients
    r = p[p["kmt2a"] == "rearranged"]
    shares = r["fusion_partner"].astype(str).value_counts(normalize=True)
    for partner, expected in zip(
        ("AFF1", "MLLT1", "MLLT3", "MLLT10", "other"), MODEL.partner_shares, strict=True
    ):
        assert _close(float(shares[partner]), expected, len(r)), partner
    age = r.groupby("fusion_partner", observed=True)["age_days"].mean()
    assert age["MLLT3"] > age["AFF1"] + 20
    assert (p.loc[p["kmt2a"] == "germline", "fusion_partner"] == "none").all()


def test_wbc_log_normal_and_higher_in_kmt2a_r(large_i06: SyntheticCohort) -> None:
    p = large_i06.patients
    r = p["kmt2a"] == "rearranged"
    median_r = float(p.loc[r, "wbc"].median())
    median_g = float(p.loc[~r, "wbc"].median())
    assert median_r > 4 * median_g
    # log-normal: the log has the model's sigma (SE of an SD ~ sigma / sqrt(2n))
    log_sd = float(np.log(p.loc[r, "wbc"]).std())
    assert abs(log_sd - MODEL.log_wbc_r[1]) < Z * MODEL.log_wbc_r[1] / math.sqrt(2 * r.sum())
    high = float((p.loc[r, "wbc"] >= 300).mean())
    assert _close(high, prob_high_wbc(MODEL.log_wbc_r), int(r.sum()))


def test_cd10_negative_mostly_in_kmt2a_r(large_i06: SyntheticCohort) -> None:
    p = large_i06.patients
    neg = p["cd10"] == "negative"
    r = p["kmt2a"] == "rearranged"
    assert _close(float(neg[r].mean()), MODEL.cd10_negative_r, int(r.sum()))
    assert _close(float(neg[~r].mean()), MODEL.cd10_negative_g, int((~r).sum()))
    assert float(r[neg].mean()) > 0.85
    assert (p.loc[neg, "immunophenotype"] == "pro_b").all()


def test_cns3_a_few_percent_and_ppr_about_a_quarter(large_i06: SyntheticCohort) -> None:
    p = large_i06.patients
    cns3 = float((p["cns"] == "CNS3").mean())
    assert 0.01 < cns3 < 0.06
    ppr = float((p["prednisone_response"] == "poor").mean())
    assert abs(ppr - 0.25) < 0.02  # BFM infants: PPR 26% (domain-facts.md §3)
    blasts_poor = p["day8_blasts"] >= 1000
    assert ((p["prednisone_response"] == "poor") == blasts_poor).all()
    m3 = p.groupby("prednisone_response", observed=True)["day15_marrow"].apply(
        lambda s: float((s == "M3").mean())
    )
    assert m3["poor"] > m3["good"]


def test_congenital_share_near_interfant_99(large_i06: SyntheticCohort) -> None:
    expected = float(age_pmf(MODEL)[:30].sum())
    assert abs(expected - 30 / 482) < 0.01  # Interfant-99: 30/482 congenital (< 1 month)
    observed = float((large_i06.patients["age_days"] < 30).mean())
    assert _close(observed, expected, len(large_i06.patients))


@pytest.mark.parametrize("protocol", ["interfant-06", "mll-10"])
def test_group_shares_match_their_exact_expectation(
    protocol: str, large_i06: SyntheticCohort, large_mll10: SyntheticCohort
) -> None:
    cohort = large_i06 if protocol == "interfant-06" else large_mll10
    observed = cohort.patients["risk_group"].astype(str).value_counts(normalize=True)
    for group, expected in expected_group_shares(MODEL, protocol).items():
        assert _close(float(observed[group]), expected, len(cohort.patients)), group


def test_expected_kmt2a_share_is_exact() -> None:
    joint = age_pmf(MODEL) * kmt2a_r_probability(MODEL)
    assert joint.sum() == pytest.approx(MODEL.kmt2a_r_share, abs=1e-12)
    assert age_pmf(MODEL).sum() == pytest.approx(1.0, abs=1e-12)
