"""Versioned stream messages, encoded with orjson and decoded in one place.

A message is a notice that a job should run; the database row is the truth. `attempt` is the
attempt the sender expects (for logs and dead letters); workers compare-and-set on the row.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from lumi_common import jsonx
from lumi_common.ids import new_id

MESSAGE_VERSION: Literal[1] = 1


class UndecodableMessage(ValueError):
    """The bytes are not a message this code understands (a poison message)."""


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    v: Literal[1] = MESSAGE_VERSION
    event_id: str = Field(default_factory=new_id)
    trace_id: str = Field(default_factory=new_id)


class JobMessage(Message):
    job_id: str
    request_id: str
    attempt: int = Field(default=1, ge=1)


class ImageJobRequested(JobMessage):
    type: Literal["image_job.requested"] = "image_job.requested"
    # what the worker needs, carried along so it does not read the image row for it
    image_index: int | None = Field(default=None, ge=0)
    prompt: str | None = None


class ModelJobRequested(JobMessage):
    """A model job advances submit → poll → fetch; each poll is a delayed message of its own."""

    type: Literal["model_job.requested"] = "model_job.requested"
    step: Literal["submit", "poll", "fetch"] = "submit"


class SliceJobRequested(JobMessage):
    """A model to slice into G-code. `request_id` is the model's task (every model has one
    today); the job row says what to slice and with which profile."""

    type: Literal["slice_job.requested"] = "slice_job.requested"
    model_id: str


class WebhookDeliveryRequested(JobMessage):
    """A task event to send to one URL; the delivery row holds the URL and the signed body."""

    type: Literal["webhook_delivery.requested"] = "webhook_delivery.requested"


class DeadLetter(Message):
    """What the dead-letter stream keeps of a job that will not run again by itself."""

    type: Literal["job.dead_lettered"] = "job.dead_lettered"
    stream: str
    job_id: str | None
    original: dict[str, Any] | None
    raw: str | None = None
    reason: Literal["permanent_error", "attempts_exhausted", "delivery_cap", "undecodable"]
    error: str
    error_code: str
    attempts: int
    deliveries: int
    consumer: str
    failed_at: str


AnyMessage = Annotated[
    ImageJobRequested
    | ModelJobRequested
    | SliceJobRequested
    | WebhookDeliveryRequested
    | DeadLetter,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)


def encode(message: Message) -> bytes:
    return jsonx.dumps(message.model_dump(mode="json"))


def decode(data: bytes | str) -> AnyMessage:
    try:
        return _ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise UndecodableMessage(str(exc)) from exc


def with_attempt(message: JobMessage, attempt: int) -> JobMessage:
    """The same job message for another attempt: a new event id, the same trace."""
    return message.model_copy(update={"attempt": attempt, "event_id": new_id()})
