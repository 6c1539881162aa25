"""Row-level security on PostgreSQL: a second wall, per site, behind the Python checks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

``patients``, ``events`` and ``risk_assignments`` get a policy that keeps a session to one
site when the session setting ``infantall.site_id`` names one. The registry sets it (``SET
LOCAL`` semantics: ``set_config(..., true)`` at the start of every transaction) for the
site-scoped roles (site editor, site viewer; :func:`infantall.registry.db.scope_session`);
coordinators, admins and the command line leave it unset and read every site. Tables are
not ``FORCE``d: the owner (migrations, ``registry init``) is not filtered, the app role
(``registry init --app-role``, ``NOBYPASSRLS``) is. SQLite has no row-level security: this
revision does nothing there (the file is one trust domain; protect it with mode 0600).
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The site a session is kept to, or NULL (setting unset, empty or ``all``: every site).
SITE_FUNCTION = """CREATE FUNCTION infantall_rls_site() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT nullif(nullif(current_setting('infantall.site_id', true), ''), 'all')::integer
$$"""

_BY_PATIENT = (
    "infantall_rls_site() IS NULL OR EXISTS (SELECT 1 FROM patients p "
    "WHERE p.id = {table}.patient_id AND p.site_id = infantall_rls_site())"
)
POLICIES = {
    "patients": "infantall_rls_site() IS NULL OR site_id = infantall_rls_site()",
    "events": _BY_PATIENT.format(table="events"),
    "risk_assignments": _BY_PATIENT.format(table="risk_assignments"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(SITE_FUNCTION)
    for table, rule in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {table}_per_site ON {table} FOR ALL USING ({rule}) WITH CHECK ({rule})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS {table}_per_site ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS infantall_rls_site()")
