"""file deletions: folders of stored files still to delete, retried until gone

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIME_MS = sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "file_deletions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("prefix", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("available_at", DATETIME_MS, nullable=False),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_deletions")),
    )
    op.create_index("ix_file_deletions_available", "file_deletions", ["available_at"], unique=False)


def downgrade() -> None:
    op.drop_table("file_deletions")
