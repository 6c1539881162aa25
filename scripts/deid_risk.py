"""Re-identification figures of the pooled export on a SYNTHETIC registry (issue 14, defect 4).

    python scripts/deid_risk.py [--patients 650] [--sites 12] [--k 5] [--dates shifted]

loads SYNTHETIC patients into a fresh SQLite registry of ``--sites`` sites (through the CSV
import, as a site's editor would), then prints as JSON:

* the join attack: the coordinator's analysis dataset joined with the pooled export on the
  pseudonym; how many patients' shift (export date minus analysis date) is non-zero, and how
  many true diagnosis dates either output shows;
* the pooled file alone: patients unique on site + sex + age in days (the quasi-identifiers
  the old export published), and on the published quasi-identifiers (site, diagnosis year,
  sex, age class) before and after suppression; site × year cells under k;
* how many shifted diagnosis years equal the true year; the manifest's suppression steps.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from infantall.registry import admin
from infantall.registry.access import Principal
from infantall.registry.deidentify import DeidOptions, date_shift_days, pseudonym
from infantall.registry.export import pooled_export
from infantall.registry.histories import scoped_rows
from infantall.registry.kanon import age_class
from infantall.registry.models import Role, Site, User
from infantall.registry.schemas import SiteCreate, UserCreate
from infantall.registry.security import password_hasher
from infantall.registry.testing import isolated_database
from infantall.services import datasets
from infantall.services.demo import load_synthetic_cohort

PASSWORD = "a-long-password-1"


def _accounts(database: Any, settings: Any, sites: int) -> tuple[Principal, list[Any]]:
    hasher = password_hasher(settings)
    with database.write_sessions() as s:
        admin.bootstrap_admin(s, hasher, "root", "a-long-chief-password-9")
        me = Principal(1, "root", Role.admin, None)
        for i in range(sites):
            code = f"SITE-{i:02d}"
            admin.create_site(s, me, SiteCreate(code=code, name=f"Site {i}"))
            user = UserCreate(
                username=f"ed{i}", password=PASSWORD, role=Role.site_editor, site_code=code
            )
            admin.create_user(s, me, hasher, user)
        coord = UserCreate(username="coord", password=PASSWORD, role=Role.coordinator)
        admin.create_user(s, me, hasher, coord)
        users = {u.username: u for u in s.scalars(select(User))}
        codes = {site.id: site.code for site in s.scalars(select(Site))}
    coord = users["coord"]
    coordinator = Principal(coord.id, "coord", Role.coordinator, None)
    site_editors = [
        (codes[u.site_id], Principal(u.id, u.username, Role.site_editor, u.site_id))
        for name, u in sorted(users.items())
        if name.startswith("ed") and u.site_id is not None
    ]
    return coordinator, site_editors


def _unique_share(frame: pd.DataFrame, columns: list[str]) -> float:
    sizes = frame.groupby(columns, dropna=False).transform("size")
    return round(float((sizes == 1).mean()), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=650)
    parser.add_argument("--sites", type=int, default=12)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--dates", default="shifted")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, isolated_database("sqlite", Path(tmp)) as pair:
        settings, database = pair
        coord, editors = _accounts(database, settings, args.sites)
        load_synthetic_cohort(database, editors, args.patients, seed=args.seed)
        key = settings.pseudonym_key.get_secret_value()
        with database.write_sessions() as s:
            patients, _ = scoped_rows(s, coord)
            true = pd.DataFrame(
                {"pseudonym": pseudonym(key, p.registry_id), "site": code, "sex": str(p.sex),
                 "age_days": p.age_days, "diagnosis": pd.Timestamp(p.diagnosis_date),
                 "shift": date_shift_days(key, p.registry_id, settings.date_shift_max_days)}
                for p, code in patients
            ).set_index("pseudonym")  # fmt: skip
            cohort = datasets.registry_cohort(s, coord, key)
            options = DeidOptions(dates=args.dates, k=args.k)  # type: ignore[arg-type]
            result = pooled_export(s, coord, key, options)
            everyone = pooled_export(s, coord, key, DeidOptions(k=1)).table
        start = pd.to_datetime(cohort.dataset.adtte.groupby("USUBJID").STARTDT.first())
        first = everyone[everyone.record_type == "patient"].set_index("pseudonym")
        joined = first.join(start.rename("analysis"), how="inner").join(true[["diagnosis"]])
        recovered = (pd.to_datetime(joined.diagnosis_date_shifted) - joined.analysis).dt.days
        true["year"] = true.diagnosis.dt.year
        true["age_class"] = true.age_days.map(age_class)
        shifted_year = (true.diagnosis + pd.to_timedelta(true["shift"], unit="D")).dt.year
        true["shifted_year"] = shifted_year
        cells = Counter(zip(true.site, true.shifted_year, strict=True))
        table = result.table
        published = table[table.record_type == "patient"]
        qi_after = list(result.manifest["quasi_identifier_columns"].values())
        kept_dates = published.diagnosis_date_shifted.notna() if args.dates == "shifted" else None
        figures = {
            "patients": len(true),
            "sites": args.sites,
            "join_attack": {
                "patients_joined": len(joined),
                "nonzero_recovered_shifts": int((recovered != 0).sum()),
                "true_dates_shown": int((joined.analysis == joined.diagnosis).sum()),
            },
            "unique_site_sex_age_days": _unique_share(true, ["site", "sex", "age_days"]),
            "unique_site_year_sex_age_class_before": _unique_share(
                true, ["site", "shifted_year", "sex", "age_class"]
            ),
            "unique_published_qi_after": _unique_share(published, qi_after),
            "site_year_cells": len(cells),
            "site_year_cells_under_k": sum(1 for n in cells.values() if n < args.k),
            "shifted_year_equals_true_year": round(float((shifted_year == true.year).mean()), 3),
            "patients_with_dates": None if kept_dates is None else int(kept_dates.sum()),
            "k_achieved": result.manifest["k_achieved"],
            "patients_out": result.manifest["patients_out"],
            "suppressed": result.manifest["suppressed"],
        }
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
