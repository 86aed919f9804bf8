"""webhooks: endpoints users register, their deliveries (jobs of the webhook worker), the
secret of `callbackUrl` deliveries, and a task's `callback_url`

Revision ID: 0006_webhooks
Revises: 0005_provider_calls
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006_webhooks"
down_revision: str | None = "0005_provider_calls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIME_MS = sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")
URL = sa.String(length=2000)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("url", URL, nullable=False),
        sa.Column("event_types", sa.String(length=255), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_webhook_endpoints_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        "ix_webhook_endpoints_user_created", "webhook_endpoints", ["user_id", "created_at", "id"]
    )
    op.create_table(
        "webhook_secrets",
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_webhook_secrets_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_webhook_secrets")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("request_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("endpoint_id", sa.String(length=26), nullable=True),
        sa.Column("url", URL, nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
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
            ["request_id"],
            ["generation_requests.id"],
            name=op.f("fk_webhook_deliveries_request_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_webhook_deliveries_user_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_status_updated", "webhook_deliveries", ["status", "updated_at"]
    )
    op.create_index(
        "ix_webhook_deliveries_request_created", "webhook_deliveries", ["request_id", "created_at"]
    )
    with op.batch_alter_table("generation_requests") as table:
        table.add_column(sa.Column("callback_url", URL, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_requests") as table:
        table.drop_column("callback_url")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_secrets")
    op.drop_table("webhook_endpoints")
