"""slice client errors: what a failed slice tells its client, apart from the raw error

A failed slice's client reads a catalogue sentence (a reference rendered in the reader's
language); the job row's `error_message` keeps the raw error for operators, as the other job
tables do. Nullable, no backfill: a slice that failed before this revision shows its
`error_message` as it did.

Revision ID: 0010_slice_client_errors
Revises: 0009_job_lease_tokens
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_slice_client_errors"
down_revision: str | None = "0009_job_lease_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slice_jobs") as table:
        table.add_column(sa.Column("client_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slice_jobs") as table:
        table.drop_column("client_error")
