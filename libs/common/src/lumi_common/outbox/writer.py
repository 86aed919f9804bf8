"""Adding events inside the caller's transaction. Nothing here commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

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
    now = utcnow()
    event = OutboxEvent(
        id=new_id(),
        stream=stream,
        key=key,
        payload=encode(message).decode(),
        available_at=available_at or now,
        created_at=now,
    )
    session.add(event)
    return event
