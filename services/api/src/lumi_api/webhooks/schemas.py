"""Webhook endpoint bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from lumi_api import texts
from lumi_api.schemas import ApiModel, Timestamp
from lumi_common.db.tables import WebhookEndpoint
from lumi_common.i18n import InvalidValue
from lumi_common.webhooks.events import EVENT_TYPES

EventType = Annotated[StrictStr, AfterValidator(lambda v: _event_type(v))]


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise InvalidValue(texts.UNKNOWN_EVENT_TYPE(choices=", ".join(EVENT_TYPES)))
    return value


class CreateWebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    url: StrictStr = Field(min_length=1)
    # every event when absent
    event_types: list[EventType] | None = Field(
        default=None, alias="eventTypes", min_length=1, max_length=len(EVENT_TYPES)
    )

    def types(self) -> list[str]:
        return sorted(set(self.event_types or EVENT_TYPES))


class WebhookOut(ApiModel):
    id: str
    url: str
    event_types: list[str]
    created_at: Timestamp

    @classmethod
    def build(cls, endpoint: WebhookEndpoint) -> WebhookOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            event_types=endpoint.event_types.split(","),
            created_at=endpoint.created_at,
        )


class CreatedWebhookOut(WebhookOut):
    # shown this once: deliveries are signed with it (Standard Webhooks `whsec_…`)
    secret: str

    @classmethod
    def created(cls, endpoint: WebhookEndpoint) -> CreatedWebhookOut:
        return cls(**WebhookOut.build(endpoint).model_dump(), secret=endpoint.secret)


class WebhookListOut(ApiModel):
    items: list[WebhookOut]
    total: int


class SigningSecretOut(ApiModel):
    """The secret the caller's `callbackUrl` deliveries are signed with."""

    secret: str
    created_at: Timestamp

    @classmethod
    def of(cls, secret: str, created_at: datetime) -> SigningSecretOut:
        return cls(secret=secret, created_at=created_at)
