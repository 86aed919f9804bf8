"""job lease tokens: each claim writes a random token, and its holder's later writes (renewals,
progress, the outcome) compare (id, token) instead of the lease expiry's exact timestamp

Nullable, and no backfill. A row claimed by code older than this revision (a rolling deploy:
workers of both versions run against the migrated schema) has no token, and no token is
invented for it: nobody could know one written here. Its holder writes its outcome as it always
did (owner and attempt), and new code never writes over it, since SQL equality with NULL is
never true; new code takes it over only as before (queued, retrying, parked, lease expired), and
that claim writes a token. Old code taking over a row new code claimed leaves the new claim's
token in place, so new code compares the lease owner as well as the token until no old worker
is left.

Revision ID: 0009_job_lease_tokens
Revises: 0008_admin_actions
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_job_lease_tokens"
down_revision: str | None = "0008_admin_actions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOB_TABLES = ("image_jobs", "model_jobs", "slice_jobs", "webhook_deliveries")


def upgrade() -> None:
    for name in JOB_TABLES:
        with op.batch_alter_table(name) as table:
            table.add_column(sa.Column("lease_token", sa.String(length=26), nullable=True))


def downgrade() -> None:
    for name in reversed(JOB_TABLES):
        with op.batch_alter_table(name) as table:
            table.drop_column("lease_token")
