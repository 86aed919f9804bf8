"""Adding events inside the caller's transaction. Nothing here commits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.changes import changed
from lumi_common.db.tables import OutboxEvent
from lumi_common.ids import new_id
from lumi_common.messages import Message, encode
from lumi_common.time import utcnow


def add_event(
    session: AsyncSession,
    *,
    stream: str,
    key: str,
    message: Message,
    available_at: datetime | None = None,
) -> OutboxEvent:
    """Queue `message` for `stream` (a logical name); `available_at` delays its delivery."""
    event = OutboxEvent(**event_row(stream=stream, key=key, message=message, at=available_at))
    session.add(event)
    return event


def event_row(
    *,
    stream: str,
    key: str,
    message: Message,
    at: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An event as plain column values, for callers inserting many rows at once
    (`lumi_common.db.bulk.insert_values`) in their transaction; due `at` (default: now)."""
    now = now or utcnow()
    return {
        "id": new_id(),
        "stream": stream,
        "key": key,
        "payload": encode(message).decode(),
        "available_at": at or now,
        "attempts": 0,
        "created_at": now,
    }


async def discard_unpublished(session: AsyncSession, *, stream: str, keys: Collection[str]) -> int:
    """Drop events for `stream` keyed by `keys` that the relay has not published yet.

    A row the relay is publishing right now is locked: this waits for it, then leaves it alone
    (it is published by then), so the caller must still clean up what did reach the stream.
    """
    if not keys:
        return 0
    return await changed(
        session,
        delete(OutboxEvent)
        .where(
            OutboxEvent.published_at.is_(None),
            OutboxEvent.stream == stream,
            OutboxEvent.key.in_(list(keys)),
        )
        .execution_options(synchronize_session=False),
    )
