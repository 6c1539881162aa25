"""E-signatures with record locking, and a TOTP second factor.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

``signatures`` and ``signature_unlocks`` are append-only (the database refuses UPDATE and
DELETE): a signature is never rewritten, an unlock supersedes it by a row of its own.
``users`` gains the signer's printed name and the (encrypted) TOTP secret with its state.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("signatures", "signature_unlocks")
MESSAGE = "{table} is append-only: UPDATE and DELETE are refused"


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


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("full_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("totp_secret", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("totp_enabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("printed_name", sa.String(length=200), nullable=False),
        sa.Column("meaning", sa.String(length=40), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("patient_version", sa.Integer(), nullable=False),
        _fk("signatures", "patient_id", "patients"),
        _fk("signatures", "site_id", "sites"),
        _fk("signatures", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
        sa.UniqueConstraint("registry_id", name=op.f("uq_signatures_registry_id")),
    )
    op.create_index(op.f("ix_signatures_patient_id"), "signatures", ["patient_id"])
    op.create_table(
        "signature_unlocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("last_signature_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("unlocked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _fk("signature_unlocks", "patient_id", "patients"),
        _fk("signature_unlocks", "last_signature_id", "signatures"),
        _fk("signature_unlocks", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_unlocks")),
        sa.UniqueConstraint("registry_id", name=op.f("uq_signature_unlocks_registry_id")),
    )
    op.create_index(op.f("ix_signature_unlocks_patient_id"), "signature_unlocks", ["patient_id"])
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_refuse_change()")
    op.drop_index(op.f("ix_signature_unlocks_patient_id"), table_name="signature_unlocks")
    op.drop_table("signature_unlocks")
    op.drop_index(op.f("ix_signatures_patient_id"), table_name="signatures")
    op.drop_table("signatures")
    with op.batch_alter_table("users") as batch:
        for column in ("totp_last_step", "totp_enabled", "totp_secret", "full_name"):
            batch.drop_column(column)
