"""dates that mean something and the citywide clause: 核实日期 on every sourced record, the guide
source's publication date, whether an agreement's signed text carries "一地签约、全市共享"

Revision ID: 0006_staffdata
Revises: 0005_partners
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_staffdata"
down_revision: str | None = "0005_partners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERIFIED = ("matters", "halls", "agreements", "contacts", "region_relations")
# Demo samples withdrawn because a narrower scope contradicts national policy (机动车驾驶证期满换证 is
# 全国通办 since 2019, …): an instance loaded with the old demo stops publishing them. Only rows still
# marked as samples are touched; real data never is.
WITHDRAWN_SAMPLES = ("S-002", "S-003", "S-004", "S-005")


def upgrade() -> None:
    for table in VERIFIED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("verified_on", sa.Date(), nullable=True))
    with op.batch_alter_table("guides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_published_on", sa.Date(), nullable=True))
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("includes_clause", sa.Boolean(), nullable=True))
    matters = sa.table(
        "matters",
        sa.column("code", sa.String),
        sa.column("is_sample", sa.Boolean),
        sa.column("published", sa.Boolean),
    )
    op.execute(
        matters.update()
        .where(matters.c.code.in_(WITHDRAWN_SAMPLES), matters.c.is_sample.is_(True))
        .values(published=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("includes_clause")
    with op.batch_alter_table("guides", schema=None) as batch_op:
        batch_op.drop_column("source_published_on")
    for table in reversed(VERIFIED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("verified_on")
