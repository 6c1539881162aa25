"""Tamper-evident audit: a SHA-256 hash chain over the audit rows; refuse replacing inserts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

``audit_chain`` holds one link per ``audit_log`` row (position, the previous link's hash,
the hash of the row's canonical serialisation, the UTC day); rows already in the trail are
chained here, in id order. ``audit_id`` has no foreign key on purpose: a deleted audit row
must be found and named by ``registry verify``, not hidden behind a cascade. Both tables
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL). On SQLite, ``INSERT OR REPLACE``
deletes the conflicting row without firing DELETE triggers: ``BEFORE INSERT`` triggers now
refuse an insert whose id (or chain position) is already taken, so a row can no longer be
replaced.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from infantall.registry.audit import CHAINED_COLUMNS, GENESIS_HASH, link_hash
from infantall.registry.models import AuditEntry

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

REPLACE_MESSAGE = "audit tables are append-only: a conflicting insert is refused"
CHAIN_MESSAGE = "audit_chain is append-only: UPDATE and DELETE are refused"

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
    WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{REPLACE_MESSAGE}'); END""",
    f"""CREATE TRIGGER audit_chain_no_replace BEFORE INSERT ON audit_chain
    WHEN EXISTS (SELECT 1 FROM audit_chain WHERE seq = NEW.seq OR audit_id = NEW.audit_id)
    BEGIN SELECT RAISE(ABORT, '{REPLACE_MESSAGE}'); END""",
    f"""CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
    BEGIN SELECT RAISE(ABORT, '{CHAIN_MESSAGE}'); END""",
    f"""CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
    BEGIN SELECT RAISE(ABORT, '{CHAIN_MESSAGE}'); END""",
)

POSTGRES_TRIGGERS = (
    # One round trip for "lock the chain, then read its tail": a VOLATILE function takes a
    # new snapshot per statement, so the SELECT sees every link committed before the lock.
    """CREATE FUNCTION audit_chain_tail(lock_key bigint) RETURNS TABLE (seq bigint, row_hash
    varchar) LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock(lock_key);
        RETURN QUERY SELECT c.seq, c.row_hash FROM audit_chain c ORDER BY c.seq DESC LIMIT 1;
    END $$""",
    """CREATE TRIGGER audit_chain_no_update_delete BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()""",
    """CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()""",
)

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _backfill(conn: sa.Connection, chain: sa.Table) -> None:
    table = AuditEntry.__table__
    query = sa.select(*(table.c[name] for name in CHAINED_COLUMNS)).order_by(table.c.id)
    prev, links = GENESIS_HASH, []
    for seq, row in enumerate(conn.execute(query).mappings(), start=1):
        digest = link_hash(prev, dict(row))
        at: dt.datetime = row["at"]
        links.append(
            {
                "seq": seq,
                "audit_id": row["id"],
                "day": at.astimezone(dt.UTC).date(),
                "prev_hash": prev,
                "row_hash": digest,
            }
        )
        prev = digest
    if links:
        conn.execute(sa.insert(chain), links)


def upgrade() -> None:
    chain = op.create_table(
        "audit_chain",
        sa.Column("seq", _ID, autoincrement=False, nullable=False),
        sa.Column("audit_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_chain")),
        sa.UniqueConstraint("audit_id", name=op.f("uq_audit_chain_audit_id")),
    )
    assert chain is not None
    _backfill(op.get_bind(), chain)
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (
            "audit_log_no_replace",
            "audit_chain_no_replace",
            "audit_chain_no_update",
            "audit_chain_no_delete",
        ):
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER audit_chain_no_truncate ON audit_chain")
        op.execute("DROP TRIGGER audit_chain_no_update_delete ON audit_chain")
        op.execute("DROP FUNCTION audit_chain_tail(bigint)")
    op.drop_table("audit_chain")
