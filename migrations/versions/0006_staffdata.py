"""dates that mean something and the citywide clause: 核实日期 on every sourced record, the guide
source's publication date, whether an agreement's signed text carries "一地签约、全市共享"

Revision ID: 0006_staffdata
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_staffdata"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERIFIED = ("matters", "halls", "agreements", "contacts", "region_relations")


def upgrade() -> None:
    for table in VERIFIED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("verified_on", sa.Date(), nullable=True))
    with op.batch_alter_table("guides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_published_on", sa.Date(), nullable=True))
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("includes_clause", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("includes_clause")
    with op.batch_alter_table("guides", schema=None) as batch_op:
        batch_op.drop_column("source_published_on")
    for table in reversed(VERIFIED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("verified_on")
