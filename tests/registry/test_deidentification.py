"""De-identification that holds (issue 14, defect 4), on SQLite and PostgreSQL.

The attack of defect 4 joined the coordinator's analysis dataset (real dates) with the
pooled export (shifted dates) on the pseudonym and recovered every patient's shift and
true dates. Here both outputs carry the patient's one shift, so the join recovers nothing;
the pooled file alone has no class under k on its quasi-identifiers; year-only and
relative outputs hold no full date; no output holds free text.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from infantall.cli import app
from infantall.domain import Relapse, Response, SalvageTherapy, SecondMalignancy
from infantall.registry.deidentify import DeidOptions, date_shift_days, pseudonym
from infantall.registry.events import add_event
from infantall.registry.export import pooled_export, table_bytes
from infantall.registry.histories import scoped_rows
from infantall.registry.kanon import age_class
from infantall.registry.patients import create_patient
from infantall.registry.schemas import PatientCreate
from infantall.registry.testing import SEED_PASSWORD
from infantall.services import datasets
from infantall.services.demo import load_synthetic_cohort

#: A full ISO date anywhere in a file (what year-only and relative outputs must not hold).
FULL_DATE = re.compile(rb"\d{4}-\d{2}-\d{2}")
#: Free text planted in a patient's notes, a salvage regimen and a second malignancy.
SECRETS = ("Called Jane Doe at home", "blina-SECRET-regimen", "AML-SECRET-diagnosis")
N_SYNTHETIC = 400


@pytest.fixture
def loaded(registry: Any, seeded: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """A synthetic registry of two sites (the coordinator sees both)."""
    settings, database = registry
    editors = [("SITE-A", seeded["editor_a"]), ("SITE-B", seeded["editor_b"])]
    load_synthetic_cohort(database, editors, N_SYNTHETIC, seed=14)
    return settings, database, seeded


def _true_dates(database: Any, seeded: dict[str, Any]) -> dict[str, dt.date]:
    """Registry id -> true diagnosis date, as the sites hold them."""
    out: dict[str, dt.date] = {}
    with database.read_sessions() as s:
        for site in ("viewer_a", "viewer_b"):
            patients, _ = scoped_rows(s, seeded[site])
            out.update({p.registry_id: p.diagnosis_date for p, _ in patients})
    return out


def _export(database: Any, seeded: dict[str, Any], key: str, **opts: Any) -> Any:
    with database.read_sessions() as s:
        return pooled_export(s, seeded["coord"], key, DeidOptions(**opts))


def test_the_join_attack_recovers_no_shift_and_no_true_date(
    loaded: tuple[Any, Any, dict[str, Any]],
) -> None:
    settings, database, seeded = loaded
    key = settings.pseudonym_key.get_secret_value()
    truth = _true_dates(database, seeded)
    with database.write_sessions() as s:
        cohort = datasets.registry_cohort(s, seeded["coord"], key)
    analysis = cohort.dataset.adtte.groupby("USUBJID").STARTDT.first()
    pooled = _export(database, seeded, key, k=1).table
    first = pooled[pooled.record_type == "patient"].set_index("pseudonym")
    joined = first.join(analysis.rename("analysis_date"), how="inner")
    assert len(joined) == len(truth)  # k=1: every patient is in both outputs
    # the attack of defect 4: per-patient difference of the two dates = the shift
    recovered = (
        pd.to_datetime(joined.diagnosis_date_shifted) - pd.to_datetime(joined.analysis_date)
    ).dt.days
    assert set(recovered) == {0}
    # neither output shows any patient's true diagnosis date
    by_pseudonym = {pseudonym(key, rid): d for rid, d in truth.items()}
    shown = {h.patient.patient_id: h.patient.diagnosis_date for h in cohort.histories}
    for pseudo, date in by_pseudonym.items():
        assert shown[pseudo] != date
        assert pd.Timestamp(joined.loc[pseudo, "analysis_date"]).date() != date
        assert dt.date.fromisoformat(str(joined.loc[pseudo, "diagnosis_date_shifted"])) != date
    # and the year-only file agrees with the analysis dataset's (shifted) year
    years = _export(database, seeded, key, k=1, dates="year").table
    years = years[years.record_type == "patient"].set_index("pseudonym").diagnosis_year
    for pseudo in by_pseudonym:
        assert int(years[pseudo]) == pd.Timestamp(joined.loc[pseudo, "analysis_date"]).year


def test_the_pooled_file_alone_has_no_class_under_k(
    loaded: tuple[Any, Any, dict[str, Any]],
) -> None:
    settings, database, seeded = loaded
    key = settings.pseudonym_key.get_secret_value()
    for k in (5, 12):
        result = _export(database, seeded, key, k=k)
        data = table_bytes(result.table, "csv")
        table = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
        patients = table[table.record_type == "patient"]
        qi = ["site_code", "diagnosis_period", "sex", "age_class"]
        sizes = patients.groupby(qi)
        assert sizes.size().min() >= k
        # a full date is published only with its year as the period
        dated = patients[patients.diagnosis_date_shifted != ""]
        assert (dated.diagnosis_date_shifted.str[:4] == dated.diagnosis_period).all()
        manifest = result.manifest
        assert manifest["k_achieved"] == sizes.size().min()
        assert manifest["patients_out"] == len(patients)
        assert sum(c["size"] for c in manifest["classes"]) == len(patients)
        assert all(c["size"] >= k for c in manifest["classes"])
        removed = manifest["patients_in"] - manifest["patients_out"]
        dropped = [s for s in manifest["suppressed"] if s["field"] == "record"]
        assert removed == (dropped[0]["patients"] if dropped else 0)
        assert json.loads(json.dumps(manifest, allow_nan=False)) == manifest
        # the exact age and WBC are gone: 89 % were unique on site + sex + age in days
        assert not {"age_days", "wbc", "birth_date"} & set(table.columns)
        assert set(patients.wbc_class) <= {"<50", "50-<100", "100-<300", ">=300", ""}


def test_a_generalised_year_takes_every_date_of_the_patient_with_it(
    loaded: tuple[Any, Any, dict[str, Any]],
) -> None:
    settings, database, seeded = loaded
    key = settings.pseudonym_key.get_secret_value()
    result = _export(database, seeded, key, k=12)
    steps = {(s["field"], s["step"]): s["patients"] for s in result.manifest["suppressed"]}
    assert steps[("diagnosis_period", "five_years")] > 0
    table = result.table
    patients = table[table.record_type == "patient"]
    no_date = patients[patients.diagnosis_date_shifted.isna()]
    assert len(no_date) >= steps[("diagnosis_period", "five_years")] - steps.get(
        ("record", "left_out"), 0
    )
    periods = no_date.diagnosis_period.dropna()
    assert periods.str.fullmatch(r"\d{4}-\d{4}").all()
    events = table[table.pseudonym.isin(set(no_date.pseudonym)) & (table.record_type == "event")]
    assert len(events) > 0
    assert events.event_date_shifted.isna().all() and events.event_day.notna().all()


@pytest.mark.parametrize("mode", ["year", "relative"])
def test_year_only_and_relative_outputs_hold_no_full_date(
    loaded: tuple[Any, Any, dict[str, Any]], mode: str
) -> None:
    settings, database, seeded = loaded
    key = settings.pseudonym_key.get_secret_value()
    result = _export(database, seeded, key, dates=mode)
    data = table_bytes(result.table, "csv")
    assert not FULL_DATE.search(data)
    assert not FULL_DATE.search(json.dumps(result.manifest).encode())
    assert not any(c.endswith("_shifted") for c in result.table.columns)
    assert result.table.event_day.notna().any()
    if mode == "relative":
        assert not any(c.endswith("_year") for c in result.table.columns)
        assert result.manifest["quasi_identifiers"] == ["site_code", "sex", "age"]
    else:
        years = result.table.diagnosis_year.dropna()
        assert len(years) > 0 and years.between(1990, 2100).all()


def test_no_free_text_in_any_pseudonymised_output(registry: Any, seeded: dict[str, Any]) -> None:
    settings, database = registry
    key = settings.pseudonym_key.get_secret_value()
    with database.write_sessions() as s:
        p = create_patient(
            s,
            seeded["editor_a"],
            PatientCreate(
                local_code="FT-1",
                birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1),
                notes=SECRETS[0],
            ),
        )
        for event in (
            Response(date=dt.date(2024, 4, 1), status="cr"),
            Relapse(date=dt.date(2024, 8, 1)),
            SalvageTherapy(date=dt.date(2024, 8, 10), agents=SECRETS[1]),
            SecondMalignancy(date=dt.date(2025, 1, 1), diagnosis=SECRETS[2]),
        ):
            add_event(s, seeded["editor_a"], p.registry_id, event)
    outputs: list[bytes] = []
    for mode in ("shifted", "year", "relative"):
        result = _export(database, seeded, key, k=1, dates=mode)
        outputs += [table_bytes(result.table, "csv"), table_bytes(result.table, "parquet")]
        outputs.append(json.dumps(result.manifest).encode())
        assert not {"notes", "event_agents", "event_diagnosis"} & set(result.table.columns)
    with database.write_sessions() as s:
        cohort = datasets.registry_cohort(s, seeded["coord"], key)
    outputs.append(repr(cohort.histories).encode())
    outputs.append(cohort.dataset.adtte.to_csv().encode())
    for blob in outputs:
        for secret in SECRETS:
            assert secret.encode() not in blob
    assert p.registry_id not in b"".join(outputs).decode("utf-8", "replace")


def test_the_shift_range_is_the_registrys_setting(registry: Any, seeded: dict[str, Any]) -> None:
    settings, database = registry
    key = settings.pseudonym_key.get_secret_value()
    with database.write_sessions() as s:
        p = create_patient(
            s,
            seeded["editor_a"],
            PatientCreate(
                local_code="SH-1",
                birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1),
            ),
        )
    for max_days in (182, 7):
        with database.write_sessions() as s:
            (history,) = datasets.scoped_histories(s, seeded["coord"], key, max_shift_days=max_days)
        shift = date_shift_days(key, p.registry_id, max_days)
        assert 1 <= abs(shift) <= max_days
        assert history.patient.diagnosis_date == dt.date(2024, 3, 1) + dt.timedelta(days=shift)
        assert history.patient.age_days == p.age_days
    table = _export(database, seeded, key, k=1, max_shift_days=7).table
    assert table.diagnosis_date_shifted.iloc[0] == dt.date(2024, 3, 1) + dt.timedelta(
        days=date_shift_days(key, p.registry_id, 7)
    )
    assert table.age_class.iloc[0] == age_class(p.age_days)


def test_export_command_writes_the_manifest_beside_the_file(
    loaded: tuple[Any, Any, dict[str, Any]], tmp_path: Path
) -> None:
    settings, _, _ = loaded
    out = tmp_path / "pooled.csv"
    env = {"INFANTALL_PASSWORD": SEED_PASSWORD}
    args = ["registry", "export", str(out), "--pooled", "--user", "coord"]
    args += ["--database-url", settings.database_url, "--format", "json"]
    runner = CliRunner()
    result = runner.invoke(app, [*args, "--dates", "relative", "--k", "8"], env=env)
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)[0]
    manifest = json.loads((tmp_path / "pooled.manifest.json").read_text())
    assert record["manifest"] == str(tmp_path / "pooled.manifest.json")
    assert manifest["options"]["dates"] == "relative" and manifest["options"]["k"] == 8
    assert record["k_achieved"] == manifest["k_achieved"] >= 8
    assert not FULL_DATE.search(out.read_bytes())
    bad = runner.invoke(app, [*args, "--dates", "full"], env=env)
    assert bad.exit_code != 0 and "dates" in bad.output and "shifted" in bad.output
