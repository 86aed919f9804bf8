"""provider calls: every call to a hosted provider with its outcome and cost; resubmissions of
model jobs; image job polls; where a request's prompt variants came from

Revision ID: 0005_provider_calls
Revises: 0004_model_print_files
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005_provider_calls"
down_revision: str | None = "0004_model_print_files"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIME_MS = sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "provider_calls",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("request_id", sa.String(length=26), nullable=True),
        sa.Column("job_id", sa.String(length=26), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("cost_unit", sa.String(length=16), nullable=True),
        sa.Column("provider_job_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["generation_requests.id"],
            name=op.f("fk_provider_calls_request_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_calls")),
    )
    op.create_index(
        "ix_provider_calls_request_created", "provider_calls", ["request_id", "created_at"]
    )
    op.create_index("ix_provider_calls_created", "provider_calls", ["created_at"])
    with op.batch_alter_table("model_jobs") as table:
        table.add_column(
            sa.Column("resubmits", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    with op.batch_alter_table("image_jobs") as table:
        table.add_column(
            sa.Column("poll_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    with op.batch_alter_table("generation_requests") as table:
        table.add_column(sa.Column("prompt_provider", sa.String(length=32), nullable=True))
        table.add_column(sa.Column("prompt_note", sa.Text(), nullable=True))
        table.add_column(sa.Column("prompt_claimed_at", DATETIME_MS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_requests") as table:
        table.drop_column("prompt_claimed_at")
        table.drop_column("prompt_note")
        table.drop_column("prompt_provider")
    with op.batch_alter_table("image_jobs") as table:
        table.drop_column("poll_count")
    with op.batch_alter_table("model_jobs") as table:
        table.drop_column("resubmits")
    op.drop_table("provider_calls")
