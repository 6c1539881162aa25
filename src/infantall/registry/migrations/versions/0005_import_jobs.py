"""Import jobs: the state, progress and outcome of CSV imports run in the background.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

One row per job (:class:`infantall.registry.import_jobs.ImportJob`). The committed counts
are updated in the same transaction as each committed batch, so the row always says what
an import has written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Jobs that have not ended: one per site at a time (a partial unique index).
ACTIVE = "state IN ('queued', 'validating', 'committing')"


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_validated", sa.Integer(), nullable=False),
        sa.Column("patients_committed", sa.Integer(), nullable=False),
        sa.Column("events_committed", sa.Integer(), nullable=False),
        sa.Column("committed_through_line", sa.Integer(), nullable=True),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("problems", _json(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_import_jobs_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_import_jobs_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index("ix_import_jobs_site_state", "import_jobs", ["site_id", "state"])
    op.create_index(
        "uq_import_jobs_active_site",
        "import_jobs",
        ["site_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_import_jobs_active_site", table_name="import_jobs")
    op.drop_index("ix_import_jobs_site_state", table_name="import_jobs")
    op.drop_table("import_jobs")
