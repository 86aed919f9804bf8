"""The generation request row: locked first by every transaction that changes it, and bumped on
every change a client should see (or `?since=` polling never sees it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import object_session

from lumi_common import task_changes
from lumi_common.db.tables import GenerationRequest
from lumi_common.time import utcnow

ONE_MS = timedelta(milliseconds=1)


async def lock_request(session: AsyncSession, request_id: str) -> GenerationRequest | None:
    """Take the request's row lock: concurrent image outcomes of one request then serialise, so
    the last one always sees the others when it decides the request's status."""
    query = (
        select(GenerationRequest)
        .where(GenerationRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


def next_updated_at(previous: datetime) -> datetime:
    """Strictly later than `previous`, even for two changes within one millisecond."""
    return max(utcnow(), previous + ONE_MS)


def touch(request: GenerationRequest) -> None:
    request.updated_at = next_updated_at(request.updated_at)
    if (session := object_session(request)) is not None:
        task_changes.changed(session, request.id)
