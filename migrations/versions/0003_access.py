"""one-time public form tokens

Revision ID: 0003_access
Revises: 0002_coop
Create Date: 2026-12-02 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_access"
down_revision: str | None = "0002_coop"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "used_form_tokens",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_form_tokens")),
    )
    with op.batch_alter_table("used_form_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_used_form_tokens_used_at", ["used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("used_form_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_used_form_tokens_used_at")

    op.drop_table("used_form_tokens")
