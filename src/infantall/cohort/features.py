"""Diagnosis features of synthetic infants: distributions, correlations and their sources.

Every parameter of :class:`FeatureModel` names where its value comes from: a published
figure (``shared/research/domain-facts.md`` with the trial it quotes) or, where no figure was
found, a stated modelling assumption. The draws are vectorised over the cohort and all use the
one :class:`numpy.random.Generator` passed in; the expected shares that the outcome
calibration needs (:func:`expected_shares`) are computed exactly from the same parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from infantall.cohort._util import categorical

__all__ = [
    "FUSION_PARTNERS",
    "SIX_MONTHS_DAYS",
    "FeatureModel",
    "age_pmf",
    "draw_features",
    "kmt2a_r_probability",
    "partner_probabilities",
    "prob_high_wbc",
]

#: Age in days that splits "younger than 6 months" in the feature model and in the fallback
#: Interfant-06 grouping. The seeds give no day count (domain-facts.md §5 item 1): 183 is
#: half of 365 rounded up; MLL-10 uses its own 180 (domain-facts.md §1.4).
SIX_MONTHS_DAYS = 183

#: Fusion partners of KMT2A-r drawn by the model (domain ``FusionPartner`` members).
FUSION_PARTNERS: tuple[str, ...] = ("AFF1", "MLLT1", "MLLT3", "MLLT10", "other")

_MAX_AGE = 365


@dataclass(frozen=True, slots=True)
class FeatureModel:
    """Parameters of the diagnosis features (defaults with their sources).

    Attributes
    ----------
    age_beta
        Shape (a, b) of the Beta distribution of age/366, discretised to whole days 0–365.
        Assumption: a broad hump over the first year; with (1.2, 1.3) about 6% are
        congenital (< 30 days), matching Interfant-99's 30/482 = 6.2% congenital cases
        (Blood 2009;114:3764, domain-facts.md §3).
    kmt2a_r_share
        Share of KMT2A-r among all infants: 74% (Interfant-06, 476/643; domain-facts.md §3;
        the field's "70–80%", seed 000).
    kmt2a_r_under_6m
        P(KMT2A-r | age < 6 months). Assumption giving "more frequent under 6 months"
        (Interfant-99: KMT2A-r and age < 6 months the strongest adverse factors); the older
        band's probability is solved so that the overall share is ``kmt2a_r_share``.
    partner_shares
        Marginal shares among KMT2A-r of AFF1, MLLT1, MLLT3, MLLT10, other: 0.50, 0.20, 0.10,
        0.04, 0.16 (Interfant-99 53/20/11/16; COG P9407 49.7/21.0/8.9/0.6 + other;
        domain-facts.md §3 suggested priors).
    mllt3_older_ratio, aff1_older_ratio
        Share of MLLT3 (AFF1) in the ≥ 6 months band relative to the < 6 months band.
        Assumption expressing that t(9;11) infants are older and t(4;11) younger; the
        bands are solved so the marginal shares hold exactly.
    log_wbc_r, log_wbc_g
        (median, sigma of log) of the log-normal WBC in 10^9/L for KMT2A-r and germline.
        Assumption: KMT2A-r median 150 with ~28% ≥ 300 (hyperleukocytosis is typical of
        KMT2A-r); germline median 20.
    cd10_negative_r, cd10_negative_g
        P(CD10 negative) by KMT2A status. Assumption: pro-B (CD10-negative) is the typical
        KMT2A-r immunophenotype; germline mostly CD10-positive.
    cns3_r, cns3_g, cns2
        P(CNS3) by KMT2A status (a few percent overall) and P(CNS2). Assumption.
    ppr_r_high_wbc, ppr_r, ppr_g
        P(poor prednisone response) for KMT2A-r with WBC ≥ 300, other KMT2A-r, germline.
        Chosen so that the overall share is ~25% (BFM infants: PPR in 26%, Blood
        1999;94:1209, domain-facts.md §3).
    day15_m3_ppr, day15_m3_pgr, day15_m2
        Day-15 marrow: P(M3) after poor / good prednisone response and P(M2). Assumption.
    female_share
        Share of girls. Assumption (no infant-specific figure in the seeds): balanced.
    common_b_share
        Among CD10-positive cases, share of common-B (the rest pre-B). Assumption.
    """

    age_beta: tuple[float, float] = (1.2, 1.3)
    kmt2a_r_share: float = 0.74
    kmt2a_r_under_6m: float = 0.86
    partner_shares: tuple[float, float, float, float, float] = (0.50, 0.20, 0.10, 0.04, 0.16)
    mllt3_older_ratio: float = 2.0
    aff1_older_ratio: float = 0.75
    log_wbc_r: tuple[float, float] = (150.0, 1.1)
    log_wbc_g: tuple[float, float] = (20.0, 1.2)
    cd10_negative_r: float = 0.90
    cd10_negative_g: float = 0.25
    cns3_r: float = 0.05
    cns3_g: float = 0.02
    cns2: float = 0.08
    ppr_r_high_wbc: float = 0.45
    ppr_r: float = 0.25
    ppr_g: float = 0.10
    day15_m3_ppr: float = 0.50
    day15_m3_pgr: float = 0.15
    day15_m2: float = 0.25
    female_share: float = 0.50
    common_b_share: float = 0.80


def age_pmf(model: FeatureModel) -> np.ndarray:
    """Probability of each whole age in days 0–365 (the discretised Beta distribution)."""
    edges = np.arange(_MAX_AGE + 2) / (_MAX_AGE + 1)
    cdf = stats.beta.cdf(edges, *model.age_beta)
    return np.asarray(np.diff(cdf), dtype=float)


def _kmt2a_r_by_band(model: FeatureModel) -> tuple[float, float]:
    """P(KMT2A-r) under and from 6 months, the latter solved for the overall share."""
    p_young = float(age_pmf(model)[:SIX_MONTHS_DAYS].sum())
    under = model.kmt2a_r_under_6m
    older = (model.kmt2a_r_share - under * p_young) / (1.0 - p_young)
    if not 0.0 <= older <= 1.0:
        raise ValueError(f"kmt2a_r_under_6m={under} cannot give share {model.kmt2a_r_share}")
    return under, older


def kmt2a_r_probability(model: FeatureModel) -> np.ndarray:
    """P(KMT2A-r | age in days) for every age 0–365."""
    under, older = _kmt2a_r_by_band(model)
    return np.where(np.arange(_MAX_AGE + 1) < SIX_MONTHS_DAYS, under, older)


def partner_probabilities(model: FeatureModel) -> np.ndarray:
    """Fusion-partner probabilities among KMT2A-r, shape (2, 5): rows < 6 m and ≥ 6 m.

    MLLT3 and AFF1 shift with age by the given ratios; MLLT1, MLLT10 and other share the
    rest of each band in their marginal proportions, so every marginal share is exact.
    """
    pmf = age_pmf(model)
    p_r = kmt2a_r_probability(model)
    joint = pmf * p_r
    s_young = float(joint[:SIX_MONTHS_DAYS].sum() / joint.sum())
    s_old = 1.0 - s_young
    aff1, mllt1, mllt3, mllt10, other = model.partner_shares
    aff1_y = aff1 / (s_young + model.aff1_older_ratio * s_old)
    mllt3_y = mllt3 / (s_young + model.mllt3_older_ratio * s_old)
    rows = []
    for a, m in (
        (aff1_y, mllt3_y),
        (aff1_y * model.aff1_older_ratio, mllt3_y * model.mllt3_older_ratio),
    ):
        rest = 1.0 - a - m
        scale = rest / (mllt1 + mllt10 + other)
        rows.append([a, mllt1 * scale, m, mllt10 * scale, other * scale])
    out = np.asarray(rows, dtype=float)
    if (out < 0).any():
        raise ValueError("fusion-partner age ratios give a negative probability")
    return out


def prob_high_wbc(median_sigma: tuple[float, float], threshold: float = 300.0) -> float:
    """P(WBC ≥ threshold) under a log-normal with the given median and sigma of log."""
    median, sigma = median_sigma
    return float(stats.norm.sf(float(np.log(threshold / median)) / sigma))


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category index per row of ``probs`` (rows sum to 1), by inverse CDF."""
    cum = np.cumsum(probs, axis=1)
    u = np.asarray(rng.random(probs.shape[0])).reshape(-1, 1)
    return np.asarray(np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1))


def _day8_blasts(rng: np.random.Generator, poor: np.ndarray) -> np.ndarray:
    """Day-8 peripheral blasts/µL consistent with the response class (threshold 1,000)."""
    n = poor.size
    good_log = rng.uniform(0.0, np.log10(999.0), n)
    poor_log = rng.uniform(3.0, 4.7, n)
    return np.round(10.0 ** np.where(poor, poor_log, good_log))


def draw_features(rng: np.random.Generator, n: int, model: FeatureModel) -> pd.DataFrame:
    """Draw the diagnosis features of ``n`` infants (one row each).

    Columns use the member values of the ``infantall.domain`` enumerations: ``age_days``,
    ``sex``, ``kmt2a``, ``fusion_partner``, ``wbc``, ``cd10``, ``immunophenotype``, ``cns``,
    ``day8_blasts``, ``prednisone_response``, ``day15_marrow``.
    """
    age = rng.choice(_MAX_AGE + 1, size=n, p=age_pmf(model))
    young = age < SIX_MONTHS_DAYS
    rearranged = rng.random(n) < kmt2a_r_probability(model)[age]
    partner_p = partner_probabilities(model)[np.where(young, 0, 1)]
    partner = _categorical(rng, partner_p)
    median = np.where(rearranged, model.log_wbc_r[0], model.log_wbc_g[0])
    sigma = np.where(rearranged, model.log_wbc_r[1], model.log_wbc_g[1])
    wbc = np.round(median * np.exp(sigma * rng.standard_normal(n)), 1)
    wbc = np.maximum(wbc, 0.5)
    high = wbc >= 300.0
    cd10_neg = rng.random(n) < np.where(rearranged, model.cd10_negative_r, model.cd10_negative_g)
    cns_u = rng.random(n)
    cns3_p = np.where(rearranged, model.cns3_r, model.cns3_g)
    cns = np.where(cns_u < cns3_p, 2, np.where(cns_u < cns3_p + model.cns2, 1, 0))
    ppr_p = np.where(rearranged, np.where(high, model.ppr_r_high_wbc, model.ppr_r), model.ppr_g)
    poor = rng.random(n) < ppr_p
    m3_p = np.where(poor, model.day15_m3_ppr, model.day15_m3_pgr)
    marrow_u = rng.random(n)
    day15 = np.where(marrow_u < m3_p, 2, np.where(marrow_u < m3_p + model.day15_m2, 1, 0))
    common = rng.random(n) < model.common_b_share
    female = rng.random(n) < model.female_share
    return pd.DataFrame(
        {
            "age_days": age.astype(np.int64),
            "sex": categorical(np.where(female, 0, 1), ("female", "male")),
            "kmt2a": categorical(np.where(rearranged, 0, 1), ("rearranged", "germline")),
            "fusion_partner": categorical(
                np.where(rearranged, partner, 5), (*FUSION_PARTNERS, "none")
            ),
            "wbc": wbc,
            "cd10": categorical(np.where(cd10_neg, 0, 1), ("negative", "positive")),
            "immunophenotype": categorical(
                np.where(cd10_neg, 0, np.where(common, 1, 2)), ("pro_b", "common_b", "pre_b")
            ),
            "cns": categorical(cns, ("CNS1", "CNS2", "CNS3")),
            "day8_blasts": _day8_blasts(rng, poor),
            "prednisone_response": categorical(np.where(poor, 1, 0), ("good", "poor")),
            "day15_marrow": categorical(day15, ("M1", "M2", "M3")),
        }
    )
