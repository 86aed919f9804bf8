"""slice jobs: a model sliced into G-code; models.gcode_url holds a key, renamed gcode_key

Revision ID: 0003_slice_jobs
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003_slice_jobs"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIME_MS = sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("models") as models:
        models.alter_column(
            "gcode_url", new_column_name="gcode_key", existing_type=sa.String(length=500)
        )
    op.create_table(
        "slice_jobs",
        sa.Column("model_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("gcode_key", sa.String(length=500), nullable=True),
        sa.Column("gcode_size", sa.BigInteger(), nullable=True),
        sa.Column("thumbnail_key", sa.String(length=500), nullable=True),
        sa.Column("gcode_metadata", sa.Text(), nullable=True),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("provider_name", sa.String(length=50), nullable=True),
        sa.Column("provider_job_id", sa.String(length=255), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", DATETIME_MS, nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", DATETIME_MS, nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.Column("updated_at", DATETIME_MS, nullable=False),
        sa.Column("started_at", DATETIME_MS, nullable=True),
        sa.Column("completed_at", DATETIME_MS, nullable=True),
        sa.Column("failed_at", DATETIME_MS, nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_slice_jobs_model_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_slice_jobs_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slice_jobs")),
    )
    op.create_index(
        "ix_slice_jobs_status_updated", "slice_jobs", ["status", "updated_at"], unique=False
    )
    op.create_index(
        "ix_slice_jobs_model_created", "slice_jobs", ["model_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("slice_jobs")
    with op.batch_alter_table("models") as models:
        models.alter_column(
            "gcode_key", new_column_name="gcode_url", existing_type=sa.String(length=500)
        )
