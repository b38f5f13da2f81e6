"""cooperation activities and the public needs survey

Revision ID: 0002_coop
Revises: 0001
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_coop"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "CONSULTATION",
                "SECONDMENT",
                "JOINT_TRAINING",
                "SHADOWING",
                "GUIDANCE",
                "REVIEW",
                name="activity_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("partner_code", sa.String(length=12), nullable=False),
        sa.Column("local_code", sa.String(length=12), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("is_sample", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["local_code"], ["regions.code"], name=op.f("fk_activities_local_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["partner_code"], ["regions.code"], name=op.f("fk_activities_partner_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activities_held_on"), ["held_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_activities_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_activities_local_code"), ["local_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_activities_partner_code"), ["partner_code"], unique=False)

    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("respondent", sa.String(length=20), nullable=False),
        sa.Column("home_province", sa.String(length=12), nullable=False),
        sa.Column("home_region", sa.String(length=12), nullable=True),
        sa.Column("matter_codes", sa.JSON(), nullable=False),
        sa.Column("other_matter", sa.String(length=100), nullable=True),
        sa.Column("obstacles", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["home_province"], ["regions.code"], name=op.f("fk_survey_responses_home_province_regions")
        ),
        sa.ForeignKeyConstraint(
            ["home_region"], ["regions.code"], name=op.f("fk_survey_responses_home_region_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
    )
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_survey_responses_home_province"), ["home_province"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_responses_home_province"))

    op.drop_table("survey_responses")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_partner_code"))
        batch_op.drop_index(batch_op.f("ix_activities_local_code"))
        batch_op.drop_index(batch_op.f("ix_activities_kind"))
        batch_op.drop_index(batch_op.f("ix_activities_held_on"))

    op.drop_table("activities")
