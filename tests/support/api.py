"""Building the API for a test, and the users and rows a test needs, through our own code."""

from __future__ import annotations

import secrets
from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth import service as auth_service
from lumi_common.db.tables import GeneratedImage, GenerationRequest, ImageJob
from lumi_common.states import ImageStatus, JobStatus, RequestPhase, RequestStatus
from lumi_common.time import utcnow

Client = TestClient[web.Request, web.Application]


def unique_email(label: str = "user") -> str:
    return f"{label}-{secrets.token_hex(6)}@example.com"


async def issue(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    email: str | None = None,
    ttl: timedelta = timedelta(days=1),
    admin: bool = False,
) -> auth_service.IssuedToken:
    async with sessionmaker.begin() as session:
        return await auth_service.issue_token(
            session, email=email or unique_email(), ttl=ttl, now=utcnow(), admin=admin
        )


async def finish_images(
    sessionmaker: async_sessionmaker[AsyncSession],
    task_id: str,
    *,
    completed: tuple[int, ...] = (0, 1, 2, 3),
) -> None:
    """What the image worker would leave behind: the given images stored, the task selectable."""
    now = utcnow()
    async with sessionmaker.begin() as session:
        for index in completed:
            await session.execute(
                update(GeneratedImage)
                .where(GeneratedImage.request_id == task_id, GeneratedImage.image_index == index)
                .values(
                    status=ImageStatus.COMPLETED,
                    storage_key=f"images/{task_id}/{index}.png",
                    completed_at=now,
                )
            )
        await session.execute(
            update(GenerationRequest)
            .where(GenerationRequest.id == task_id)
            .values(
                status=RequestStatus.IMAGE_COMPLETED,
                phase=RequestPhase.AWAITING_SELECTION,
                updated_at=now,
            )
        )


async def fail_images(sessionmaker: async_sessionmaker[AsyncSession], task_id: str) -> None:
    """What the image worker leaves when every picture failed for good: a retryable task."""
    now = utcnow()
    async with sessionmaker.begin() as session:
        await session.execute(
            update(ImageJob)
            .where(ImageJob.request_id == task_id)
            .values(status=JobStatus.FAILED, failed_at=now, error_message="refused")
        )
        await session.execute(
            update(GeneratedImage)
            .where(GeneratedImage.request_id == task_id)
            .values(status=ImageStatus.FAILED, failed_at=now, error_message="refused")
        )
        await session.execute(
            update(GenerationRequest)
            .where(GenerationRequest.id == task_id)
            .values(status=RequestStatus.IMAGE_FAILED, updated_at=now)
        )
