"""Publishing a writer's own events right after its commit, with the relay as the fallback.

The relay reads committed rows back, publishes them and marks them published: three statements
and a transaction per cycle. A writer that has just committed events holds them already, so it
publishes them itself (the same idempotent XADD as the relay's), and the mark rides along with
its next transaction (`take_marks`, `mark_published`) instead of costing one of its own; only
when no write follows at once are they marked alone. Whatever this misses (Redis down, the
process dies between the commit and the publish or before the mark) stays unpublished or
unmarked in the outbox, and the relay publishes it on its next cycle: the marker keys make a
second publish add nothing, so the outbox's promise does not depend on this path at all.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import OutboxEvent
from lumi_common.metrics.series import RELAY_PUBLISH_LATENCY
from lumi_common.outbox.signal import OutboxSignal
from lumi_common.streams.publish import StreamPublisher
from lumi_common.time import utcnow

log = structlog.get_logger(__name__)
_BY_WRITER = RELAY_PUBLISH_LATENCY.labels("writer")

_OUTBOX = cast(Table, OutboxEvent.__table__)
# built once (the relay marks its rows with it too)
MARK_PUBLISHED = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("published_at", type_=_OUTBOX.c.published_at.type))
)


async def mark_published(session: AsyncSession, ids: Collection[str]) -> None:
    """Mark outbox rows published, in the caller's transaction."""
    if ids:
        connection = await session.connection()
        await connection.execute(MARK_PUBLISHED, {"ids": list(ids), "published_at": utcnow()})


class AfterCommit:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: StreamPublisher,
        relay: OutboxSignal,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.publisher = publisher
        self.relay = relay
        self._unmarked: list[str] = []

    def take_marks(self) -> list[str]:
        """The published events not yet marked, for the caller's next transaction to mark
        (`mark_published`); hand them back with `give_back` if that transaction fails."""
        ids, self._unmarked = self._unmarked, []
        return ids

    def give_back(self, ids: list[str]) -> None:
        self._unmarked[:0] = ids

    async def publish(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Publish committed outbox rows (as inserted: `id`, `stream`, `payload`), each stream's
        in the order given, and keep their ids for a later mark (`take_marks`, `mark_pending`).
        Never raises: the rows are committed, so nothing may fail the write now; they stay in
        the outbox and the relay, woken, takes them."""
        by_stream: dict[str, list[tuple[str, bytes | str]]] = {}
        for event in events:
            by_stream.setdefault(event["stream"], []).append((event["id"], event["payload"]))
        if not by_stream:
            return
        committed = time.perf_counter()  # called right after the commit
        try:
            await self.publisher.publish_many(by_stream)
        except Exception as exc:  # noqa: BLE001 - see above: Redis down, a bug, all the same here
            log.warning("outbox.publish_after_commit.failed", error=repr(exc))
            self.relay.wake()
            return
        latency = time.perf_counter() - committed
        for _ in range(sum(map(len, by_stream.values()))):
            _BY_WRITER.observe(latency)
        self._unmarked.extend(event_id for events in by_stream.values() for event_id, _ in events)

    async def mark_pending(self) -> None:
        """Mark what was published and is still unmarked, in a transaction of its own."""
        ids = self.take_marks()
        if not ids:
            return
        try:
            async with self.sessionmaker.begin() as session:
                await mark_published(session, ids)
        except Exception as exc:  # noqa: BLE001 - as for publishing: the relay marks them anyway
            self.give_back(ids)
            log.warning("outbox.mark.failed", error=repr(exc), count=len(ids))
