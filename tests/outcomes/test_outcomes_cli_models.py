"""The statistician's CLI: Fine-Gray and Cox on a formula, CIF figures, units, output files.

Reference values: ``reference/make_cli_reference.R`` (R 4.2.2, survival 3.5-3, cmprsk
2.2-11) on ``survival::pbc`` as written to ``reference/pbc.csv`` and read back, so R and the
CLI see the same file (sex is a text column, reference level "f"; stage has 6 missing
values, rows 313, 317, 319, 322, 334, 337).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.errors import InvalidInputError
from infantall.outcomes import OutcomesWarning, cumulative_incidence, kaplan_meier_by_group
from infantall.outcomes.formula import model_frame
from infantall.outcomes.regression import cox_model, fine_gray_model
from infantall.reports.figures.survival import plot_cif

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "cli_reference.json").read_text(encoding="utf-8"))
PBC = REF_DIR / "pbc.csv"
#: crr run with gtol=1e-12 and coxph converge to ~1e-11 relative; fitted models are compared
#: at the project's tolerance for fitted models (tests/outcomes/reference/README.md)
MODEL_RTOL = 1e-6
#: closed-form statistics (Gray's test, Wald from the same coefficients) agree to rounding
CLOSED_RTOL = 1e-8

runner = CliRunner()


def _strict(text: str) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _run(*args: str) -> dict:
    res = runner.invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return _strict(res.stdout)


@pytest.fixture
def pbc_dead(tmp_path):
    df = pd.read_csv(PBC)
    df["dead"] = (df.status == 2).astype(int)
    path = tmp_path / "pbc_dead.csv"
    df.to_csv(path, index=False)
    return path


def test_finegray_matches_crr_with_factors_and_dropped_rows():
    ref = REF["crr_pbc_death"]
    out = _run(
        "analyze", "finegray", str(PBC), "--time", "time", "--status", "status", "--cause", "2",
        "--covariates", "age + sex + C(stage) + log(bili)",
    )  # fmt: skip
    names = [r["covariate"] for r in out["records"]]
    assert names == ["age", "sex[T.m]", "C(stage)[T.2]", "C(stage)[T.3]", "C(stage)[T.4]",
                     "log(bili)"]  # fmt: skip
    assert len(ref["names"]) == len(names)  # R: age sexm factor(stage)2..4 log(bili)
    coef = [r["coef"] for r in out["records"]]
    se = [r["se"] for r in out["records"]]
    np.testing.assert_allclose(coef, ref["coef"], rtol=MODEL_RTOL)
    np.testing.assert_allclose(se, ref["se"], rtol=MODEL_RTOL)
    meta = out["meta"]
    assert meta["loglik"] == pytest.approx(ref["loglik"], rel=MODEL_RTOL)
    assert meta["n"] == ref["n"] == 412 and meta["n_dropped"] == 6
    assert meta["dropped_rows"] == [int(x) for x in ref["dropped"]]
    assert meta["reference_levels"] == {"sex": "f", "C(stage)": "1"}
    tests = {t["test"]: t for t in out["tests"]}
    assert tests["Wald (all coefficients)"]["statistic"] == pytest.approx(ref["wald"], rel=1e-6)
    assert tests["Wald (all coefficients)"]["df"] == 6
    assert tests["Wald C(stage)"]["statistic"] == pytest.approx(ref["wald_stage"], rel=1e-6)
    assert tests["Wald C(stage)"]["df"] == 3
    assert out["factors"][1] == {"term": "C(stage)", "reference": "1", "levels": "1, 2, 3, 4"}
    # CIs: exp(coef +- 1.96 se), as summary.crr prints
    r0 = out["records"][0]
    z = 1.959963984540054
    assert r0["shr_lower"] == pytest.approx(math.exp(ref["coef"][0] - z * ref["se"][0]), rel=1e-6)


def test_finegray_other_cause_and_conf_level():
    ref = REF["crr_pbc_transplant"]
    model = fine_gray_model(pd.read_csv(PBC), "time", "status", "age + sex + log(bili)", cause=1)
    np.testing.assert_allclose(model.fit.coef, ref["coef"], rtol=MODEL_RTOL)
    np.testing.assert_allclose(model.fit.se, ref["se"], rtol=MODEL_RTOL)
    out = _run(
        "analyze", "finegray", str(PBC), "-t", "time", "-s", "status", "--cause", "1",
        "-c", "age,sex,bili", "--conf-level", "0.9",
    )  # fmt: skip
    r = out["records"][0]
    width = math.log(r["shr_upper"]) - math.log(r["shr"])
    assert width == pytest.approx(1.6448536269514722 * r["se"], rel=1e-9)


def test_cox_factor_with_missing_rows_matches_coxph(pbc_dead):
    ref = REF["coxph_pbc_stage"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # C(stage) is a factor: no linear-coding warning
        model = cox_model(pd.read_csv(pbc_dead), "time", "dead", "age + C(stage)")
    np.testing.assert_allclose(model.fit.coef, ref["coef"], rtol=MODEL_RTOL)
    np.testing.assert_allclose(model.fit.se, ref["se"], rtol=MODEL_RTOL)
    out = _run(
        "analyze", "cox", str(pbc_dead), "--time", "time", "--event", "dead",
        "--covariates", "age + C(stage)",
    )  # fmt: skip
    tests = {t["test"]: t for t in out["tests"]}
    for name, key in (("likelihood ratio", "lr"), ("score (log-rank)", "score")):
        stat, df, p = ref[key]
        assert tests[name]["statistic"] == pytest.approx(stat, rel=MODEL_RTOL)
        assert tests[name]["df"] == df
        assert tests[name]["p_value"] == pytest.approx(p, rel=1e-5)
    assert tests["Wald"]["statistic"] == pytest.approx(ref["wald"], rel=MODEL_RTOL)
    assert tests["Wald C(stage)"]["statistic"] == pytest.approx(ref["wald_stage"], rel=MODEL_RTOL)
    zph = tests["PH global (cox.zph)"]
    assert [zph["statistic"], zph["df"]] == pytest.approx(ref["zph"][:2], rel=1e-6)
    assert out["meta"]["n"] == ref["n"] and out["meta"]["events"] == ref["nevent"]
    assert out["meta"]["dropped_rows"] == [int(x) for x in ref["dropped"]]


def test_no_complete_cases_refuses_missing_values(pbc_dead):
    res = runner.invoke(app, [
        "analyze", "cox", str(pbc_dead), "-t", "time", "-e", "dead", "-c", "age + C(stage)",
        "--no-complete-cases",
    ])  # fmt: skip
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "stage: has 6 missing value(s) [missing_covariate]" in res.stderr
    res = runner.invoke(app, [
        "analyze", "cox", str(pbc_dead), "-t", "time", "-e", "dead", "-c", "age + C(stage)",
    ])  # fmt: skip
    assert res.exit_code == 0
    assert "6 row(s) dropped for missing values (stage: 6; rows 313, 317" in res.stderr


def test_coded_group_fitted_as_linear_is_warned(pbc_dead):
    df = pd.read_csv(pbc_dead)
    with pytest.warns(OutcomesWarning, match=r"stage takes only the values 1, 2, 3, 4"):
        model_frame(df, "age + stage")
    res = runner.invoke(app, ["analyze", "cox", str(pbc_dead), "-t", "time", "-e", "dead",
                              "-c", "age,stage"])  # fmt: skip
    assert res.exit_code == 0 and "write C(stage) to fit it as a factor" in res.stderr


def test_reference_level_can_be_chosen():
    frame = model_frame(pd.read_csv(PBC), "C(stage, contr.treatment(4))")
    assert frame.factors[0].reference == "4"
    assert len(frame.covariates) == 3 and all("[T." in c for c in frame.covariates)
    assert not any(c.endswith("[T.4]") for c in frame.covariates)
    with pytest.raises(InvalidInputError, match="not among the provided levels") as e:
        model_frame(pd.read_csv(PBC), 'C(stage, contr.treatment("IV"))')
    assert e.value.field == "covariates"


def test_formula_errors_name_the_field():
    df = pd.read_csv(PBC)
    with pytest.raises(InvalidInputError, match=r"did you mean 'stage'") as e:
        model_frame(df, "age + C(stag)")
    assert e.value.code == "unknown_column"
    with pytest.raises(InvalidInputError) as e:
        model_frame(df, "age +")
    assert e.value.field == "covariates" and e.value.code == "bad_option"
    with pytest.raises(InvalidInputError, match="right-hand side"):
        model_frame(df, "time ~ age")


def test_column_typo_gets_did_you_mean():
    res = runner.invoke(app, ["analyze", "km", str(PBC), "--time", "tme", "--event", "status"])
    assert res.exit_code == 1
    assert "tme: is not a column of pbc.csv (did you mean 'time'?)" in res.stderr
    assert "[unknown_column]" in res.stderr


def test_missing_file_and_unwritable_paths(tmp_path):
    args = ["--time", "time", "--event", "status"]
    res = runner.invoke(app, ["analyze", "km", str(tmp_path / "nope.csv"), *args])
    assert res.exit_code == 1 and "file not found [file_not_found]" in res.stderr
    assert "unknown_column" not in res.stderr
    df = pd.read_csv(PBC).assign(status=lambda d: (d.status == 2).astype(int))
    path = tmp_path / "pbc.csv"
    df.to_csv(path, index=False)
    for extra in (
        ["--figure", str(tmp_path / "no" / "such" / "km.png")],
        ["--table", str(tmp_path / "no" / "steps.csv")],
        ["-o", str(tmp_path / "no" / "out.json")],
    ):
        res = runner.invoke(app, ["analyze", "km", str(path), *args, *extra])
        assert res.exit_code == 1, extra
        assert "[unwritable_path]" in res.stderr and "Traceback" not in res.output


def test_horizons_in_the_report_unit(tmp_path):
    base = ["analyze", "km", str(PBC), "-t", "time", "-e", "status", "--group", "sex"]
    df = pd.read_csv(PBC).assign(status=lambda d: (d.status == 2).astype(int))
    path = tmp_path / "pbc.csv"
    df.to_csv(path, index=False)
    base[2] = str(path)
    years = _run(*base, "--horizon", "5")
    months = _run(*base, "--horizon", "60", "--report-unit", "months")
    suffix = _run(*base, "--horizon", "60m")
    days = _run(*base, "--horizon", "1826.25", "--report-unit", "days")
    expected = kaplan_meier_by_group(df.time, df.status, df.sex).at([5 * 365.25])
    for row, y, m, s, d in zip(expected.itertuples(), years["records"], months["records"],
                               suffix["records"], days["records"], strict=True):  # fmt: skip
        assert y["surv_5y_pct"] == m["surv_60m_pct"] == s["surv_60m_pct"] == d["surv_1826.25d_pct"]
        assert y["surv_5y_pct"] == round(100 * row.survival, 2)
    # a time column in months: 60 months is the same horizon
    mpath = tmp_path / "pbc_months.csv"
    df.assign(time=df.time / (365.25 / 12)).to_csv(mpath, index=False)
    inmonths = _run("analyze", "km", str(mpath), "-t", "time", "-e", "status", "-g", "sex",
                    "--time-unit", "months", "--horizon", "5")  # fmt: skip
    assert [r["surv_5y_pct"] for r in inmonths["records"]] == [
        r["surv_5y_pct"] for r in years["records"]
    ]


def test_km_step_table_and_output_file(tmp_path):
    df = pd.read_csv(PBC).assign(status=lambda d: (d.status == 2).astype(int))
    path = tmp_path / "pbc.csv"
    df.to_csv(path, index=False)
    table, out = tmp_path / "steps.csv", tmp_path / "km.json"
    args = ["analyze", "km", str(path), "-t", "time", "-e", "status", "-g", "sex"]
    res = runner.invoke(app, [*args, "--table", str(table), "-o", str(out), "-f", "json"])
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    payload = _strict(out.read_text(encoding="utf-8"))
    assert payload["meta"]["table"] == str(table)
    steps = pd.read_csv(table)
    curves = kaplan_meier_by_group(df.time, df.status, df.sex)
    for curve in curves.curves:
        mine = steps[steps.group == curve.label]
        ref = curve.summary
        np.testing.assert_array_equal(mine.time_days.to_numpy(), ref.time.to_numpy())
        np.testing.assert_allclose(mine.survival.to_numpy(), ref.survival.to_numpy(), rtol=1e-12)
        np.testing.assert_array_equal(mine.n_risk.to_numpy(), ref.n_risk.to_numpy())
        np.testing.assert_allclose(mine.time_years.to_numpy(), ref.time.to_numpy() / 365.25)


def test_cif_gray_tests_match_cuminc_and_csv_sections(tmp_path):
    ref = REF["cuminc_pbc_sex"]
    out = _run("analyze", "cif", str(PBC), "-t", "time", "-s", "status", "-g", "sex")
    stats = [t["statistic"] for t in out["tests"]]
    np.testing.assert_allclose(stats, ref["stat"], rtol=CLOSED_RTOL)
    np.testing.assert_allclose([t["p_value"] for t in out["tests"]], ref["p"], rtol=CLOSED_RTOL)
    assert [t["df"] for t in out["tests"]] == [1, 1]
    res = runner.invoke(app, ["analyze", "cif", str(PBC), "-t", "time", "-s", "status",
                              "-g", "sex", "-f", "csv"])  # fmt: skip
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in res.stdout.strip().split("\n\n")}
    assert set(blocks) == {"# meta", "# records", "# tests"}
    assert blocks["# tests"][0] == "test,cause,statistic,df,p_value"
    assert len(blocks["# tests"]) == 3 and blocks["# tests"][1].startswith("Gray,1,")
    table = tmp_path / "cif_steps.csv"
    runner.invoke(app, ["analyze", "cif", str(PBC), "-t", "time", "-s", "status", "-g", "sex",
                        "--table", str(table)])  # fmt: skip
    steps = pd.read_csv(table)
    res_ = cumulative_incidence(*(pd.read_csv(PBC)[c] for c in ("time", "status", "sex")))
    want = pd.concat([c.summary for c in res_.curves], ignore_index=True)
    np.testing.assert_allclose(steps.estimate.to_numpy(), want.estimate.to_numpy(), rtol=1e-12)


def test_cif_figure_by_group_has_risk_table_and_gray_p(tmp_path):
    df = pd.read_csv(PBC)
    res = cumulative_incidence(df.time, df.status, df.sex)
    times = {g: df.time[df.sex == g].to_numpy() for g in res.groups}
    fig = plot_cif(res, cause=2, times_by_group=times, annotation="Gray's test p = 0.111",
                   time_scale=365.25, ylabel="Death", xlabel="Years from entry")  # fmt: skip
    main, tab = fig.axes
    assert len(main.get_lines()) == 2  # every group, not only the first
    texts = [t.get_text() for t in main.texts]
    assert "Gray's test p = 0.111" in texts
    assert tab.get_xlabel() == "Years from entry" and main.get_ylabel() == "Death (%)"
    counts = [int(t.get_text()) for t in tab.texts]
    ticks = main.get_xticks()
    expected = [int((times[g] >= x * 365.25).sum()) for g in res.groups for x in ticks]
    assert counts == expected and counts[0] == 374
    for suffix in (".png", ".svg", ".pdf"):
        path = tmp_path / f"cif{suffix}"
        out = _run("analyze", "cif", str(PBC), "-t", "time", "-s", "status", "-g", "sex",
                   "--cause", "2", "--figure", str(path), "--title", "PBC")  # fmt: skip
        assert out["meta"]["figure"] == str(path) and path.stat().st_size > 5_000
    assert (tmp_path / "cif.pdf").read_bytes()[:5] == b"%PDF-"


def test_cif_stacked_writes_one_figure_per_group(tmp_path):
    path = tmp_path / "stacked.svg"
    out = _run("analyze", "cif", str(PBC), "-t", "time", "-s", "status", "-g", "sex",
               "--stacked", "--figure", str(path), "--cause-label", "1=Transplant")  # fmt: skip
    written = out["meta"]["figure"].split(", ")
    assert written == [str(tmp_path / "stacked-f.svg"), str(tmp_path / "stacked-m.svg")]
    assert all(Path(p).stat().st_size > 5_000 for p in written)
    res = runner.invoke(app, ["analyze", "cif", str(PBC), "-t", "time", "-s", "status",
                              "--cause", "7"])  # fmt: skip
    assert res.exit_code == 1 and "--cause 7 is not a cause" in res.stderr


def test_r_style_dotted_column_names():
    lung = pd.read_csv(REF_DIR / "lung.csv")
    dotted = lung.rename(columns={"ph_ecog": "ph.ecog"})
    a = cox_model(lung, "time", "event", "age + C(ph_ecog)")
    b = cox_model(dotted, "time", "event", "age,C(ph.ecog)".replace(",", " + "))
    np.testing.assert_array_equal(a.fit.coef, b.fit.coef)
    assert b.frame.covariates[1] == "C(ph.ecog)[T.1]"
    assert b.frame.to_dict()["reference_levels"] == {"C(ph.ecog)": "0"}
    assert [t.name for t in b.tests][3] == "Wald C(ph.ecog)"
    with pytest.raises(InvalidInputError, match=r"ph\.ecg: .*did you mean 'ph\.ecog'"):
        model_frame(dotted, "age + ph.ecg")


def test_comma_lists_may_hold_factor_terms():
    df = pd.read_csv(PBC)
    a = model_frame(df, "age, C(stage, contr.treatment(4)), sex")
    b = model_frame(df, "age + C(stage, contr.treatment(4)) + sex")
    assert a.covariates == b.covariates and a.formula == b.formula
    pd.testing.assert_frame_equal(a.data, b.data)
