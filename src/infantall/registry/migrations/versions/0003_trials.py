"""Running trials: frozen design versions, enrolments with their allocation, interims, members.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

``trial_spec_versions``, ``trial_enrolments`` and ``trial_interims`` are append-only: the
database refuses UPDATE and DELETE on them (an allocation, once made, is never rewritten;
a design change is a new version row).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APPEND_ONLY = ("trial_spec_versions", "trial_enrolments", "trial_interims")
MESSAGE = "{table} is append-only: UPDATE and DELETE are refused"


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _when() -> sa.Column[Any]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _triggers(dialect: str) -> list[str]:
    out = []
    for table in APPEND_ONLY:
        msg = MESSAGE.format(table=table)
        if dialect == "sqlite":
            out += [
                f"CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{msg}'); END"
                for verb in ("update", "delete")
            ]
        else:
            out += [
                f"""CREATE FUNCTION {table}_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION '{msg}' USING ERRCODE = 'insufficient_privilege';
                END $$""",
                f"""CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {table}_refuse_change()""",
            ]
    return out


def upgrade() -> None:
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("settings", _json(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
        sa.UniqueConstraint("code", name=op.f("uq_trials_code")),
    )
    op.create_table(
        "trial_spec_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("signed_by", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _when(),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_trial_spec_versions_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_spec_versions")),
        sa.UniqueConstraint("trial_id", "version", name="uq_trial_spec_version"),
    )
    op.create_index(op.f("ix_trial_spec_versions_trial_id"), "trial_spec_versions", ["trial_id"])
    op.create_table(
        "trial_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("levels", _json(), nullable=False),
        sa.Column("arm", sa.Integer(), nullable=False),
        sa.Column("arm_name", sa.String(length=64), nullable=False),
        sa.Column("spec_version", sa.Integer(), nullable=False),
        sa.Column("interim_look", sa.Integer(), nullable=True),
        sa.Column("enrolled_by", sa.String(length=64), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_trial_enrolments_trial_id_trials")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_trial_enrolments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_trial_enrolments_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_enrolments")),
        sa.UniqueConstraint("trial_id", "number", name="uq_trial_enrolment_number"),
        sa.UniqueConstraint("trial_id", "patient_id", name="uq_trial_enrolment_patient"),
    )
    op.create_index(op.f("ix_trial_enrolments_trial_id"), "trial_enrolments", ["trial_id"])
    op.create_table(
        "trial_interims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("look", sa.Integer(), nullable=False),
        sa.Column("after_enrolments", sa.Integer(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("result", _json(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_trial_interims_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_interims")),
        sa.UniqueConstraint("trial_id", "look", name="uq_trial_interim_look"),
    )
    op.create_index(op.f("ix_trial_interims_trial_id"), "trial_interims", ["trial_id"])
    op.create_table(
        "trial_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_trial_members_trial_id_trials")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_trial_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_members")),
        sa.UniqueConstraint("trial_id", "user_id", name="uq_trial_member_user"),
    )
    op.create_index(op.f("ix_trial_members_trial_id"), "trial_members", ["trial_id"])
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_refuse_change()")
    for table in ("trial_members", "trial_interims", "trial_enrolments", "trial_spec_versions"):
        op.drop_index(op.f(f"ix_{table}_trial_id"), table_name=table)
        op.drop_table(table)
    op.drop_table("trials")
