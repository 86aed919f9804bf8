"""auth rows retention: indexes for the sweep that deletes expired login codes and expired or
revoked tokens

Revision ID: 0007_auth_rows_retention
Revises: 0006_webhooks
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_auth_rows_retention"
down_revision: str | None = "0006_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_email_codes_expires", "email_codes", ["expires_at"])
    op.create_index("ix_auth_tokens_expires", "auth_tokens", ["expires_at"])
    op.create_index("ix_auth_tokens_revoked", "auth_tokens", ["revoked_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_tokens_revoked", table_name="auth_tokens")
    op.drop_index("ix_auth_tokens_expires", table_name="auth_tokens")
    op.drop_index("ix_email_codes_expires", table_name="email_codes")
