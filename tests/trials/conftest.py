"""Fixtures of the trial tests: a fresh registry on SQLite and on PostgreSQL, seeded accounts,
a DMC statistician, and patients created through the registry's own service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from infantall.registry import admin
from infantall.registry import patients as patient_service
from infantall.registry.access import Principal
from infantall.registry.db import Database
from infantall.registry.models import Role, User
from infantall.registry.schemas import PatientCreate, UserCreate
from infantall.registry.security import password_hasher
from infantall.registry.settings import RegistrySettings
from infantall.registry.testing import SEED_PASSWORD, DatabaseTemplates, seed_registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "design"


@pytest.fixture
def registry(
    backend: str, tmp_path: Path, templates: DatabaseTemplates
) -> Iterator[tuple[RegistrySettings, Database]]:
    """Settings and a fresh, migrated database of this test's own."""
    with templates.database(backend, tmp_path) as pair:
        yield pair


@pytest.fixture
def seeded(registry: tuple[RegistrySettings, Database]) -> dict[str, Any]:
    """Two sites, one account per role, and ``dmc`` (a coordinator account)."""
    settings, database = registry
    people = seed_registry(database, settings)
    with database.write_sessions() as s:
        admin.create_user(
            s,
            people["admin"],
            password_hasher(settings),
            UserCreate(username="dmc", password=SEED_PASSWORD, role=Role.coordinator),
        )
    with database.read_sessions() as s:
        user = s.scalar(select(User).where(User.username == "dmc"))
        assert user is not None
        people["dmc"] = Principal(user.id, "dmc", Role.coordinator, None)
    return people


@pytest.fixture
def binary_spec() -> dict[str, Any]:
    """The four-arm example design that ``infantall design simulate`` runs."""
    data = yaml.safe_load((EXAMPLES / "pick-a-winner-binary.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture
def make_patients() -> Any:
    """The patient factory below."""
    return _make_patients


def _make_patients(
    database: Database, editor: Principal, n: int, prefix: str, *, seed: int = 1
) -> list[str]:
    """``n`` infants at the editor's site, ages and WBC spread over the factor levels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    with database.write_sessions() as s:
        for i in range(n):
            birth = dt.date(2024, 1, 1)
            age = int(rng.integers(5, 360))
            wbc = float(rng.choice([20.0, 150.0, 450.0]))
            p = patient_service.create_patient(
                s,
                editor,
                PatientCreate(
                    local_code=f"{prefix}-{i}",
                    birth_date=birth,
                    diagnosis_date=birth + dt.timedelta(days=age),
                    kmt2a="rearranged",
                    wbc=wbc,
                ),
            )
            out.append(p.registry_id)
    return out
