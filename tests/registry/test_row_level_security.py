"""PostgreSQL row-level security (migration 0006), the second wall behind the Python site
checks (issue 14): connected as the least-privilege app role, a session scoped to a site
sees and writes that site's patients, events and risk groups only, even by raw SQL; a
coordinator's session reads every site, through the pooled views without identifiers
(migration 0009, tests/registry/test_pooled_views.py); the setting never outlives its transaction.
SQLite has no row-level security (documented; the revision is a no-op there)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from infantall.cli import app
from infantall.domain import LastContact
from infantall.registry.auth import authenticate, login
from infantall.registry.db import HEAD_REVISION, Database, current_revision
from infantall.registry.errors import AuthenticationError
from infantall.registry.events import add_event
from infantall.registry.models import Patient
from infantall.registry.patients import create_patient
from infantall.registry.read_session import end_read
from infantall.registry.rls import scope_session
from infantall.registry.schemas import PatientCreate
from infantall.registry.security import password_hasher
from infantall.registry.testing import SEED_ACCOUNTS, SEED_PASSWORD, make_test_settings


@pytest.fixture
def as_app(registry: Any, seeded: Any, backend: str) -> Iterator[Database]:
    """The seeded registry with one patient and event per site, opened as the app role."""
    if backend != "postgresql":
        pytest.skip("row-level security is PostgreSQL's (SQLite: not applicable, documented)")
    settings, database = registry
    with database.write_sessions() as s:
        for who in ("editor_a", "editor_b"):
            p = create_patient(s, seeded[who], PatientCreate(
                local_code=f"RLS-{who}", birth_date=dt.date(2024, 1, 1),
                diagnosis_date=dt.date(2024, 3, 1),
            ))  # fmt: skip
            add_event(s, seeded[who], p.registry_id, LastContact(date=dt.date(2025, 1, 1)))
    role = f"infantall_app_{secrets.token_hex(4)}"
    done = CliRunner().invoke(app, ["registry", "init", "--app-role", role,
                                    "--database-url", settings.database_url])  # fmt: skip
    assert done.exit_code == 0, done.output
    url = make_url(settings.database_url).set(username=role)
    db = Database.from_settings(make_test_settings(url.render_as_string(hide_password=False)))
    try:
        yield db
    finally:
        db.dispose()
        with database.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def _codes(session: Any) -> set[str]:
    return set(session.execute(text("SELECT local_code FROM patients")).scalars())


def _events(session: Any) -> int:
    return int(session.execute(text("SELECT count(*) FROM events")).scalar_one())


def test_a_site_session_sees_only_its_site_by_raw_sql(as_app: Database, seeded: Any) -> None:
    assert current_revision(as_app.engine) == HEAD_REVISION  # 0006 (RLS) and after
    with as_app.read_sessions() as s:
        scope_session(s, seeded["viewer_a"])
        assert _codes(s) == {"RLS-editor_a"}
        assert _events(s) == 1
        b = seeded["editor_b"].site_id
        query = text("SELECT count(*) FROM patients WHERE site_id = :b")
        assert s.execute(query, {"b": b}).scalar_one() == 0
        s.commit()  # a new transaction of the same session is scoped again
        assert _codes(s) == {"RLS-editor_a"}


def test_a_site_session_cannot_write_into_another_site(as_app: Database, seeded: Any) -> None:
    b = seeded["editor_b"].site_id
    with as_app.write_sessions() as s:
        scope_session(s, seeded["editor_a"])
        with pytest.raises(DBAPIError) as caught:
            s.execute(text(
                "INSERT INTO patients (registry_id, site_id, local_code, sex, birth_date, "
                "diagnosis_date, age_days, immunophenotype, cd10, kmt2a, fusion_partner, cns, "
                "prednisone_response, day15_marrow, protocol, version, created_at, updated_at) "
                "VALUES ('P-ffffffffffffffff', :b, 'X', 'unknown', '2024-01-01', '2024-03-01', "
                "60, 'unknown', 'unknown', 'unknown', 'unknown', 'unknown', 'unknown', "
                "'unknown', 'unknown', 1, now(), now())"
            ), {"b": b})  # fmt: skip
        assert "row-level security" in str(caught.value.orig)
        s.rollback()
        changed = s.execute(text("UPDATE patients SET notes = 'x' WHERE site_id = :b"), {"b": b})
        assert changed.rowcount == 0


def test_coordinators_read_every_site_and_the_scope_does_not_leak(
    as_app: Database, seeded: Any
) -> None:
    with as_app.read_sessions() as s:
        scope_session(s, seeded["coord"])  # every site, through the pooled view (0009)
        assert _codes(s) == {None}
        assert s.execute(text("SELECT count(DISTINCT site_id) FROM patients")).scalar_one() == 2
        scope_session(s, seeded["viewer_b"])  # the transaction already open is scoped too
        assert _codes(s) == {"RLS-editor_b"}
    for _ in range(3):  # pooled connections come back without a site
        with as_app.read_sessions() as s:
            assert _codes(s) == {"RLS-editor_a", "RLS-editor_b"}


_SETTINGS = text(
    "SELECT current_setting('infantall.site_id', true), current_setting('infantall.role', true),"
    " current_setting('search_path')"
)


def test_the_token_lookup_sets_exactly_the_scope_of_scope_session(
    as_app: Database, seeded: Any, registry: Any
) -> None:
    """On PostgreSQL the token lookup also sets the caller's scope (one round trip instead
    of two per request); for every seeded role it sets the very settings ``scope_session``
    sets, and the session's later transactions keep them."""
    settings, database = registry
    hasher = password_hasher(settings)
    with database.write_sessions() as s:
        tokens = {
            u: login(s, settings, hasher, username=u, password=SEED_PASSWORD).token
            for u in SEED_ACCOUNTS
        }
    assert {seeded[u].role.value for u in tokens} >= {
        "site_editor", "site_viewer", "coordinator", "admin", "investigator"
    }  # fmt: skip
    for username, token in tokens.items():
        with as_app.read_sessions() as folded:
            principal = authenticate(folded, token, scope=True)
            scope_session(folded, principal, applied=True)
            by_lookup = tuple(folded.execute(_SETTINGS).one())
            codes = _codes(folded)
            folded.commit()  # the next transaction gets the scope from the session hook
            assert tuple(folded.execute(_SETTINGS).one()) == by_lookup, username
        with as_app.read_sessions() as plain:
            scope_session(plain, authenticate(plain, token))
            assert tuple(plain.execute(_SETTINGS).one()) == by_lookup, username
            assert _codes(plain) == codes, username
        if username in ("editor_a", "viewer_a", "inv_a"):
            assert codes == {"RLS-editor_a"}, username
        if username in ("editor_b", "viewer_b", "inv_b"):
            assert codes == {"RLS-editor_b"}, username
        if username == "coord":
            assert codes == {None}  # the pooled view: no local codes


def test_a_refused_token_leaves_no_scope_behind(as_app: Database, seeded: Any) -> None:
    """A token the lookup does not find sets nothing; the pooled connection comes back
    unscoped (the settings are local to the rolled-back transaction)."""
    with as_app.read_sessions() as s, pytest.raises(AuthenticationError):
        authenticate(s, "not-a-token", scope=True)
    with as_app.read_sessions() as s:
        assert _codes(s) == {"RLS-editor_a", "RLS-editor_b"}


def test_prepared_statements_keep_each_callers_scope(as_app: Database, seeded: Any) -> None:
    """Reads end with COMMIT (``end_read``), so psycopg keeps a connection's prepared
    statements from one caller to the next; PostgreSQL must still apply each caller's scope
    (the policies call the STABLE ``infantall_rls_site()``, evaluated at execution, also in
    a cached generic plan). One connection, two sites' viewers in turn, well past psycopg's
    threshold (5 executions) and PostgreSQL's switch to a generic plan (after 5)."""
    as_app.engine.dispose()
    for i in range(16):
        who = ("viewer_a", "viewer_b")[i % 2]
        session = as_app.read_sessions()
        scope_session(session, seeded[who])
        codes = set(session.execute(select(Patient.local_code)).scalars())
        end_read(session)
        assert codes == {f"RLS-editor_{who[-1]}"}, (i, who)
    with as_app.read_sessions() as s:
        prepared = s.execute(text(
            "SELECT statement, generic_plans FROM pg_prepared_statements"
        )).all()  # fmt: skip
    generic = [n for statement, n in prepared if statement.endswith("FROM patients")]
    assert generic and generic[0] > 0, prepared  # the cached generic plan was the one run
