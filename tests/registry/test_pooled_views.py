"""The coordinator reads the pooled view only, in the database too (migration 0009, issue 14).

Connected as the least-privilege app role, a coordinator-scoped session gets nothing from
the base ``patients`` and ``events`` (a raw ``SELECT local_code`` returns no row) and reads
every site through the views of ``infantall_pooled``, which carry no site-local code, notes,
void reason or event free text and refuse writes; the pooled export and the coordinator's
analysis dataset read through those views and equal what they give when the base tables are
read (as the owner); a site-scoped session gets nothing from the views. SQLite has no
row-level security (documented; the revision is a no-op there).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from infantall.cli import app
from infantall.domain import LastContact, SecondMalignancy
from infantall.registry import io
from infantall.registry.db import HEAD_REVISION, Database, current_revision
from infantall.registry.events import add_event
from infantall.registry.patients import create_patient
from infantall.registry.rls import scope_session
from infantall.registry.schemas import PatientCreate
from infantall.registry.security import password_hasher
from infantall.registry.signatures import SignRequest, UnlockRequest, sign_patient, unlock_patient
from infantall.registry.testing import SEED_PASSWORD, make_test_settings
from infantall.services.datasets import analysis_dataset

KEY = "pooled-view-test-key-0123456789"


@pytest.fixture
def as_app(registry: Any, seeded: Any, backend: str) -> Iterator[tuple[Database, Database]]:
    """(owner database, app-role database) with two patients per site, free text included."""
    if backend != "postgresql":
        pytest.skip("row-level security is PostgreSQL's (SQLite: not applicable, documented)")
    settings, database = registry
    with database.write_sessions() as s:
        for who in ("editor_a", "editor_b"):
            for n in range(2):
                p = create_patient(s, seeded[who], PatientCreate(
                    local_code=f"PV-{who}-{n}", birth_date=dt.date(2024, 1, 1 + n),
                    diagnosis_date=dt.date(2024, 3, 1 + n), notes="lives near the harbour",
                ))  # fmt: skip
                second = SecondMalignancy(date=dt.date(2024, 9, 1), diagnosis="AML M5")
                add_event(s, seeded[who], p.registry_id, second)
                add_event(s, seeded[who], p.registry_id, LastContact(date=dt.date(2025, 1, 1)))
    role = f"infantall_app_{secrets.token_hex(4)}"
    done = CliRunner().invoke(app, ["registry", "init", "--app-role", role,
                                    "--database-url", settings.database_url])  # fmt: skip
    assert done.exit_code == 0, done.output
    url = make_url(settings.database_url).set(username=role)
    db = Database.from_settings(make_test_settings(url.render_as_string(hide_password=False)))
    try:
        yield database, db
    finally:
        db.dispose()
        with database.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def _rows(session: Any, sql: str) -> list[Any]:
    return list(session.execute(text(sql)).all())


def test_a_coordinator_session_reads_no_identifier_by_raw_sql(
    as_app: tuple[Database, Database], seeded: Any
) -> None:
    _, db = as_app
    assert current_revision(db.engine) == HEAD_REVISION  # 0009 (pooled views) and after
    with db.read_sessions() as s:
        scope_session(s, seeded["coord"])
        assert _rows(s, "SELECT local_code FROM public.patients") == []
        assert _rows(s, "SELECT notes FROM public.patients") == []
        assert _rows(s, "SELECT data FROM public.events") == []
        # Unqualified names read the pooled views: every site, no identifier, no free text.
        codes = _rows(s, "SELECT local_code, notes, site_id FROM patients")
        assert len(codes) == 4
        assert {(c, n) for c, n, _ in codes} == {(None, None)}
        assert len({site for _, _, site in codes}) == 2
        data = [d for (d,) in _rows(s, "SELECT data FROM events WHERE kind = 'second_malignancy'")]
        assert len(data) == 4
        assert all("diagnosis" not in d for d in data)
        s.commit()  # the next transaction of the session is scoped again
        assert _rows(s, "SELECT local_code FROM public.patients") == []


def test_the_pooled_views_refuse_writes_and_other_roles(
    as_app: tuple[Database, Database], seeded: Any
) -> None:
    _, db = as_app
    with db.write_sessions() as s:
        scope_session(s, seeded["coord"])
        with pytest.raises(DBAPIError) as caught:
            s.execute(text("UPDATE patients SET sex = 'male'"))
        assert "read-only" in str(caught.value.orig)
        s.rollback()
        scope_session(s, seeded["coord"])
        assert s.execute(text("UPDATE public.patients SET notes = 'x'")).rowcount == 0
        s.rollback()
    with db.read_sessions() as s:
        scope_session(s, seeded["viewer_a"])
        assert _rows(s, "SELECT id FROM infantall_pooled.patients") == []
        assert len(_rows(s, "SELECT local_code FROM patients")) == 2  # its own site, as before
        scope_session(s, seeded["coord"])  # the transaction already open is scoped too
        assert _rows(s, "SELECT local_code FROM public.patients") == []
        scope_session(s, seeded["viewer_b"])  # and the coordinator's search path leaves it
        assert {c for (c,) in _rows(s, "SELECT local_code FROM patients")} == {
            "PV-editor_b-0",
            "PV-editor_b-1",
        }
    with db.read_sessions() as s:  # pooled connections come back unscoped
        assert len(_rows(s, "SELECT local_code FROM patients")) == 4


def test_pooled_outputs_read_through_the_views_and_are_unchanged(
    as_app: tuple[Database, Database], seeded: Any
) -> None:
    owner, db = as_app
    coord = seeded["coord"]
    options = io.DeidOptions(k=1)
    with owner.write_sessions() as s:  # the base tables, read as the owner (no RLS)
        before = io.pooled_export(s, coord, KEY, options).table
        dataset_before, _ = analysis_dataset(s, coord, KEY)
    with db.write_sessions() as s:
        scope_session(s, coord)
        after = io.pooled_export(s, coord, KEY, options).table
        scope_session(s, coord)
        dataset_after, _ = analysis_dataset(s, coord, KEY)
    assert len(before) == 12  # 4 patients + 8 events
    assert after.equals(before)
    assert dataset_after.adtte.equals(dataset_before.adtte)


def test_a_coordinator_unlocks_through_the_view(
    registry: Any, as_app: tuple[Database, Database], seeded: Any
) -> None:
    settings, _ = registry
    owner, db = as_app
    with owner.read_sessions() as s:
        rid = str(s.execute(text("SELECT registry_id FROM patients ORDER BY id")).scalars().first())
    with owner.write_sessions() as s:  # signing is the investigator's, at its site
        sign_patient(s, settings, password_hasher(settings), seeded["inv_a"], rid,
                     SignRequest(password=SEED_PASSWORD, meaning="reviewed"))  # fmt: skip
    with db.write_sessions() as s:  # the row lock of the unlock goes through the view
        scope_session(s, seeded["coord"])
        state = unlock_patient(s, seeded["coord"], rid, UnlockRequest(reason="site asked"))
    assert state.locked is False
    assert [u.username for u in state.unlocks] == ["coord"]
