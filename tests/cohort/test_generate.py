"""Reproducibility, arguments and structural invariants of the generated cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from infantall.cohort import (
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    SyntheticCohort,
    generate_cohort,
)
from infantall.cohort.risk import fallback_groups
from infantall.errors import InvalidInputError

EVENT_KINDS_USED = (
    "response", "mrd", "hsct", "relapse", "second_malignancy", "death", "last_contact",
)  # fmt: skip


def test_same_seed_gives_identical_frames() -> None:
    a = generate_cohort(500, sites=7, seed=3)
    b = generate_cohort(500, sites=7, seed=3)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.sites, b.sites)


def test_different_seeds_differ() -> None:
    a = generate_cohort(500, sites=7, seed=3)
    b = generate_cohort(500, sites=7, seed=4)
    assert not a.patients["wbc"].equals(b.patients["wbc"])
    assert not a.events["day"].equals(b.events["day"])


def test_columns_and_labels(small: SyntheticCohort) -> None:
    assert tuple(small.patients.columns) == PATIENT_COLUMNS
    assert tuple(small.events.columns) == EVENT_COLUMNS
    assert small.patients["synthetic"].all()
    assert small.events["synthetic"].all()
    assert small.metadata["synthetic"] is True
    assert "SYNTHETIC" in small.metadata["label"]
    assert small.patients["patient_id"].str.startswith("SYN-").all()
    assert small.sites["name"].str.contains("SYNTHETIC").all()
    assert small.patients["patient_id"].is_unique
    assert small.summary["synthetic"].all()


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"n": 0}, "n", "out_of_range"),
        ({"n": 10, "sites": 0}, "sites", "out_of_range"),
        ({"n": 10, "sites": 11}, "sites", "out_of_range"),
        ({"n": 10, "seed": -1}, "seed", "out_of_range"),
        ({"n": 10.5}, "n", "invalid_type"),
        ({"n": True}, "n", "invalid_type"),
    ],
)
def test_bad_arguments_name_field_and_code(
    kwargs: dict[str, object], field: str, code: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        generate_cohort(**kwargs)  # type: ignore[arg-type]
    assert (info.value.field, info.value.code) == (field, code)


def test_unknown_calibration_is_refused() -> None:
    with pytest.raises(ValueError, match="no calibration"):
        generate_cohort(10, sites=2, calibration="interfant-99")


def test_sites_have_different_sizes_and_accrue_over_time(large_i06: SyntheticCohort) -> None:
    counts = large_i06.patients["site"].value_counts()
    assert len(counts) == 18
    assert counts.max() > 3 * counts.min()
    years = large_i06.patients["diagnosis_date"].dt.year
    assert years.min() == 2006
    assert years.max() == 2015
    opened = large_i06.sites.set_index("site_id")["opened"]
    first = large_i06.patients.groupby("site", observed=True)["diagnosis_date"].min()
    assert (first >= opened.reindex(first.index)).all()


def test_engine_and_documented_fallback_rules_agree(
    large_i06: SyntheticCohort, large_mll10: SyntheticCohort
) -> None:
    for cohort, protocol in ((large_i06, "interfant-06"), (large_mll10, "mll-10")):
        expected = fallback_groups(cohort.patients, protocol)
        assert (cohort.patients["risk_group"].astype(str).to_numpy() == expected).all()


def test_no_event_before_diagnosis_and_dates_consistent(large_i06: SyntheticCohort) -> None:
    ev = large_i06.events
    assert (ev["day"] >= 0).all()
    diagnosis = large_i06.patients.set_index("patient_id")["diagnosis_date"]
    recomputed = ev["patient_id"].astype(str).map(diagnosis) + pd.to_timedelta(ev["day"], "D")
    assert (recomputed.to_numpy() == ev["date"].to_numpy()).all()
    birth_age = (large_i06.patients["diagnosis_date"] - large_i06.patients["birth_date"]).dt.days
    assert (birth_age == large_i06.patients["age_days"]).all()
    assert large_i06.patients["age_days"].between(0, 365).all()


def test_no_event_after_death_and_one_ending_per_patient(large_i06: SyntheticCohort) -> None:
    ev = large_i06.events
    death_day = ev[ev["kind"] == "death"].set_index("patient_id")["day"]
    assert death_day.index.is_unique
    last_day = ev.groupby("patient_id", observed=True)["day"].max()
    dead = death_day.index.astype(str)
    assert (last_day.reindex(dead).to_numpy() == death_day.to_numpy()).all()
    endings = ev[ev["kind"].isin(["death", "last_contact"])]
    assert endings["patient_id"].value_counts().eq(1).all()
    assert len(endings) == len(large_i06.patients)
    cutoff = pd.Timestamp(large_i06.metadata["data_cutoff"])
    assert (ev["date"] <= cutoff).all()


def test_hsct_only_for_eligible_patients_in_cr1(large_i06: SyntheticCohort) -> None:
    ev = large_i06.events
    p = large_i06.patients.set_index("patient_id")
    hsct = ev[ev["kind"] == "hsct"].set_index("patient_id")
    ids = hsct.index.astype(str)
    groups = p.loc[ids, "risk_group"].astype(str)
    assert set(groups) == {"HR", "MR"}
    # MR only by the Interfant-06 MRD rule: MRD >= 1e-4 at the start of OCTADAD, diagnosed
    # after the June 2009 amendment, transplanted after that MRD result.
    octadad = ev[(ev["kind"] == "mrd") & (ev["time_point"] == "start_of_octadad")]
    octadad = octadad.set_index("patient_id")
    mr = ids[groups.to_numpy() == "MR"]
    assert (octadad.loc[mr, "value"] >= 1e-4).all()
    assert (p.loc[mr, "diagnosis_date"] >= pd.Timestamp("2009-06-01")).all()
    assert (hsct.loc[mr, "day"].to_numpy() > octadad.loc[mr, "day"].to_numpy()).all()
    first_relapse = ev[ev["kind"] == "relapse"].groupby("patient_id", observed=True)["day"].min()
    cr = ev[(ev["kind"] == "response") & (ev["status"] == "cr")].set_index("patient_id")["day"]
    assert (hsct["day"].to_numpy() > cr.reindex(hsct.index).to_numpy()).all()
    relapse_before = first_relapse.reindex(hsct.index).to_numpy() <= hsct["day"].to_numpy()
    assert not relapse_before.any()
    # Interfant-06: HSCT in 17.1% of all patients (domain-facts.md §4.2); tolerance 0.05
    # because donor availability / uptake is a model assumption.
    assert abs(len(hsct) / len(p) - 0.171) < 0.05


def test_events_have_domain_values(large_i06: SyntheticCohort) -> None:
    ev = large_i06.events
    mrd = ev[ev["kind"] == "mrd"]
    assert mrd["value"].between(0.0, 1.0).all()
    assert mrd["time_point"].notna().all()
    assert ev.loc[ev["kind"] == "relapse", "site"].notna().all()
    assert ev.loc[ev["kind"] == "death", "cause"].notna().all()
    response = ev[ev["kind"] == "response"]
    assert response["patient_id"].is_unique
    assert (response.loc[response["status"] == "cr", "marrow"] == "M1").all()
    assert np.isin(ev["kind"].astype(str), list(EVENT_KINDS_USED)).all()


def test_transplanted_patients_are_hsct_eligible_for_the_protocol_engine(
    large_i06: SyntheticCohort,
) -> None:
    from infantall.protocols import stratify_frame

    features = large_i06.mrd_features()
    assert {"mrd_end_of_induction", "mrd_start_of_octadad"} <= set(features.columns)
    decision = stratify_frame(features, "interfant-06")
    flagged = decision["flags"].astype(str).str.contains("hsct_eligible").to_numpy()
    ev = large_i06.events
    transplanted = features["patient_id"].isin(ev.loc[ev["kind"] == "hsct", "patient_id"])
    assert flagged[transplanted.to_numpy()].all()


def test_missing_values_like_a_registry(large_i06: SyntheticCohort) -> None:
    from infantall.cohort import REALISTIC_MISSING

    masked = generate_cohort(len(large_i06.patients), sites=18, seed=11, missing=REALISTIC_MISSING)
    # same seed: the outcome model saw the same complete features
    pd.testing.assert_frame_equal(masked.events, large_i06.events)
    p = masked.patients
    n = len(p)
    for name, share in REALISTIC_MISSING.items():
        unknown = p[name].isna() if name in ("wbc", "day8_blasts") else p[name] == "unknown"
        assert abs(float(unknown.mean()) - share) <= 4 * np.sqrt(share * (1 - share) / n), name
    assert ((p["kmt2a"] == "unknown") == (p["fusion_partner"] == "unknown")).all()
    assert (p["day8_blasts"].isna() == (p["prednisone_response"] == "unknown")).all()
    with pytest.raises(InvalidInputError) as info:
        generate_cohort(10, sites=2, missing={"risk_group": 0.1})
    assert info.value.code == "invalid_choice"
    with pytest.raises(InvalidInputError) as info:
        generate_cohort(10, sites=2, missing={"wbc": 1.5})
    assert info.value.code == "out_of_range"


def test_accrual_parameters_are_checked_and_long_horizons_sort() -> None:
    from infantall.cohort import Accrual

    with pytest.raises(InvalidInputError) as info:
        Accrual(years=0)
    assert info.value.field == "accrual.years"
    # days beyond 2^16 take the lexsort path; no loss to follow-up at rate 0
    accrual = Accrual(years=185.0, loss_rate_per_year=0)
    cohort = generate_cohort(200, sites=3, seed=8, accrual=accrual)
    ev = cohort.events
    assert ev["day"].max() >= 1 << 16
    ids = ev["patient_id"].cat.codes.to_numpy()
    assert (np.diff(ids) >= 0).all()
    same = np.diff(ids) == 0
    assert (np.diff(ev["day"].to_numpy())[same] >= 0).all()


def test_repr_is_short_and_labelled(small: SyntheticCohort) -> None:
    text = repr(small)
    assert text.startswith("SyntheticCohort(SYNTHETIC, n=600,")
    assert len(text) < 200
