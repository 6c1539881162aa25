"""The time-to-event engine: the predictive probability of success against a brute-force
simulation, reproducibility, the spec's errors, and calibrated type-I error."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from infantall.design.adaptive import calibrate_superiority, run_trials, spec_from_dict
from infantall.design.adaptive.engine import simulate_block
from infantall.design.adaptive.tte import engine as tte_engine
from infantall.design.adaptive.tte import model
from infantall.design.adaptive.tte.data import generate
from infantall.design.tte_posterior import piecewise_posterior
from infantall.errors import InvalidInputError

CUTS = [0.0, 0.5, 1.0]


def _small(**tte: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "intervals": CUTS,
        "horizon_years": 1.0,
        "prior_shape": 0.5,
        "prior_rate": 1.0,
        "control_prior": {"hazards": [0.6, 0.4, 0.3], "events": [2, 2, 1]},
        "predictive": {"draws": 1000, "success": 0.9, "futility": 0.05},
    }
    block.update(tte)
    return {
        "outcome": "time-to-event",
        "arms": [
            {
                "name": "c",
                "control": True,
                "piecewise": {"starts": CUTS, "hazards": [0.6, 0.4, 0.3]},
            },
            {"name": "e", "piecewise": {"starts": CUTS, "hazards": [0.6, 0.4, 0.3]}},
        ],
        "analyses": {"patients": [12, 20], "final_follow_up_years": 1.0},
        "accrual_per_year": 10,
        "randomisation": {"adaptive": False},
        "decisions": {"superiority": 0.99, "futility": None},
        "tte": block,
    }


def _residual(lam: np.ndarray, f: float, unit: float) -> float:
    """Event time after ``f`` given event-free at ``f``: walk the intervals (scalar)."""
    ends = [*CUTS[1:], np.inf]
    pos, rem = f, unit
    for j, end in enumerate(ends):
        if end <= pos:
            continue
        if end == np.inf or rem <= lam[j] * (end - pos):
            return pos + rem / lam[j]
        rem -= lam[j] * (end - pos)
        pos = end
    return np.inf  # pragma: no cover


def _brute_ppos(data: dict[str, np.ndarray], draws: int, rng: np.random.Generator) -> float:
    """One completion at a time, patient by patient, with the reference posterior code."""
    tau, entry, arm, x, ev = data["tau"], data["entry"], data["arm"], data["x"], data["ev"]
    priors = {0: ([2.0, 2.0, 1.0], [2 / 0.6, 2 / 0.4, 1 / 0.3]), 1: ([0.5] * 3, [1.0] * 3)}
    w = model.horizon_weights(np.asarray(CUTS), 1.0)
    wins = 0
    for _ in range(draws):
        lam = {}
        for g in (0, 1):
            post = piecewise_posterior(
                x[arm == g], ev[arm == g].astype(int), CUTS,
                prior_shape=priors[g][0], prior_rate=priors[g][1],
            )  # fmt: skip
            lam[g] = rng.gamma(np.asarray(post.shape), 1 / np.asarray(post.rate))
        future_entry = tau + np.cumsum(rng.exponential(1 / 10, 8))
        t_final = future_entry[-1] + 1.0
        times: dict[int, list[float]] = {0: [], 1: []}
        events: dict[int, list[int]] = {0: [], 1: []}
        for i in range(12):
            c = t_final - entry[i]
            t = x[i] if ev[i] else _residual(lam[arm[i]], tau - entry[i], rng.exponential())
            times[arm[i]].append(min(t, c))
            events[arm[i]].append(int(t <= c))
        for i in range(8):
            g = int(rng.random() >= 0.5)
            t = _residual(lam[g], 0.0, rng.exponential())
            c = t_final - future_entry[i]
            times[g].append(min(t, c))
            events[g].append(int(t <= c))
        post = {
            g: piecewise_posterior(
                times[g], events[g], CUTS, prior_shape=priors[g][0], prior_rate=priors[g][1]
            )
            for g in (0, 1)
        }
        (ac, bc), (ak, bk) = (
            model.matched_gamma(np.asarray(post[g].shape), np.asarray(post[g].rate), w)
            for g in (0, 1)
        )
        wins += bool(model.prob_better(ak, bk, ac, bc) > 0.9)
    return wins / draws


def test_predictive_probability_matches_brute_force() -> None:
    spec = spec_from_dict(_small())
    des = tte_engine._Design(spec)
    rng = np.random.default_rng(8)
    tau = 1.2
    entry = np.append(np.sort(rng.uniform(0, tau, 12)), np.full(8, 99.0))
    arm = np.append(np.tile([0, 1], 6), np.full(8, -1))
    t_ev = [0.3, 2.0, 2.0, 0.2, 0.9, 4.0, 0.4, 3.0, 0.5, 5.0, 0.6, 0.7]  # control, arm, ...
    t_ev = np.append(t_ev, np.full(8, np.inf))
    look = tte_engine._Look(
        des, np.array([tau]), entry[None], arm[None], t_ev[None],
        np.ones((1, 20), dtype=bool), np.zeros((1, 20), dtype=np.int64),
    )  # fmt: skip
    link = look.link(des, 1000, rng)
    vec = float(tte_engine._predictive(des, look, np.array([[0.5, 0.5]]), link, rng)[0][0, 1])
    data = {
        "tau": tau,
        "entry": entry[:12],
        "arm": arm[:12],
        "x": look.x[0, :12],
        "ev": look.ev[0, :12],
    }
    brute = _brute_ppos(data, 1000, np.random.default_rng(9))
    assert 0.1 < brute < 0.9, (brute, vec)  # an informative case
    se = np.sqrt(brute * (1 - brute) * 2 / 1000)
    assert abs(vec - brute) < 4 * se


def test_same_seed_same_trials_and_dispatch() -> None:
    spec = spec_from_dict(_small(predictive={"draws": 8, "success": 0.9, "futility": 0.1}))
    a = simulate_block(spec, 64, np.random.SeedSequence(5))
    b = simulate_block(spec, 64, np.random.SeedSequence(5))
    for f in a.__slots__:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert set(np.unique(a.decision)) <= {0, 1, 3}
    assert np.all((a.n_total > 0) & (a.n_total <= 20))


BAD = [
    ({"intervals": [0.0, 1.0, 0.5]}, "tte.intervals", "strictly increasing"),
    ({"intervals": [0.5, 1.0]}, "tte.intervals", "start at 0"),
    ({"predictor": {"day_years": 0.5}}, "arms[0].tte.mrd", "link model"),
    ({"predictor": {"day_years": 0.3}}, "tte.predictor.day_years", "interval starts"),
    ({"control_prior": {"hazards": [0.5], "events": [1]}}, "tte.control_prior.hazards", "one"),
]


@pytest.mark.parametrize(("block", "field", "words"), BAD)
def test_bad_tte_block_names_field(block: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        spec_from_dict(_small(**block))
    assert err.value.field == field
    assert words in str(err.value)


def test_bad_cure_fraction_names_field() -> None:
    data = _small()
    data["arms"][1]["tte"] = {"cure_fraction": 1.0}
    with pytest.raises(InvalidInputError) as err:
        spec_from_dict(data)
    assert err.value.field == "arms[1].tte.cure_fraction"
    assert "[0, 1)" in str(err.value)


def _three_arm(**tte: Any) -> dict[str, Any]:
    data = _small(**tte)
    data["arms"].append(copy.deepcopy(data["arms"][1]) | {"name": "f"})
    data["analyses"] = {"patients": [30, 60], "final_follow_up_years": 0.5}
    data["max_patients"] = 60
    data["accrual_per_year"] = 30
    data["randomisation"] = {"adaptive": True, "softening": 0.5}
    return data


def test_strata_and_delta_paths_run() -> None:
    strata = {
        "names": ["<6m", ">=6m"],
        "proportions": [0.4, 0.6],
        "hazard_multipliers": [1.5, 1.0],
        "log_hr_sd": 0.3,
    }
    res = run_trials(spec_from_dict(_three_arm(strata=strata, predictive=None)), 200, 1)
    assert res.outcomes.max_better.max() <= 1.0
    res = run_trials(spec_from_dict(_three_arm(delta=0.05, predictive=None)), 200, 1)
    assert np.all(res.outcomes.max_better <= 1.0)


@pytest.mark.slow
def test_calibrated_type1_error_within_monte_carlo_error() -> None:
    # calibrate on one seed, check the rate on an independent run of the null scenario
    data = _three_arm(
        predictor={"day_years": 0.5, "imputations": 4},
        predictive={"draws": 8, "success": 0.9, "futility": 0.05},
    )
    mrd = {
        "p_negative": 0.5,
        "hazards_negative": [0.6, 0.2, 0.1],
        "hazards_positive": [0.6, 0.8, 0.5],
    }
    for arm in data["arms"]:
        arm["tte"] = {"cure_fraction": 0.1, "mrd": mrd}
    spec = spec_from_dict(data)
    target, n = 0.1, 1000
    cal = calibrate_superiority(spec, target=target, n_trials=n, seed=21)
    check = run_trials(spec.with_null().with_threshold(cal.threshold), n, 22)
    rate = float(np.mean(check.outcomes.decision == 0))
    se = np.sqrt(target * (1 - target) * 2 / n)  # two independent runs of n trials
    assert abs(rate - target) < 3 * se


@pytest.mark.parametrize("link", ["pooled", "per-arm"])
def test_pooled_link_shares_hazards_across_arms(link: str) -> None:
    data = _small(predictor={"day_years": 0.5, "imputations": 4, "link": link})
    mrd = {
        "p_negative": 0.5,
        "hazards_negative": [0.6, 0.2, 0.1],
        "hazards_positive": [0.6, 0.8, 0.5],
    }
    for arm in data["arms"]:
        arm["tte"] = {"mrd": mrd}
    spec = spec_from_dict(data)
    des = tte_engine._Design(spec)
    rng = np.random.default_rng(4)
    entry, times, negs, stratum, _u = generate(des.spec, des.cuts, 3, rng)
    arm = np.tile([0, 1], 10)[None].repeat(3, axis=0)
    t_ev = np.take_along_axis(times, arm[..., None], axis=2)[..., 0]
    neg = np.take_along_axis(negs, arm[..., None], axis=2)[..., 0]
    look = tte_engine._Look(des, np.full(3, 1.5), entry, arm, t_ev, neg, stratum)
    draws = look.link(des, 50, rng)
    same = np.array_equal(draws.hazards[:, :, 0], draws.hazards[:, :, 1])
    assert same == (link == "pooled")
    # P(MRD negative) stays per arm either way
    assert not np.array_equal(draws.p_negative[:, :, 0], draws.p_negative[:, :, 1])


def test_cure_analysis_runs_and_is_checked() -> None:
    data = _three_arm(cure_analysis={"iterations": 60, "burn": 20}, predictive=None)
    for arm in data["arms"]:
        arm["tte"] = {"cure_fraction": 0.3}
    res = run_trials(spec_from_dict(data), 100, 2)
    assert np.all((res.outcomes.max_better >= 0) & (res.outcomes.max_better <= 1))
    with pytest.raises(InvalidInputError) as err:
        spec_from_dict(_three_arm(cure_analysis={}))  # predictive probabilities are on
    assert err.value.field == "tte.cure_analysis"


@pytest.mark.slow
def test_example_oc_script_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "design" / "interfant21_like_oc.py"
    runpy.run_path(str(script), run_name="oc")["main"](60)
    out = capsys.readouterr().out
    assert "MRD imputed" in out
    assert "EFS only" in out
