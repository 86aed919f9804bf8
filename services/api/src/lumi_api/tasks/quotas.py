"""Generation quotas: how many tasks one user may create per day, and have generating at once
(every task costs four images and perhaps a model, real spend with a hosted provider).

Counted in the database, the source of truth, just before a creation is handed to the task
writer. One user's creations are serialised within a process (a lock per user, held from the
count to the commit), so parallel requests cannot all pass one count; across N API processes a
burst can overshoot by at most N - 1. Admins are exempt.

Deleting a task removes its row, not what it cost: each creation is also recorded in a Redis
sorted set per user, and the daily count is the larger of the two. Without Redis the rows alone
count (a lost set forgets only deleted tasks).
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_api.auth.service import CurrentUser
from lumi_api.tasks.settings import QuotaSettings
from lumi_common.db.tables import GenerationRequest
from lumi_common.db.types import UtcDateTime
from lumi_common.errors import AppError
from lumi_common.i18n.http import duration
from lumi_common.ids import new_id
from lumi_common.redis_client import RedisClient
from lumi_common.states import RequestStatus

log = structlog.get_logger(__name__)

DAY = timedelta(days=1)
# tasks with generation work queued or running: what an active quota bounds (a task waiting
# for its owner to choose an image costs nothing)
GENERATING = (
    RequestStatus.IMAGE_PENDING,
    RequestStatus.IMAGE_GENERATING,
    RequestStatus.MODEL_PENDING,
    RequestStatus.MODEL_GENERATING,
)


class QuotaExceeded(AppError):
    status, code, default_message = 429, "QUOTA_EXCEEDED", texts.QUOTA_EXCEEDED


@dataclass(frozen=True, slots=True)
class Usage:
    today: int
    oldest_today: datetime | None
    generating: int


class Quotas:
    def __init__(self, settings: QuotaSettings, *, prefix: str) -> None:
        self.settings = settings
        self.prefix = prefix
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def creating(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: RedisClient,
        user: CurrentUser,
        *,
        now: datetime,
    ) -> AsyncIterator[None]:
        """Hold while creating one task: raises `QuotaExceeded` (429) if it would not fit; the
        creation is recorded when the block ends without an error."""
        if user.is_admin or not self._limited:
            yield
            return
        lock = self._locks.get(user.id)
        if lock is None:
            lock = self._locks[user.id] = asyncio.Lock()
        async with lock:
            async with sessionmaker() as session:
                usage = await usage_of(session, user.id, since=now - DAY)
            created = CreationLog(redis, f"{self.prefix}:quota:created:{user.id}")
            usage = await created.widen(usage, since=now - DAY)
            self._check(usage, now=now)
            yield
            await created.record(now)

    @property
    def _limited(self) -> bool:
        return self.settings.tasks_per_user_per_day > 0 or self.settings.active_tasks_per_user > 0

    def _check(self, usage: Usage, *, now: datetime) -> None:
        daily, active = self.settings.tasks_per_user_per_day, self.settings.active_tasks_per_user
        if daily and usage.today >= daily:
            frees_at = (usage.oldest_today or now) + DAY
            wait = max(1, math.ceil((frees_at - now).total_seconds()))
            raise QuotaExceeded(
                texts.DAILY_EXCEEDED(limit=daily, wait=duration(wait)),
                details={
                    "quota": "TASKS_PER_USER_PER_DAY",
                    "limit": daily,
                    "used": usage.today,
                    "retryAfterSeconds": wait,
                },
                headers={"Retry-After": str(wait)},
            )
        if active and usage.generating >= active:
            raise QuotaExceeded(
                texts.ACTIVE_EXCEEDED(limit=active),
                details={
                    "quota": "ACTIVE_TASKS_PER_USER",
                    "limit": active,
                    "used": usage.generating,
                },
            )


class CreationLog:
    """One user's creations of the last day in Redis (score: creation time in ms)."""

    def __init__(self, redis: RedisClient, key: str) -> None:
        self.redis, self.key = redis, key

    async def widen(self, usage: Usage, *, since: datetime) -> Usage:
        """`usage` with the creations of deleted tasks counted too."""
        floor = _ms(since)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(self.key, "-inf", f"({floor}")
                pipe.zrange(self.key, 0, 0, withscores=True)
                pipe.zcard(self.key)
                _, oldest, count = await pipe.execute()
        except RedisError as exc:
            log.warning("tasks.quota.read_failed", error=repr(exc))
            return usage
        if int(count) <= usage.today:
            return usage
        first = datetime.fromtimestamp(oldest[0][1] / 1000, tz=since.tzinfo) if oldest else None
        return Usage(today=int(count), oldest_today=first, generating=usage.generating)

    async def record(self, now: datetime) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(self.key, {new_id(): _ms(now)})
                pipe.pexpire(self.key, int(DAY.total_seconds() * 1000))
                await pipe.execute()
        except RedisError as exc:  # the row still counts while the task exists
            log.warning("tasks.quota.record_failed", error=repr(exc))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def usage_of(session: AsyncSession, user_id: str, *, since: datetime) -> Usage:
    """Both counts in one query over the user's tasks (the index on (user_id, created_at)
    serves it). CASE rather than FILTER: MariaDB has no aggregate FILTER clause."""
    recent = GenerationRequest.created_at >= since
    generating = GenerationRequest.status.in_(GENERATING)
    today, oldest, active = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((recent, 1), else_=0)), 0),
                func.min(case((recent, GenerationRequest.created_at)), type_=UtcDateTime()),
                func.coalesce(func.sum(case((generating, 1), else_=0)), 0),
            ).where(GenerationRequest.user_id == user_id)
        )
    ).one()
    return Usage(today=int(today), oldest_today=oldest, generating=int(active))


QUOTAS = web.AppKey("quotas", Quotas)
