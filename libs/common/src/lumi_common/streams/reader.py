"""The Redis side of a consumer: its group on one stream, read, reclaimed, acknowledged.

Nothing here knows about jobs. A `Delivery` is what one message brings: its id, its payload and
how often the group has delivered it (a message taken over from a dead consumer has been
delivered before; the job side caps that).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from redis.exceptions import RedisError, ResponseError

from lumi_common.redis_client import RedisClient
from lumi_common.streams.publish import DATA_FIELD

log = structlog.get_logger(__name__)

# how often to look for messages whose consumer died: they become claimable only after a whole
# lease, so looking on every read (a round trip per loop turn) buys nothing
RECLAIM_EVERY_SECONDS = 1.0


# not frozen: one per message, and a frozen one costs more to build (docs/performance.md,
# "Consumer runtime")
@dataclass(slots=True)
class Delivery:
    message_id: str
    data: bytes  # the message (empty when the entry has no data field: poison)
    deliveries: int  # this one included


class StreamReader:
    def __init__(
        self, redis: RedisClient, *, key: str, group: str, consumer: str, lease_seconds: float
    ) -> None:
        self.redis = redis
        self.key = key
        self.group = group
        self.consumer = consumer
        self._idle_ms = int(lease_seconds * 1000)
        self._reclaim_every = min(RECLAIM_EVERY_SECONDS, lease_seconds / 4)
        self._reclaim_cursor = "0-0"
        self._next_reclaim = 0.0
        self._unacked: list[str] = []
        self._acking = False

    async def ensure_group(self) -> None:
        try:
            # from the stream's start: the relay may have published before any worker existed
            await self.redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def reclaim_soon(self) -> None:
        """Look for abandoned messages on the next `take` (a consumer starting)."""
        self._next_reclaim = 0.0

    async def take(self, count: int, *, block_ms: int | None) -> list[Delivery]:
        """Up to `count` messages: abandoned ones when it is time to look, else new ones,
        waiting up to `block_ms` for them (None: not at all)."""
        taken = await self._reclaim(count) if self._reclaim_due() else []
        return taken or await self._read(count, block_ms)

    async def _read(self, count: int, block_ms: int | None) -> list[Delivery]:
        try:
            response: Any = await self.redis.xreadgroup(
                self.group, self.consumer, {self.key: ">"}, count=count, block=block_ms
            )
        except ResponseError as exc:
            await self._lost_group(exc)
            return []
        return [
            Delivery(message_id.decode(), fields.get(DATA_FIELD, b""), 1)
            for _, messages in response or []
            for message_id, fields in messages
        ]

    def _reclaim_due(self) -> bool:
        """Now and then, and on every turn while a scan of the pending list is under way."""
        now = time.monotonic()
        if self._reclaim_cursor == "0-0" and now < self._next_reclaim:
            return False
        self._next_reclaim = now + self._reclaim_every
        return True

    async def _reclaim(self, count: int) -> list[Delivery]:
        """Take over messages whose consumer stopped renewing them (it died)."""
        try:
            reply: list[Any] = await self.redis.xautoclaim(
                self.key,
                self.group,
                self.consumer,
                min_idle_time=self._idle_ms,
                start_id=self._reclaim_cursor,
                count=count,
            )
        except ResponseError as exc:
            await self._lost_group(exc)
            return []
        cursor, claimed, deleted = reply[0], reply[1], reply[2]
        self._reclaim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        if deleted:  # trimmed away while pending: nothing to run
            await self.redis.xack(self.key, self.group, *deleted)
        taken = {mid.decode(): fields.get(DATA_FIELD, b"") for mid, fields in claimed if fields}
        if not taken:
            return []
        counts = await self._delivery_counts(list(taken))
        log.info("consumer.reclaimed", count=len(taken), consumer=self.consumer)
        return [Delivery(mid, data, counts.get(mid, 1)) for mid, data in taken.items()]

    async def _delivery_counts(self, message_ids: list[str]) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                pipe.xpending_range(self.key, self.group, min=message_id, max=message_id, count=1)
            replies = await pipe.execute()
        return {
            item["message_id"].decode(): int(item["times_delivered"])
            for reply in replies
            for item in reply
        }

    async def _lost_group(self, error: ResponseError) -> None:
        if "NOGROUP" not in str(error):
            raise error
        log.warning("consumer.group.recreated", stream=self.key)  # Redis lost its data
        await self.ensure_group()

    async def keep(self, message_ids: Iterable[str]) -> None:
        """Reset the messages' idle time, so no other consumer reclaims what we still run."""
        await self.redis.xclaim(
            self.key, self.group, self.consumer, 0, list(message_ids), justid=True
        )

    async def ack(self, message_id: str) -> None:
        """Acknowledge, coalesced: while one XACK is in flight, the messages settled meanwhile
        wait for the next one, sent by the same task, so a busy consumer acks in batches."""
        self._unacked.append(message_id)
        if self._acking:
            return
        self._acking = True
        try:
            while self._unacked:
                batch, self._unacked = self._unacked, []
                try:
                    await self.redis.xack(self.key, self.group, *batch)
                except RedisError as exc:  # a later delivery finds the outcome and acks then
                    log.warning("consumer.ack.failed", error=repr(exc), count=len(batch))
        finally:
            self._acking = False
