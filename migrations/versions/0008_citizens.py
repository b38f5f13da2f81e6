"""agreements.not_shared_reason: why an agreement is not shared citywide (issue 15)

The policy says any agreement signed with any county counts citywide (一地签约、全市共享); where staff
record an agreement as not shared, they now say why, and citizens see that reason on the verdict.

Revision ID: 0008_citizens
Revises: 0007_secgql
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_citizens"
down_revision: str | None = "0007_secgql"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_shared_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("not_shared_reason")
