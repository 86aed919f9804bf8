"""The whole data model. Every list query has an index that serves its filter and its order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lumi_common.db.types import EnumText, UtcDateTime
from lumi_common.ids import new_id
from lumi_common.states import (
    EmailCodePurpose,
    ImageStatus,
    InteractionType,
    JobStatus,
    ModelSource,
    PrintStatus,
    RequestPhase,
    RequestStatus,
    SliceStatus,
    Visibility,
)
from lumi_common.time import utcnow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

ID = String(26)
WEBHOOK_URL_CHARS = 2000
URL_KEY = String(500)
MODEL_FORMAT = "OBJ"  # what `models.format` says of `model_key`: the mobile viewer reads OBJ only


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _id() -> Mapped[str]:
    return mapped_column(ID, primary_key=True, default=new_id)


def _created() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), default=utcnow, nullable=False)


def _updated() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


def _owner(table: str) -> Mapped[str]:
    return mapped_column(ID, ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=False)


def _counter() -> Mapped[int]:
    return mapped_column(Integer, default=0, server_default=text("0"), nullable=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = _id()
    email: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    user_name: Mapped[str] = mapped_column(String(64), nullable=False)
    nick_name: Mapped[str | None] = mapped_column(String(64))
    avatar_url: Mapped[str | None] = mapped_column(URL_KEY)
    gender: Mapped[str | None] = mapped_column(String(16))
    is_admin: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("0"), nullable=False
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class EmailCode(Base):
    """A one-time login code; only its hash is stored."""

    __tablename__ = "email_codes"
    __table_args__ = (
        Index("ix_email_codes_email_created", "email", "created_at"),
        Index("ix_email_codes_expires", "expires_at"),  # the retention sweep
    )

    id: Mapped[str] = _id()
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    purpose: Mapped[EmailCodePurpose] = mapped_column(EnumText(EmailCodePurpose), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    failed_attempts: Mapped[int] = _counter()
    requester_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuthToken(Base):
    """An opaque bearer token; only its SHA-256 is stored, so a database leak reveals none."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        Index("ix_auth_tokens_user_created", "user_id", "created_at"),
        # the retention sweep: expired, or revoked
        Index("ix_auth_tokens_expires", "expires_at"),
        Index("ix_auth_tokens_revoked", "revoked_at"),
    )

    id: Mapped[str] = _id()
    user_id: Mapped[str] = _owner("users")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class GenerationRequest(Base):
    __tablename__ = "generation_requests"
    __table_args__ = (
        Index("ix_requests_user_created", "user_id", "created_at", "id"),
        Index("ix_requests_status_updated", "status", "updated_at"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_requests_user_idempotency"),
    )

    id: Mapped[str] = _id()
    user_id: Mapped[str] = _owner("users")
    original_prompt: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[RequestStatus] = mapped_column(
        EnumText(RequestStatus), default=RequestStatus.IMAGE_PENDING, nullable=False
    )
    phase: Mapped[RequestPhase] = mapped_column(
        EnumText(RequestPhase), default=RequestPhase.IMAGE_GENERATION, nullable=False
    )
    selected_image_index: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    idempotency_hash: Mapped[str | None] = mapped_column(String(64))
    # who wrote the image prompts: NULL = the offline variants of the creation; "openai" = a
    # chat model, asked by the first image job ("openai:pending" while it is being asked)
    prompt_provider: Mapped[str | None] = mapped_column(String(32))
    prompt_note: Mapped[str | None] = mapped_column(Text)  # why the offline variants stayed
    prompt_claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    trace_id: Mapped[str | None] = mapped_column(String(32))
    # where this task's webhook events also go (an API client's `callbackUrl`; the apps send none)
    callback_url: Mapped[str | None] = mapped_column(String(WEBHOOK_URL_CHARS))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class GeneratedImage(Base):
    __tablename__ = "generated_images"
    __table_args__ = (
        UniqueConstraint("request_id", "image_index", name="uq_images_request_index"),
    )

    id: Mapped[str] = _id()
    request_id: Mapped[str] = _owner("generation_requests")
    image_index: Mapped[int] = mapped_column(Integer, nullable=False)
    image_prompt: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[ImageStatus] = mapped_column(
        EnumText(ImageStatus), default=ImageStatus.PENDING, nullable=False
    )
    storage_key: Mapped[str | None] = mapped_column(URL_KEY)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error_message: Mapped[str | None] = mapped_column(Text)


class JobColumns:
    """Columns every job table has (one row per job): what the runtime claims, leases and
    settles. A new kind of job is a table with these and its own columns."""

    id: Mapped[str] = _id()
    status: Mapped[JobStatus] = mapped_column(
        EnumText(JobStatus), default=JobStatus.QUEUED, nullable=False
    )
    attempt: Mapped[int] = _counter()
    provider_name: Mapped[str | None] = mapped_column(String(50))
    provider_job_id: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # the consumer running the job and until when; expired or empty means anyone may take it over
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    # random, written by each claim: its holder's later writes compare (id, token), so one whose
    # lease was taken over changes nothing; a completed row keeps its completing statement's
    lease_token: Mapped[str | None] = mapped_column(ID)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ImageJob(JobColumns, Base):
    __tablename__ = "image_jobs"
    __table_args__ = (Index("ix_image_jobs_status_updated", "status", "updated_at"),)

    image_id: Mapped[str] = mapped_column(
        ID, ForeignKey("generated_images.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    request_id: Mapped[str] = _owner("generation_requests")
    poll_count: Mapped[int] = _counter()  # polls of an asynchronous image provider


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (
        # gallery lists: published_at is set exactly while a model is PUBLIC and completed
        Index("ix_models_gallery_latest", "visibility", "published_at", "id"),
        Index("ix_models_gallery_popular", "visibility", "view_count", "id"),
        Index("ix_models_gallery_liked", "visibility", "like_count", "id"),
        Index("ix_models_user_created", "user_id", "created_at", "id"),
        Index("ix_models_user_visibility_created", "user_id", "visibility", "created_at", "id"),
        Index("ix_models_slice_task", "slice_task_id"),
    )

    id: Mapped[str] = _id()
    user_id: Mapped[str] = _owner("users")
    request_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("generation_requests.id", ondelete="CASCADE"), unique=True
    )
    source_image_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("generated_images.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[ModelSource] = mapped_column(
        EnumText(ModelSource), default=ModelSource.AI_GENERATED, nullable=False
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    model_key: Mapped[str | None] = mapped_column(URL_KEY)
    mtl_key: Mapped[str | None] = mapped_column(URL_KEY)
    texture_key: Mapped[str | None] = mapped_column(URL_KEY)
    glb_key: Mapped[str | None] = mapped_column(URL_KEY)
    preview_key: Mapped[str | None] = mapped_column(URL_KEY)
    format: Mapped[str] = mapped_column(String(16), default=MODEL_FORMAT, nullable=False)
    file_size: Mapped[int | None] = mapped_column(BigInteger)  # the OBJ's
    glb_size: Mapped[int | None] = mapped_column(BigInteger)
    stl_size: Mapped[int | None] = mapped_column(BigInteger)
    # the print copy: millimetres, Z up, on the bed; the viewer files are unit-sized, Y up
    stl_key: Mapped[str | None] = mapped_column(URL_KEY)
    size_x_mm: Mapped[float | None] = mapped_column(Float)
    size_y_mm: Mapped[float | None] = mapped_column(Float)
    size_z_mm: Mapped[float | None] = mapped_column(Float)
    vertex_count: Mapped[int | None] = mapped_column(Integer)
    face_count: Mapped[int | None] = mapped_column(Integer)
    visibility: Mapped[Visibility] = mapped_column(
        EnumText(Visibility), default=Visibility.PUBLIC, nullable=False
    )
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    view_count: Mapped[int] = _counter()
    like_count: Mapped[int] = _counter()
    favorite_count: Mapped[int] = _counter()
    download_count: Mapped[int] = _counter()
    # the model's latest slice (`slice_jobs.id`), its status as the apps know it, its G-code
    slice_task_id: Mapped[str | None] = mapped_column(String(100))
    slice_status: Mapped[SliceStatus | None] = mapped_column(EnumText(SliceStatus))
    gcode_key: Mapped[str | None] = mapped_column(URL_KEY)
    print_status: Mapped[PrintStatus | None] = mapped_column(
        EnumText(PrintStatus), default=PrintStatus.NOT_STARTED
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error_message: Mapped[str | None] = mapped_column(Text)


class ModelJob(JobColumns, Base):
    __tablename__ = "model_jobs"
    __table_args__ = (Index("ix_model_jobs_status_updated", "status", "updated_at"),)

    model_id: Mapped[str] = mapped_column(
        ID, ForeignKey("models.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    request_id: Mapped[str] = _owner("generation_requests")
    progress: Mapped[int] = _counter()
    stage: Mapped[str | None] = mapped_column(String(32))
    poll_count: Mapped[int] = _counter()
    resubmits: Mapped[int] = _counter()  # submissions again after a provider's result expired


class SliceJob(JobColumns, Base):
    """One request to slice a model into G-code; its id is the `sliceTaskId` the apps poll.

    A model keeps its latest slice only: slicing it again replaces a finished one.
    """

    __tablename__ = "slice_jobs"
    __table_args__ = (
        Index("ix_slice_jobs_status_updated", "status", "updated_at"),
        Index("ix_slice_jobs_model_created", "model_id", "created_at"),
    )

    model_id: Mapped[str] = _owner("models")
    user_id: Mapped[str] = _owner("users")
    profile: Mapped[str] = mapped_column(String(64), nullable=False)
    gcode_key: Mapped[str | None] = mapped_column(URL_KEY)
    gcode_size: Mapped[int | None] = mapped_column(BigInteger)
    thumbnail_key: Mapped[str | None] = mapped_column(URL_KEY)
    # what the G-code says of the print (time, filament, layers), JSON as the worker wrote it
    gcode_metadata: Mapped[str | None] = mapped_column(Text)
    # what a failed slice tells its client (a catalogue reference, `lumi_common.i18n.stored`);
    # `error_message` keeps the raw error for operators, as every job row does
    client_error: Mapped[str | None] = mapped_column(Text)


class WebhookEndpoint(Base):
    """A URL a user registered for their tasks' events, with the secret its deliveries are
    signed with (Standard Webhooks: `whsec_` + base64; kept to sign, shown to the user once)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_user_created", "user_id", "created_at", "id"),)

    id: Mapped[str] = _id()
    user_id: Mapped[str] = _owner("users")
    url: Mapped[str] = mapped_column(String(WEBHOOK_URL_CHARS), nullable=False)
    event_types: Mapped[str] = mapped_column(String(255), nullable=False)  # comma-separated
    secret: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = _created()


class WebhookSecret(Base):
    """The secret a user's `callbackUrl` deliveries are signed with (one per user, made on
    first use and readable by its owner, as an account's default webhook secret is)."""

    __tablename__ = "webhook_secrets"

    user_id: Mapped[str] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = _created()


class WebhookDelivery(JobColumns, Base):
    """One event for one URL: a job of the webhook worker. The body is fixed when the event
    happens, so every attempt sends (and signs) the same bytes under the same `webhook-id`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_updated", "status", "updated_at"),
        Index("ix_webhook_deliveries_request_created", "request_id", "created_at"),
    )

    request_id: Mapped[str] = _owner("generation_requests")
    user_id: Mapped[str] = _owner("users")
    # NULL: the task's `callbackUrl` (signed with the user's `WebhookSecret`)
    endpoint_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(String(WEBHOOK_URL_CHARS), nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    response_status: Mapped[int | None] = mapped_column(Integer)


class ModelInteraction(Base):
    __tablename__ = "model_interactions"
    __table_args__ = (
        UniqueConstraint("user_id", "model_id", "type", name="uq_interactions_user_model_type"),
        Index("ix_interactions_user_type_created", "user_id", "type", "created_at", "id"),
        Index("ix_interactions_model_type", "model_id", "type"),
    )

    id: Mapped[str] = _id()
    user_id: Mapped[str] = _owner("users")
    model_id: Mapped[str] = _owner("models")
    type: Mapped[InteractionType] = mapped_column(EnumText(InteractionType), nullable=False)
    created_at: Mapped[datetime] = _created()


class FileDeletion(Base):
    """A folder of stored files still to delete (a deleted task's images, its model's files).

    Written in the transaction that deletes their rows, so the intent survives a crash after the
    commit; removed once the folder is gone, retried with backoff while the storage refuses.
    """

    __tablename__ = "file_deletions"
    __table_args__ = (Index("ix_file_deletions_available", "available_at"),)

    id: Mapped[str] = _id()
    prefix: Mapped[str] = mapped_column(URL_KEY, nullable=False)
    attempts: Mapped[int] = _counter()
    last_error: Mapped[str | None] = mapped_column(Text)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    created_at: Mapped[datetime] = _created()


class ProviderCallRecord(Base):
    """One call to a hosted provider (lumi_common.providers.calls): what it cost, how it ended."""

    __tablename__ = "provider_calls"
    __table_args__ = (
        Index("ix_provider_calls_request_created", "request_id", "created_at"),
        Index("ix_provider_calls_created", "created_at"),
    )

    id: Mapped[str] = _id()
    request_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("generation_requests.id", ondelete="CASCADE")
    )
    job_id: Mapped[str | None] = mapped_column(ID)
    stage: Mapped[str] = mapped_column(String(16), nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    model: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(32), nullable=False)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    cost: Mapped[float | None] = mapped_column(Float)
    cost_unit: Mapped[str | None] = mapped_column(String(16))
    provider_job_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class OutboxEvent(Base):
    """An event written in the same transaction as the change it announces."""

    __tablename__ = "outbox"
    __table_args__ = (
        # the relay's claim (unpublished and due) and the retention sweep (published before X)
        Index("ix_outbox_published_available", "published_at", "available_at"),
    )

    id: Mapped[str] = _id()
    stream: Mapped[str] = mapped_column(String(64), nullable=False)
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = _counter()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class AdminAction(Base):
    """What an administrator did from the ops console or `/api/admin` (replay, purge): who,
    when, on what, and how it ended. Kept when the user is deleted (the e-mail stays)."""

    __tablename__ = "admin_actions"
    __table_args__ = (Index("ix_admin_actions_created", "created_at"),)

    id: Mapped[str] = _id()
    user_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id", ondelete="SET NULL"))
    user_email: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    stream: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: the ids, or "all"
    outcome: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: what it did
    created_at: Mapped[datetime] = _created()
