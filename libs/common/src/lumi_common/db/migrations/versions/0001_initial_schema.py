"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# millisecond UTC timestamps: DATETIME(3) on MySQL/MariaDB
DATETIME_MS = sa.DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "email_codes",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("requester_ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.Column("expires_at", DATETIME_MS, nullable=False),
        sa.Column("consumed_at", DATETIME_MS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_codes")),
    )
    op.create_index(
        "ix_email_codes_email_created", "email_codes", ["email", "created_at"], unique=False
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("available_at", DATETIME_MS, nullable=False),
        sa.Column("published_at", DATETIME_MS, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_published_available", "outbox", ["published_at", "available_at"], unique=False
    )

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("nick_name", sa.String(length=64), nullable=True),
        sa.Column("avatar_url", sa.String(length=500), nullable=True),
        sa.Column("gender", sa.String(length=16), nullable=True),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.Column("updated_at", DATETIME_MS, nullable=False),
        sa.Column("last_login_at", DATETIME_MS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.Column("expires_at", DATETIME_MS, nullable=False),
        sa.Column("revoked_at", DATETIME_MS, nullable=True),
        sa.Column("last_used_at", DATETIME_MS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_tokens_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_tokens_token_hash")),
    )
    op.create_index(
        "ix_auth_tokens_user_created", "auth_tokens", ["user_id", "created_at"], unique=False
    )

    op.create_table(
        "generation_requests",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("original_prompt", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("selected_image_index", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("idempotency_hash", sa.String(length=64), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.Column("updated_at", DATETIME_MS, nullable=False),
        sa.Column("completed_at", DATETIME_MS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_generation_requests_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generation_requests")),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_requests_user_idempotency"),
    )
    op.create_index(
        "ix_requests_status_updated", "generation_requests", ["status", "updated_at"], unique=False
    )
    op.create_index(
        "ix_requests_user_created",
        "generation_requests",
        ["user_id", "created_at", "id"],
        unique=False,
    )

    op.create_table(
        "generated_images",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("request_id", sa.String(length=26), nullable=False),
        sa.Column("image_index", sa.Integer(), nullable=False),
        sa.Column("image_prompt", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("storage_key", sa.String(length=500), nullable=True),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.Column("updated_at", DATETIME_MS, nullable=False),
        sa.Column("completed_at", DATETIME_MS, nullable=True),
        sa.Column("failed_at", DATETIME_MS, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["generation_requests.id"],
            name=op.f("fk_generated_images_request_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generated_images")),
        sa.UniqueConstraint("request_id", "image_index", name="uq_images_request_index"),
    )
    op.create_table(
        "image_jobs",
        sa.Column("image_id", sa.String(length=26), nullable=False),
        sa.Column("request_id", sa.String(length=26), nullable=False),
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
            ["image_id"],
            ["generated_images.id"],
            name=op.f("fk_image_jobs_image_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["generation_requests.id"],
            name=op.f("fk_image_jobs_request_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_jobs")),
        sa.UniqueConstraint("image_id", name=op.f("uq_image_jobs_image_id")),
    )
    op.create_index(
        "ix_image_jobs_status_updated", "image_jobs", ["status", "updated_at"], unique=False
    )

    op.create_table(
        "models",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("request_id", sa.String(length=26), nullable=True),
        sa.Column("source_image_id", sa.String(length=26), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("model_key", sa.String(length=500), nullable=True),
        sa.Column("mtl_key", sa.String(length=500), nullable=True),
        sa.Column("texture_key", sa.String(length=500), nullable=True),
        sa.Column("glb_key", sa.String(length=500), nullable=True),
        sa.Column("preview_key", sa.String(length=500), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("vertex_count", sa.Integer(), nullable=True),
        sa.Column("face_count", sa.Integer(), nullable=True),
        sa.Column("visibility", sa.String(length=32), nullable=False),
        sa.Column("published_at", DATETIME_MS, nullable=True),
        sa.Column("view_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("like_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("favorite_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("download_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("slice_task_id", sa.String(length=100), nullable=True),
        sa.Column("slice_status", sa.String(length=32), nullable=True),
        sa.Column("gcode_url", sa.String(length=500), nullable=True),
        sa.Column("print_status", sa.String(length=32), nullable=True),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.Column("updated_at", DATETIME_MS, nullable=False),
        sa.Column("completed_at", DATETIME_MS, nullable=True),
        sa.Column("failed_at", DATETIME_MS, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["generation_requests.id"],
            name=op.f("fk_models_request_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_image_id"],
            ["generated_images.id"],
            name=op.f("fk_models_source_image_id"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_models_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("request_id", name=op.f("uq_models_request_id")),
    )
    op.create_index(
        "ix_models_gallery_latest", "models", ["visibility", "published_at", "id"], unique=False
    )
    op.create_index(
        "ix_models_gallery_liked", "models", ["visibility", "like_count", "id"], unique=False
    )
    op.create_index(
        "ix_models_gallery_popular", "models", ["visibility", "view_count", "id"], unique=False
    )
    op.create_index("ix_models_slice_task", "models", ["slice_task_id"], unique=False)
    op.create_index(op.f("ix_models_source_image_id"), "models", ["source_image_id"], unique=False)
    op.create_index(
        "ix_models_user_created", "models", ["user_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_models_user_visibility_created",
        "models",
        ["user_id", "visibility", "created_at", "id"],
        unique=False,
    )

    op.create_table(
        "model_interactions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("model_id", sa.String(length=26), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("created_at", DATETIME_MS, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_model_interactions_model_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_model_interactions_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_interactions")),
        sa.UniqueConstraint("user_id", "model_id", "type", name="uq_interactions_user_model_type"),
    )
    op.create_index(
        "ix_interactions_model_type", "model_interactions", ["model_id", "type"], unique=False
    )
    op.create_index(
        "ix_interactions_user_type_created",
        "model_interactions",
        ["user_id", "type", "created_at", "id"],
        unique=False,
    )

    op.create_table(
        "model_jobs",
        sa.Column("model_id", sa.String(length=26), nullable=False),
        sa.Column("request_id", sa.String(length=26), nullable=False),
        sa.Column("progress", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("poll_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
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
            ["model_id"], ["models.id"], name=op.f("fk_model_jobs_model_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["generation_requests.id"],
            name=op.f("fk_model_jobs_request_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_jobs")),
        sa.UniqueConstraint("model_id", name=op.f("uq_model_jobs_model_id")),
    )
    op.create_index(
        "ix_model_jobs_status_updated", "model_jobs", ["status", "updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("model_jobs")
    op.drop_table("model_interactions")
    op.drop_table("models")
    op.drop_table("image_jobs")
    op.drop_table("generated_images")
    op.drop_table("generation_requests")
    op.drop_table("auth_tokens")
    op.drop_table("users")
    op.drop_table("outbox")
    op.drop_table("email_codes")
