"""The outbox relay: publishes due, unpublished rows to Redis Streams and marks them published.

Safe with many relays: on MySQL/MariaDB rows are claimed with `FOR UPDATE SKIP LOCKED`, so two
relays take different rows; SQLite serialises writers. Publishing is idempotent per outbox id
(`StreamPublisher`), so a crash between XADD and the commit republishes nothing. Rows are never
selected by "id greater than the last one seen": ids are not commit order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import OutboxEvent
from lumi_common.outbox.signal import OutboxSignal
from lumi_common.settings import RelaySettings
from lumi_common.streams.publish import StreamPublisher
from lumi_common.time import utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RelayConfig:
    key_prefix: str
    batch_size: int = 200
    poll_seconds: float = 0.5
    retention: timedelta = timedelta(hours=24)
    sweep_every_seconds: float = 300.0
    max_backoff_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: RelaySettings, *, key_prefix: str) -> RelayConfig:
        return cls(
            key_prefix=key_prefix,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            retention=timedelta(hours=settings.outbox_retention_hours),
        )


class Relay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: Redis,
        config: RelayConfig,
        signal: OutboxSignal | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.redis = redis
        self.config = config
        self.signal = signal or OutboxSignal()
        self.publisher = StreamPublisher(redis, config.key_prefix)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set. Outages back off and keep every row."""
        log.info("relay.started", batch_size=self.config.batch_size)
        backoff = 0.0
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while not stop.is_set():
            try:
                published = await self.publish_due()
                if loop.time() >= next_sweep:
                    await self.sweep()
                    next_sweep = loop.time() + self.config.sweep_every_seconds
            except (RedisError, OSError, SQLAlchemyError) as exc:
                backoff = min(self.config.max_backoff_seconds, max(0.2, backoff * 2))
                log.warning("relay.publish.failed", error=repr(exc), retry_in_s=backoff)
                await self._pause(stop, backoff)
                continue
            backoff = 0.0
            if published < self.config.batch_size:
                await self._pause(stop, self.config.poll_seconds)
        log.info("relay.stopped")

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        waiter = asyncio.create_task(self.signal.wait(seconds))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()

    async def publish_due(self) -> int:
        """Publish one batch of due rows; the number published."""
        async with self.sessionmaker.begin() as session:
            now = utcnow()
            rows = (
                await session.execute(
                    select(OutboxEvent.id, OutboxEvent.stream, OutboxEvent.payload)
                    .where(OutboxEvent.published_at.is_(None), OutboxEvent.available_at <= now)
                    .order_by(OutboxEvent.available_at, OutboxEvent.id)
                    .limit(self.config.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            async with self.redis.pipeline(transaction=False) as pipe:
                for row in rows:
                    await self.publisher.queue(pipe, row.stream, row.id, row.payload)
                await pipe.execute()
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_([row.id for row in rows]))
                .values(published_at=utcnow())
            )
        log.debug("relay.published", count=len(rows))
        return len(rows)

    async def sweep(self) -> int:
        """Delete rows published longer ago than the retention period."""
        cutoff = utcnow() - self.config.retention
        async with self.sessionmaker.begin() as session:
            ids = (
                await session.scalars(
                    select(OutboxEvent.id)
                    .where(OutboxEvent.published_at < cutoff)
                    .limit(self.config.batch_size * 5)
                )
            ).all()
            if ids:
                await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        if ids:
            log.info("relay.swept", count=len(ids))
        return len(ids)
