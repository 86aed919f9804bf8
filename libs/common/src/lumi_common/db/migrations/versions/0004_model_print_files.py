"""model print files: the STL (millimetres, Z up) and its size beside the unit-sized viewer files

Revision ID: 0004_model_print_files
Revises: 0003_slice_jobs
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_model_print_files"
down_revision: str | None = "0003_slice_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("glb_size", "stl_size", "stl_key", "size_x_mm", "size_y_mm", "size_z_mm")


def upgrade() -> None:
    with op.batch_alter_table("models") as table:
        table.add_column(sa.Column("glb_size", sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("stl_size", sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("stl_key", sa.String(length=500), nullable=True))
        table.add_column(sa.Column("size_x_mm", sa.Float(), nullable=True))
        table.add_column(sa.Column("size_y_mm", sa.Float(), nullable=True))
        table.add_column(sa.Column("size_z_mm", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("models") as table:
        for name in reversed(_COLUMNS):
            table.drop_column(name)
