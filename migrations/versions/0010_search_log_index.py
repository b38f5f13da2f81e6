"""search_events: no index on query (each insert wrote a page of it at random)

The staff page's search gaps group a date range's questions (`ix_search_events_at` selects them);
the index on the question text served no query, and at ~1,000 searches a second every insert put
its row on another page of it. The search tokens became time-ordered at the same time (code only,
`api.services.search_log.new_token`), so the unique index on them grows at its end.

Revision ID: 0010_search_log_index
Revises: 0009_importjobs
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_search_log_index"
down_revision: str | None = "0009_importjobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("search_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_events_query"))


def downgrade() -> None:
    with op.batch_alter_table("search_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_events_query"), ["query"], unique=False)
