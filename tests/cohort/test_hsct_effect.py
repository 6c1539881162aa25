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
from infantall.cohort.calibration import calibrate, cr_event_cdfs
from infantall.cohort.outcomes import _after_hsct, _draw_fates
from infantall.errors import InvalidInputError

runner = CliRunner()


def _days(cohort, kind: str) -> pd.Series:
    ev = cohort.events
    sel = ev[ev.kind.astype(str) == kind]
    return sel.groupby(sel.patient_id.astype(str)).day.min()


def test_post_transplant_survival_is_the_baseline_to_the_power_x():
    """P(no event by d | event-free at h) = (S(d)/S(h))^X, checked within 4 Monte-Carlo SE."""
    model = calibrate("interfant-06")
    rng = np.random.default_rng(11)
    n = 40_000
    groups = np.full(n, model.groups.index("HR"))
    f = _draw_fates(rng, groups, model)
    h = f.eoi + 100
    hsct = np.where(f.cr & (f.first_event > h), h, np.inf)
    x = 0.5
    g = _after_hsct(rng, f, groups, model, hsct, x)
    days = np.arange(11_000)
    surv = 1.0 - cr_event_cdfs(model, days)[model.groups.index("HR")].sum(axis=0)
    done = np.isfinite(hsct)
    lag = g.first_event[done] - f.eoi[done]
    for d in (150, 300, 600, 1500):
        expected = (surv[d] / surv[100]) ** x
        observed = float((lag > d).mean())
        se = np.sqrt(expected * (1 - expected) / done.sum())
        assert abs(observed - expected) < 4 * se, (d, observed, expected)
    # patients not transplanted keep their fate
    assert np.array_equal(g.first_event[~done], f.first_event[~done])


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
