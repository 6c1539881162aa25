"""The coordinator reads the pooled view only: views without direct identifiers, and
row-level security that keeps a coordinator's session off the base tables (PostgreSQL);
one-time TOTP enrolment codes (both backends).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

Schema ``infantall_pooled`` gets two views, ``patients`` and ``events``, with the columns of
the base tables of the same name (so the registry's queries read them unchanged) but no
direct identifier: the site-local code, the notes and the void reasons are NULL, and the
free-text fields of an event (``agents``, ``diagnosis``) are removed from its data (the
domain reads them as ``unknown``, as the pooled outputs always did). Dates stay: the pooled
code shifts them per patient before anything leaves the registry. The views show rows only
to a session whose setting ``infantall.role`` is ``coordinator`` and are owned by the owner
role, so they read the base tables past row-level security; writes through them are
refused by a trigger (the app role holds UPDATE on ``patients`` only for the row lock of an
unlock, ``SELECT ... FOR UPDATE``).

The policies of revision 0006 on ``patients`` and ``events`` now also refuse every row to a
coordinator's session: a raw ``SELECT local_code FROM public.patients`` returns nothing.
The registry scopes a coordinator's session (:func:`infantall.registry.rls.scope_session`)
with ``infantall.role`` and puts ``infantall_pooled`` first on its ``search_path`` for the
transaction (``set_config(..., true)``), so the pooled export, the analysis dataset, the
data-quality queries and ``/coordinator`` read through the views. ``risk_assignments``
(protocol, group, decision; no identifier) stays readable by a coordinator's session.
SQLite has no schemas, roles or row-level security: the views and policies are
PostgreSQL's only.

``totp_enrolment_codes`` (both backends): the SHA-256 of a one-time code an administrator
(or the command line on the server) issues so that an admin or coordinator account can
enrol its second factor in production (:mod:`infantall.registry.totp`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: The schema of the pooled views (first on a coordinator session's ``search_path``).
POOLED_SCHEMA = "infantall_pooled"

ROLE_FUNCTION = """CREATE FUNCTION infantall_rls_role() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('infantall.role', true), '')
$$"""

READ_ONLY_FUNCTION = f"""CREATE FUNCTION {POOLED_SCHEMA}.refuse_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the pooled view is read-only' USING ERRCODE = 'insufficient_privilege';
END $$"""

#: Column -> expression of the views (identifiers as typed NULLs, free text removed).
PATIENT_COLUMNS = {
    "id": "id",
    "registry_id": "registry_id",
    "site_id": "site_id",
    "local_code": "NULL::varchar(64)",
    "sex": "sex",
    "birth_date": "birth_date",
    "diagnosis_date": "diagnosis_date",
    "age_days": "age_days",
    "wbc": "wbc",
    "immunophenotype": "immunophenotype",
    "cd10": "cd10",
    "kmt2a": "kmt2a",
    "fusion_partner": "fusion_partner",
    "cns": "cns",
    "day8_blasts": "day8_blasts",
    "prednisone_response": "prednisone_response",
    "day15_marrow": "day15_marrow",
    "enrollment_date": "enrollment_date",
    "protocol": "protocol",
    "notes": "NULL::text",
    "version": "version",
    "voided_at": "voided_at",
    "void_reason": "NULL::text",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
EVENT_COLUMNS = {
    "id": "id",
    "registry_id": "registry_id",
    "patient_id": "patient_id",
    "kind": "kind",
    "event_date": "event_date",
    "data": "data - 'agents' - 'diagnosis' - 'notes'",
    "version": "version",
    "voided_at": "voided_at",
    "void_reason": "NULL::text",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
VIEWS = {"patients": PATIENT_COLUMNS, "events": EVENT_COLUMNS}

_SITE_0006 = "infantall_rls_site() IS NULL OR site_id = infantall_rls_site()"
_BY_PATIENT_0006 = (
    "infantall_rls_site() IS NULL OR EXISTS (SELECT 1 FROM {schema}.patients p "
    "WHERE p.id = {table}.patient_id AND p.site_id = infantall_rls_site())"
)
_NOT_COORDINATOR = "infantall_rls_role() IS DISTINCT FROM 'coordinator'"


def _policies(schema: str) -> dict[str, str]:
    by_patient = _BY_PATIENT_0006.replace("{schema}", schema)
    return {
        "patients": f"{_NOT_COORDINATOR} AND ({_SITE_0006})",
        "events": f"{_NOT_COORDINATOR} AND ({by_patient.format(table='events')})",
        "risk_assignments": (
            "infantall_rls_role() = 'coordinator' OR "
            f"({by_patient.format(table='risk_assignments')})"
        ),
    }


def _policies_0006(schema: str) -> dict[str, str]:
    by_patient = _BY_PATIENT_0006.replace("{schema}", schema)
    return {
        "patients": _SITE_0006,
        "events": by_patient.format(table="events"),
        "risk_assignments": by_patient.format(table="risk_assignments"),
    }


def _set_policies(rules: dict[str, str]) -> None:
    for table, rule in rules.items():
        op.execute(f"DROP POLICY IF EXISTS {table}_per_site ON {table}")
        op.execute(
            f"CREATE POLICY {table}_per_site ON {table} FOR ALL USING ({rule}) WITH CHECK ({rule})"
        )


def _schema() -> str:
    return str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one())


def _create_codes() -> None:
    op.create_table(
        "totp_enrolment_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_totp_enrolment_codes_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["users.id"], name=op.f("fk_totp_enrolment_codes_issued_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_enrolment_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_totp_enrolment_codes_code_hash")),
    )
    op.create_index(op.f("ix_totp_enrolment_codes_user_id"), "totp_enrolment_codes", ["user_id"])


def upgrade() -> None:
    _create_codes()
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _schema()
    op.execute(ROLE_FUNCTION)
    op.execute(f"CREATE SCHEMA {POOLED_SCHEMA}")
    op.execute(READ_ONLY_FUNCTION)
    for view, columns in VIEWS.items():
        select = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
        op.execute(
            f"CREATE VIEW {POOLED_SCHEMA}.{view} WITH (security_barrier) AS "
            f"SELECT {select} FROM {schema}.{view} "
            # a sub-select: evaluated once per query (an InitPlan), not once per row
            "WHERE (SELECT infantall_rls_role()) = 'coordinator'"
        )
        op.execute(
            f"CREATE TRIGGER {view}_read_only INSTEAD OF INSERT OR UPDATE OR DELETE "
            f"ON {POOLED_SCHEMA}.{view} FOR EACH ROW "
            f"EXECUTE FUNCTION {POOLED_SCHEMA}.refuse_write()"
        )
    _set_policies(_policies(schema))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _set_policies(_policies_0006(_schema()))
        op.execute(f"DROP SCHEMA IF EXISTS {POOLED_SCHEMA} CASCADE")
        op.execute("DROP FUNCTION IF EXISTS infantall_rls_role()")
    op.drop_index(op.f("ix_totp_enrolment_codes_user_id"), table_name="totp_enrolment_codes")
    op.drop_table("totp_enrolment_codes")
