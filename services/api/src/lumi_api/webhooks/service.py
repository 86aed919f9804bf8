"""Webhook endpoints: register (with a new secret), list, delete; the `callbackUrl` secret.
Each function runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api import texts
from lumi_common.db.changes import changed
from lumi_common.db.tables import WebhookEndpoint, WebhookSecret
from lumi_common.errors import InvalidState, NotFound, ValidationFailed
from lumi_common.ids import new_id
from lumi_common.webhooks import signing
from lumi_common.webhooks.urls import UnacceptableUrl, check_url


class WebhookNotFound(NotFound):
    default_message = texts.WEBHOOK_NOT_FOUND


class TooManyWebhooks(InvalidState):
    code = "TOO_MANY_WEBHOOKS"


class UrlNotAllowed(ValidationFailed):
    code = "WEBHOOK_URL_NOT_ALLOWED"


def acceptable_url(url: str, *, allow_private: bool, field: str) -> str:
    try:
        return check_url(url, allow_private=allow_private)
    except UnacceptableUrl as exc:
        raise UrlNotAllowed(texts.FIELD_PROBLEM(field=field, reason=exc.text)) from None


async def register(
    session: AsyncSession,
    *,
    user_id: str,
    url: str,
    event_types: Sequence[str],
    limit: int,
    now: datetime,
) -> WebhookEndpoint:
    count = await session.scalar(
        select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.user_id == user_id)
    )
    if (count or 0) >= limit:
        raise TooManyWebhooks(texts.TOO_MANY_WEBHOOKS(limit=limit))
    endpoint = WebhookEndpoint(
        id=new_id(),
        user_id=user_id,
        url=url,
        event_types=",".join(event_types),
        secret=signing.new_secret(),
        created_at=now,
    )
    session.add(endpoint)
    return endpoint


async def list_endpoints(session: AsyncSession, *, user_id: str) -> list[WebhookEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.user_id == user_id)
        .order_by(WebhookEndpoint.created_at.desc(), WebhookEndpoint.id.desc())
    )
    return list(rows)


async def remove(session: AsyncSession, *, user_id: str, webhook_id: str) -> None:
    """Its deliveries not yet made go with it (they cascade; their messages find nothing)."""
    removed = await changed(
        session,
        delete(WebhookEndpoint).where(
            WebhookEndpoint.id == webhook_id, WebhookEndpoint.user_id == user_id
        ),
    )
    if removed != 1:
        raise WebhookNotFound()


async def callback_secret(session: AsyncSession, *, user_id: str, now: datetime) -> WebhookSecret:
    """The user's `callbackUrl` signing secret, made on first use."""
    found = await session.get(WebhookSecret, user_id)
    if found is not None:
        return found
    made = WebhookSecret(user_id=user_id, secret=signing.new_secret(), created_at=now)
    session.add(made)
    await session.flush()
    return made
