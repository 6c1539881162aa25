"""``generate_cohort(..., hsct_hr=X)`` / ``cohort generate --hsct-hr X``: a true HSCT effect."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.cohort import generate_cohort
from infantall.cohort.calibration import calibrate
from infantall.cohort.hsct_effect import MRDClass, mrd_class, post_hsct_events, stratum_hazards
from infantall.cohort.outcomes import OutcomeOptions, _draw_fates, _draw_mrd, _mrd_value
from infantall.errors import InvalidInputError
from infantall.outcomes.hsct_adjusted import adjusted_cox

runner = CliRunner()


def _days(cohort, kind: str) -> pd.Series:
    ev = cohort.events
    sel = ev[ev.kind.astype(str) == kind]
    return sel.groupby(sel.patient_id.astype(str)).day.min()


def _hr_model():
    model = calibrate("interfant-06")
    return model, model.groups.index("HR")


def _mrd_class(model, n_groups: int) -> MRDClass:
    o = OutcomeOptions()
    share = np.array([0.0 if g == "LR" else 1.0 for g in model.groups])
    q = mrd_class(
        o.mrd_log10_mean, o.mrd_kmt2a_shift, o.mrd_consolidation_drop, o.mrd_sd, 1e-4, share
    )
    assert q.shape == (n_groups, 4)
    return MRDClass(q, o.mrd_measured, model.timing.consolidation_mrd)


def test_stratum_hazards_are_those_of_the_generated_untransplanted_patients():
    """Events on days 60-700 after CR of generated HR patients in CR, by MRD status on the day,
    against the sum over patient-days at risk of ``stratum_hazards`` (within 4 Poisson SE)."""
    model, hr = _hr_model()
    rng = np.random.default_rng(3)
    n = 100_000
    groups = np.full(n, hr)
    f = _draw_fates(rng, groups, model)
    o = OutcomeOptions()
    mrd = _draw_mrd(rng, f, np.ones(n, dtype=bool), model, o)
    hazard = stratum_hazards(model, _mrd_class(model, len(model.groups)))[hr].sum(axis=1)
    cr = f.cr
    lag = (f.first_event - f.eoi)[cr]
    positive = (mrd.measured & (_mrd_value(mrd.second_log, o) >= 1e-4))[cr]
    switch = np.where(positive, (mrd.second_day - f.eoi)[cr], np.inf)
    observed = np.zeros(2)
    expected = np.zeros(2)
    for d in range(60, 701):
        at_risk = lag >= d
        status = (switch < d).astype(int)
        for p in (0, 1):
            m = at_risk & (status == p)
            observed[p] += np.count_nonzero(m & (lag == d))
            expected[p] += m.sum() * hazard[p, d]
    assert observed.min() > 500  # both strata carry events
    assert np.all(np.abs(observed - expected) < 4 * np.sqrt(expected)), (observed, expected)
    # the strata differ: MRD-positive patients relapse more
    assert hazard[1, 200] > 1.2 * hazard[0, 200]


def test_post_transplant_hazard_is_x_times_the_strata_hazards():
    """P(no event by d | transplanted on day h) = exp(−X·cumulative stratum hazard), with the
    switch to the MRD-positive stratum after day 150 for half the patients (4 binomial SE)."""
    model, hr = _hr_model()
    hazard = stratum_hazards(model, _mrd_class(model, len(model.groups)))
    rng = np.random.default_rng(11)
    n = 40_000
    h = np.full(n, 100)
    switch = np.where(np.arange(n) < n // 2, 150.0, np.inf)
    x = 0.5
    day, kind = post_hsct_events(rng, hazard, np.full(n, hr), h, switch, x)
    assert day.min() > 100 and set(np.unique(kind)) <= {-1, 0, 1, 2}
    cum = np.cumsum(-np.log1p(-hazard[hr].sum(axis=1)), axis=1)
    never, later = switch > 1e9, switch < 1e9
    for d in (130, 300, 600, 1500):
        after = cum[1, d] - cum[1, 150] if d > 150 else 0.0
        before = cum[0, min(d, 150)] - cum[0, 100]
        for sel, path in ((never, cum[0, d] - cum[0, 100]), (later, before + after)):
            expected = np.exp(-x * path)
            observed = float((day[sel] > d).mean())
            se = np.sqrt(expected * (1 - expected) / sel.sum())
            assert abs(observed - expected) < 4 * se, (d, observed, expected)


def test_adjusted_cox_recovers_x_in_a_large_cohort():
    """The generator's truth as the analysis sees it: in one cohort of 200,000 patients with
    X = 0.5, ``coxph(Surv(start, stop, event) ~ hsct + strata(risk, mrd))`` (time-dependent
    HSCT and MRD-positive switches) gives log HR within 4 SE of log 0.5. The earlier generator
    (X applied to the risk group's marginal survival) gave −0.085 (SE 0.013) here."""
    cohort = generate_cohort(200_000, 18, 1, hsct_hr=0.5)
    data = _efs_frame(cohort)
    fit, _ = adjusted_cox(
        data, "time", "status", "HSCTDY", "RISKGRP", [], {"mrd": "MRDPOSDY"}, "strata"
    )
    assert fit is not None
    se = float(np.sqrt(fit.variance[0, 0]))
    assert se < 0.02
    assert abs(float(fit.coef[0]) - np.log(0.5)) < 4 * se, (float(fit.coef[0]), se)


def _efs_frame(cohort) -> pd.DataFrame:
    """EFS (induction failure = event at day 0), HSCT day, risk group and the day of a
    start-of-OCTADAD MRD >= 1e-4, straight from the events (what ``hsct_frame`` derives)."""
    ev = cohort.events
    kind = ev.kind.astype(str)
    pid = ev.patient_id.astype(str)

    def first_day(mask) -> pd.Series:
        return ev.day[mask].groupby(pid[mask]).min()

    event = first_day(kind.isin(["relapse", "death", "second_malignancy"]))
    last = first_day(kind == "last_contact")
    no_cr = set(pid[(kind == "response") & (ev.status.astype(str) == "no_cr")])
    mrd_pos = (kind == "mrd") & (ev.time_point.astype(str) == "start_of_octadad")
    ids = cohort.patients.patient_id.astype(str)
    d = pd.DataFrame({"id": ids.to_numpy(), "RISKGRP": cohort.patients.risk_group.astype(str)})
    d["time"] = d.id.map(event).fillna(d.id.map(last)).astype(float)
    d["status"] = d.id.map(event).notna().astype(int)
    d.loc[d.id.isin(no_cr), ["time", "status"]] = [0.0, 1]
    d["HSCTDY"] = d.id.map(first_day(kind == "hsct")).astype(float)
    d["MRDPOSDY"] = d.id.map(first_day(mrd_pos & (ev.value >= 1e-4))).astype(float)
    return d[d.time > 0]


def test_hsct_hr_changes_only_what_follows_a_transplant():
    base = generate_cohort(800, 10, 5)
    half = generate_cohort(800, 10, 5, hsct_hr=0.5)
    tx = _days(base, "hsct")
    pd.testing.assert_series_equal(tx, _days(half, "hsct"))
    for kind in ("relapse", "death"):
        a, b = _days(base, kind), _days(half, kind)
        untouched = a.index.difference(tx.index)
        pd.testing.assert_series_equal(a.reindex(untouched), b.reindex(untouched))
        after = b.reindex(tx.index).dropna()
        assert (after > tx.reindex(after.index)).all()
    assert base.metadata["hsct_hr"] == 1.0 and half.metadata["hsct_hr"] == 0.5


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_hsct_hr_must_be_positive(bad):
    with pytest.raises(InvalidInputError) as info:
        generate_cohort(50, 3, 1, hsct_hr=bad)
    assert info.value.field == "hsct_hr"


def test_cli_records_hsct_hr_in_the_file(tmp_path: Path):
    out = tmp_path / "c.json"
    args = ["cohort", "generate", "--n", "300", "--seed", "2", "--hsct-hr", "0.5", "-o", str(out)]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["meta"]["hsct_hr"] == 0.5
    assert json.loads(out.read_text(encoding="utf-8"))["metadata"]["hsct_hr"] == 0.5
    bad = runner.invoke(app, ["cohort", "generate", "--n", "30", "--hsct-hr", "0"])
    assert bad.exit_code == 1 and "hsct_hr" in bad.output
