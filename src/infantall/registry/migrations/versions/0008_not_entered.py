"""Choice columns of patients may be empty: "not entered" apart from "unknown".

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06

Until now a choice left out of a form, an API request or a CSV import was stored as
``unknown``, so a data manager could not tell a value nobody entered from one entered as
unknown. The diagnosis choice columns become nullable: NULL is *not entered*. Rows written
before this revision keep ``unknown`` (which of them were not entered cannot be recovered).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Column -> width of the choice columns of ``patients``.
CHOICE_COLUMNS = {
    "sex": 16,
    "immunophenotype": 24,
    "cd10": 16,
    "kmt2a": 16,
    "fusion_partner": 16,
    "cns": 16,
    "prednisone_response": 16,
    "day15_marrow": 16,
}


def _set_nullable(nullable: bool) -> None:
    with op.batch_alter_table("patients") as batch:
        for name, width in CHOICE_COLUMNS.items():
            batch.alter_column(name, existing_type=sa.String(width), nullable=nullable)


def upgrade() -> None:
    _set_nullable(True)


def downgrade() -> None:
    # Not entered becomes "unknown" again, the only value the older schema can hold.
    for name in CHOICE_COLUMNS:
        op.execute(sa.text(f"UPDATE patients SET {name} = 'unknown' WHERE {name} IS NULL"))
    _set_nullable(False)
