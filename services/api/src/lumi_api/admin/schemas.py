"""What `/api/admin/…` reads and answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from lumi_api import texts
from lumi_api.schemas import ApiModel, Timestamp
from lumi_common.i18n import InvalidValue

# one request replays or purges at most this many letters; "all" carries on with another call
MAX_SELECTION = 500
DEFAULT_LETTERS = 100
MAX_ACTIONS = 200

EntryId = Annotated[str, StringConstraints(pattern=r"^\d{1,20}(?:-\d{1,20})?$")]


class ConsumerOut(ApiModel):
    name: str
    pending: int
    idle_ms: int = Field(description="Since its last attempted read or claim")
    inactive_ms: int | None = Field(description="Since its last successful read (Redis 7.2+)")


class StreamOut(ApiModel):
    stream: str = Field(description="Logical name, as in `/admin/dead-letters/{stream}`")
    key: str = Field(description="The Redis key")
    length: int
    pending: int
    lag: int | None = Field(description="Entries not yet delivered; null when Redis cannot tell")
    consumers: list[ConsumerOut]
    dead_letters: int
    outbox_due: int = Field(description="Events waiting in the outbox for this stream, due now")
    replayable: bool = Field(description="Whether this API can replay its dead letters")


class OutboxOut(ApiModel):
    due: int = Field(description="Unpublished events that are due: the relay's backlog")
    delayed: int = Field(description="Unpublished events scheduled later (retries, polls)")
    oldest_due_age_seconds: float | None


class StreamsOut(ApiModel):
    streams: list[StreamOut]
    outbox: OutboxOut
    checked_at: Timestamp


class DeadLetterOut(ApiModel):
    id: str
    stream: str
    job_id: str | None
    reason: str
    error: str
    error_code: str | None
    attempts: int | None
    deliveries: int | None
    consumer: str | None
    failed_at: str | None
    payload: dict[str, Any] | None = Field(description="The job message that failed")
    raw: str | None = Field(description="The entry as stored, when it could not be decoded")


class DeadLettersOut(ApiModel):
    stream: str
    total: int
    items: list[DeadLetterOut]


class DeadLettersQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: int = Field(default=DEFAULT_LETTERS, ge=1, le=MAX_SELECTION)


class SelectionBody(BaseModel):
    """Some letters by id, or every letter present now (`{"all": true}`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ids: list[EntryId] | None = Field(default=None, min_length=1, max_length=MAX_SELECTION)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.ids is None) == (not self.all):
            raise InvalidValue(texts.IDS_OR_ALL)
        return self


class ReplayedOut(ApiModel):
    id: str
    job_id: str | None
    outcome: Literal["requeued", "would_requeue", "not_failed", "no_job", "unreadable", "missing"]


class ReplayOut(ApiModel):
    stream: str
    total: int = Field(description="Letters asked for (with `all`: present when it started)")
    replayed: int
    results: list[ReplayedOut]
    interrupted: bool = Field(description="Stopped at the per-request cap: call again for more")


class PurgeOut(ApiModel):
    stream: str
    total: int
    removed: int
    interrupted: bool = Field(description="Stopped at the per-request cap: call again for more")


class ActionOut(ApiModel):
    id: str
    user_id: str | None
    user_email: str
    action: str
    stream: str | None
    target: Any
    outcome: Any
    created_at: Timestamp


class ActionsOut(ApiModel):
    items: list[ActionOut]


class ActionsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: int = Field(default=50, ge=1, le=MAX_ACTIONS)


class JobOut(ApiModel):
    kind: Literal["image", "model", "slice"]
    id: str
    status: str
    attempt: int
    error_code: str | None
    error_message: str | None
    next_attempt_at: Timestamp | None
    lease_owner: str | None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None
    failed_at: Timestamp | None
    dead_letters: list[str] = Field(description="Ids of this job's entries in its dead letters")


class TaskJobsOut(ApiModel):
    id: str
    user_id: str
    prompt: str
    status: str
    phase: str
    error_message: str | None
    trace_id: str | None
    created_at: Timestamp
    updated_at: Timestamp
    jobs: list[JobOut]
