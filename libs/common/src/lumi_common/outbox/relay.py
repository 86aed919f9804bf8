"""The outbox relay: publishes due, unpublished rows to Redis Streams and marks them published.

Safe with many relays: on MySQL/MariaDB rows are claimed with `FOR UPDATE SKIP LOCKED`, so two
relays take different rows; SQLite serialises writers. Publishing is idempotent per outbox id
(`StreamPublisher`), so a crash between XADD and the commit republishes nothing. Rows are never
selected by "id greater than the last one seen": ids are not commit order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import structlog
from redis.exceptions import RedisError
from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.auth_retention import prune_auth_rows
from lumi_common.db.tables import OutboxEvent
from lumi_common.metrics.series import RELAY_PUBLISH_LATENCY
from lumi_common.outbox.after_commit import mark_published
from lumi_common.outbox.signal import OutboxSignal
from lumi_common.redis_client import RedisClient
from lumi_common.settings import RelaySettings
from lumi_common.streams.publish import StreamPublisher
from lumi_common.time import utcnow

log = structlog.get_logger(__name__)
_BY_RELAY = RELAY_PUBLISH_LATENCY.labels("relay")

_OUTBOX = cast(Table, OutboxEvent.__table__)
# built once: Core statements with bound parameters (no ORM compile step per cycle)
_DUE = (
    select(
        _OUTBOX.c.id,
        _OUTBOX.c.stream,
        _OUTBOX.c.payload,
        _OUTBOX.c.created_at,
        _OUTBOX.c.available_at,
    )
    .where(
        _OUTBOX.c.published_at.is_(None),
        _OUTBOX.c.available_at <= bindparam("now", type_=_OUTBOX.c.available_at.type),
    )
    .order_by(_OUTBOX.c.available_at, _OUTBOX.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


@dataclass(frozen=True, slots=True)
class RelayConfig:
    key_prefix: str
    batch_size: int = 200
    poll_seconds: float = 0.5
    retention: timedelta = timedelta(hours=24)
    auth_retention: timedelta = timedelta(hours=24)
    sweep_every_seconds: float = 300.0
    max_backoff_seconds: float = 10.0
    # after a cycle that published, the next one starts no sooner than this after it began:
    # under load one cycle carries the commits of many requests; a wake after a quiet cycle
    # (nothing published) still publishes at once
    coalesce_seconds: float = 0.005

    @classmethod
    def from_settings(cls, settings: RelaySettings, *, key_prefix: str) -> RelayConfig:
        return cls(
            key_prefix=key_prefix,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            coalesce_seconds=settings.relay_coalesce_seconds,
            retention=timedelta(hours=settings.outbox_retention_hours),
            auth_retention=timedelta(hours=settings.auth_rows_retention_hours),
        )


class Relay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: RedisClient,
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
            began = loop.time()
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
                if published and (wait := began + self.config.coalesce_seconds - loop.time()) > 0:
                    await asyncio.sleep(wait)
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
            connection = await session.connection()
            due = await connection.execute(_DUE, {"now": utcnow(), "limit": self.config.batch_size})
            rows = due.all()
            if not rows:
                return 0
            by_stream: dict[str, list[tuple[str, bytes | str]]] = {}
            for row in rows:  # in id order, which each stream keeps
                by_stream.setdefault(row.stream, []).append((row.id, row.payload))
            await self.publisher.publish_many(by_stream)
            _observe_latency([max(row.created_at, row.available_at) for row in rows])
            await mark_published(session, [row.id for row in rows])
        log.debug("relay.published", count=len(rows))
        return len(rows)

    async def sweep(self) -> int:
        """Delete rows published longer ago than the retention period, and the login codes and
        tokens that stopped working longer ago than theirs (the database's one housekeeping)."""
        now = utcnow()
        cutoff = now - self.config.retention
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
            pruned = await prune_auth_rows(
                session, before=now - self.config.auth_retention, limit=self.config.batch_size * 5
            )
        if ids or pruned:
            log.info("relay.swept", count=len(ids), auth_rows=pruned)
        return len(ids)


def _observe_latency(due_since: list[datetime]) -> None:
    """Commit → XADD of each event just published; a delayed event counts from when it fell
    due (its wait was asked for)."""
    now = utcnow()
    for since in due_since:
        _BY_RELAY.observe(max(0.0, (now - since).total_seconds()))
