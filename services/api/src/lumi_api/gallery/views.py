"""Views are counted in Redis and added to `models.view_count` in batches: no database write
per view.

A view is one HINCRBY on a hash of pending counts (its reply is the pending count the detail
shows on top of the database's). Every API process runs a flusher that takes the whole hash
atomically (one script: HGETALL then DEL), adds each count with `view_count = view_count + n` in
one transaction, and gives the counts back when that transaction fails. Because the take is
atomic, no view is ever added twice, whatever the number of replicas; the lock only keeps them
from flushing at the same moment. A process killed between the take and the commit loses that
batch (at most one period of views): view counts are not worth a two-phase protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.gallery.repository import GalleryRepository
from lumi_api.keys import REDIS, SESSIONMAKER, SETTINGS
from lumi_common.db.transactions import in_transaction
from lumi_common.errors import CommitOutcomeUnknown
from lumi_common.redis_client import RedisClient
from lumi_common.redis_scripts import BatchedScript

log = structlog.get_logger(__name__)

# longer than any flush takes; if it ever runs out, the atomic take still prevents double counts
FLUSH_LOCK_SECONDS = 60

_TAKE = BatchedScript("""
local counts = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return counts
""")
_RELEASE = BatchedScript("""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
""")


class ViewCounter:
    def __init__(self, redis: RedisClient, *, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:gallery:views"
        self.lock_key = f"{prefix}:gallery:views:lock"

    async def record(self, model_id: str) -> int:
        """Count one view; returns the model's views not yet in the database."""
        return int(await self.redis.hincrby(self.key, model_id, 1))

    async def flush(self, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        """Add the pending views to the database; returns how many (0 if another process is
        flushing)."""
        token = secrets.token_hex(8)
        if not await self.redis.set(self.lock_key, token, nx=True, ex=FLUSH_LOCK_SECONDS):
            return 0
        try:
            counts = await self._take_all()
            if counts:
                await self._write(sessionmaker, counts)
            return sum(counts.values())
        finally:
            await _RELEASE.call(self.redis, [self.lock_key], [token])

    async def _take_all(self) -> dict[str, int]:
        flat = await _TAKE.call(self.redis, [self.key], [])
        return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    async def _write(
        self, sessionmaker: async_sessionmaker[AsyncSession], counts: dict[str, int]
    ) -> None:
        async def work(session: AsyncSession) -> None:
            await GalleryRepository(session).add_views(counts)

        try:
            await in_transaction(sessionmaker, work)
        except (SQLAlchemyError, OSError):
            await self._give_back(counts)
            raise

    async def _give_back(self, counts: dict[str, int]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for model_id, n in counts.items():
                pipe.hincrby(self.key, model_id, n)
            await pipe.execute()


def view_counter(app: web.Application) -> ViewCounter:
    return ViewCounter(app[REDIS], prefix=app[SETTINGS].redis_key_prefix)


async def view_flush_ctx(app: web.Application) -> AsyncIterator[None]:
    """The flusher as a background task of the API process; a last flush on shutdown."""
    stop = asyncio.Event()
    flush = functools.partial(view_counter(app).flush, app[SESSIONMAKER])
    task = asyncio.create_task(_flush_every(flush, app[SETTINGS].view_flush_seconds, stop))
    yield
    stop.set()
    await task


async def _flush_every(
    flush: Callable[[], Awaitable[int]], every: float, stop: asyncio.Event
) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        try:
            flushed = await flush()
        except (RedisError, SQLAlchemyError, OSError, CommitOutcomeUnknown) as exc:
            # an unknown outcome keeps nothing to give back: a view lost, never counted twice
            log.warning("gallery.views.flush_failed", error=repr(exc))
        else:
            if flushed:
                log.info("gallery.views.flushed", views=flushed)
        if stop.is_set():
            return
