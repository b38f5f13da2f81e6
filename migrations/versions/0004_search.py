"""search log: one row per public search (issue 16)

Revision ID: 0004_search
Revises: 0003_access
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_search"
down_revision: str | None = "0003_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("query", sa.String(length=100), nullable=False),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.Column("found", sa.Integer(), server_default="0", nullable=False),
        sa.Column("clicked_code", sa.String(length=40), nullable=True),
        sa.Column("clicked_rank", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_events")),
        sa.UniqueConstraint("token", name=op.f("uq_search_events_token")),
    )
    with op.batch_alter_table("search_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_events_query"), ["query"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("search_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_events_query"))
        batch_op.drop_index(batch_op.f("ix_search_events_at"))
    op.drop_table("search_events")
